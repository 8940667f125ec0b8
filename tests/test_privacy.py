"""Call data at rest: encrypted with the operator's key, exported (audited), rotated, expired."""
import json
import os
import stat
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLES
from voicebot.config import PrivacyConfig
from voicebot.privacy.crypto import CryptoError, Vault, new_key, open_vault, parse_key, read_bytes, write_bytes


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "voicebot.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env={**os.environ, **(env or {})}, timeout=600)


def assert_private(*paths):
    """Each path, and all under it, mode 0600 (folders 0700): no one but its owner may read it."""
    for path in paths:
        for p in [path, *(path.rglob("*") if path.is_dir() else [])]:
            assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p


def test_encrypted_files_open_only_with_their_key(tmp_path):
    k1, k2 = parse_key(new_key(), "k1"), parse_key(new_key(), "k2")
    data = b'{"text": "my card is 4111"}' * 10
    path = write_bytes(tmp_path / "transcript.json", data, Vault([k1]))
    assert path.name == "transcript.json.enc" and not (tmp_path / "transcript.json").exists()
    assert b"4111" not in path.read_bytes() and b"card" not in path.read_bytes()
    assert read_bytes(path, Vault([k1])) == data  # identical after decryption
    with pytest.raises(CryptoError, match="not among the keys given"):
        read_bytes(path, Vault([k2]))
    with pytest.raises(CryptoError, match="give the key"):
        read_bytes(path, None)
    moved = tmp_path / "other.json.enc"
    moved.write_bytes(path.read_bytes())
    with pytest.raises(CryptoError, match="renamed from another file"):
        read_bytes(moved, Vault([k1]))
    assert read_bytes(path, Vault([k2, k1])) == data  # an old key still reads during a rotation


def test_encryption_on_without_a_key_is_an_error_not_plain_text(tmp_path, monkeypatch):
    monkeypatch.delenv("VOICEBOT_KEY", raising=False)
    with pytest.raises(CryptoError, match="no key"):
        open_vault(PrivacyConfig(encrypt=True))
    (tmp_path / "bad.key").write_text("not a key\n")
    with pytest.raises(CryptoError, match="bad.key: not a voicebot key"):
        open_vault(PrivacyConfig(encrypt=True, key_file=str(tmp_path / "bad.key")))
    assert open_vault(PrivacyConfig()) is None


@pytest.mark.slow
def test_a_call_stored_encrypted_exported_rotated_and_expired(tmp_path):
    assert cli("keygen", "--out", tmp_path / "old.key").returncode == 0
    assert cli("keygen", "--out", tmp_path / "old.key").returncode == 2  # never overwritten
    (tmp_path / "enc.yml").write_text(f"nlu: {{model: baseline}}\nprivacy: {{encrypt: true, key_file: {tmp_path / 'old.key'}, "
                                      f"audit_log: {tmp_path / 'audit.log'}}}\n")
    # the key missing: one line, nothing written
    (tmp_path / "nokey.yml").write_text(f"privacy: {{encrypt: true, key_file: {tmp_path / 'missing.key'}}}\n")
    r = cli("call", SAMPLES / "order_status.wav", "--out", tmp_path / "none", "--config", tmp_path / "nokey.yml")
    assert r.returncode == 2 and "missing.key: no such key file" in r.stderr and not (tmp_path / "none").exists()

    r = cli("call", SAMPLES / "order_status.wav", "--out", tmp_path / "out", "--config", tmp_path / "enc.yml")
    assert r.returncode == 0, r.stderr
    stored = sorted(p.name for p in (tmp_path / "out" / "order_status").iterdir())
    assert "transcript.json.enc" in stored and all(n.endswith(".enc") for n in stored), stored
    for p in (tmp_path / "out" / "order_status").iterdir():
        assert b"order" not in p.read_bytes().lower() and b"RIFF" not in p.read_bytes()
    assert_private(tmp_path / "out", tmp_path / "old.key")  # the summary too: the operator's alone

    r = cli("export", tmp_path / "out", "--out", tmp_path / "plain", "--config", tmp_path / "enc.yml")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "plain" / "order_status" / "transcript.json").read_text())
    assert [t["intent"] for t in doc["turns"]][:1] == ["order_status"]
    import soundfile as sf
    reply = tmp_path / "plain" / "order_status" / doc["turns"][0]["reply_audio"].removesuffix(".enc")
    assert sf.info(reply).duration > 1.0
    audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert {a["action"] for a in audit} == {"export"} and any("transcript.json.enc" in a["path"] for a in audit)
    assert_private(tmp_path / "plain", tmp_path / "audit.log")

    # rotation: the new key writes, the old one reads until every file is done
    assert cli("keygen", "--out", tmp_path / "new.key").returncode == 0
    (tmp_path / "rot.yml").write_text(f"privacy: {{encrypt: true, key_file: {tmp_path / 'new.key'}, "
                                      f"old_key_file: {tmp_path / 'old.key'}, audit_log: {tmp_path / 'audit.log'}}}\n")
    r = cli("rotate-key", tmp_path / "out", "--config", tmp_path / "rot.yml")
    assert r.returncode == 0 and f"{len(stored)} file(s) re-encrypted" in r.stdout, r.stdout + r.stderr
    (tmp_path / "new.yml").write_text(f"privacy: {{encrypt: true, key_file: {tmp_path / 'new.key'}, audit_log: {tmp_path / 'audit.log'}}}\n")
    r = cli("export", tmp_path / "out", "--out", tmp_path / "plain2", "--config", tmp_path / "new.yml")
    assert r.returncode == 0, r.stderr  # the new key alone now reads everything
    assert json.loads((tmp_path / "plain2" / "order_status" / "transcript.json").read_text())["turns"] == doc["turns"]
    r = cli("export", tmp_path / "out", "--out", tmp_path / "plain3", "--config", tmp_path / "enc.yml")
    assert r.returncode == 1 and "not among the keys given" in r.stderr  # the old key alone no longer does

    # retention: a dry run deletes nothing; then the old call goes
    old = tmp_path / "out" / "order_status" / "transcript.json.enc"
    os.utime(old, (old.stat().st_atime - 40 * 86400, old.stat().st_mtime - 40 * 86400))
    r = cli("retention", tmp_path / "out", "--days", 30, "--dry-run")
    assert "would delete" in r.stdout and old.exists()
    r = cli("retention", tmp_path / "out", "--days", 30)
    assert r.returncode == 0 and not (tmp_path / "out" / "order_status").exists()


@pytest.mark.slow
def test_a_card_number_read_aloud_is_silenced_in_the_recording(tmp_path):
    """Callers in flite voices (not the bot's), telephone band: the copy keeps the words around
    the card number and the email, and Whisper hears neither in it any more."""
    import numpy as np
    import soundfile as sf

    from asr import load_recognizer
    from voicebot.bench.callers import speak, telephone_band
    gap = np.zeros(12000, np.float32)
    audio = telephone_band(np.concatenate([
        gap, speak("I want to pay for my order, please.", "flite:rms"), gap,
        speak("My card number is four five three nine, one four eight eight, zero three four three, six four six seven.", "flite:awb"),
        gap, speak("And my email is ann dot lee at gmail dot com. Thank you.", "flite:slt"), gap]))
    sf.write(tmp_path / "call.wav", audio, 16000)
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    r = cli("redact-audio", tmp_path / "call.wav", tmp_path / "junk.wav", "--out", tmp_path / "out")
    assert r.returncode == 1 and "junk.wav" in r.stderr  # the bad file is named; the good one is done
    spans = json.loads((tmp_path / "out" / "redactions.json").read_text())["call.wav"]
    assert {"card", "email"} <= {s["kind"] for s in spans}, spans
    clean, _ = sf.read(tmp_path / "out" / "call.wav", dtype="float32")
    heard = load_recognizer("faster-whisper", "base").transcribe(clean).text.lower()
    for word in ("4539", "1488", "6467", "gmail", "lee"):
        assert word not in heard.replace(" ", ""), heard
    for word in ("pay", "order", "card", "thank"):
        assert word in heard, heard


def test_retention_takes_old_phone_call_records_and_their_recordings(tmp_path):
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import update

    from voicebot.phone.records import CallStore, calls
    db = f"sqlite:///{tmp_path}/calls.db"
    store = CallStore(db, spool=tmp_path / "spool")
    ids = [store.start_call("sip", caller=f"sip:{n}@example.com") for n in range(2)]
    for cid in ids:
        assert store.end_call(cid, "the caller hung up", [{"text": "hi", "intent": "greet"}])
    wav = tmp_path / "calls" / f"{ids[0]}.wav.enc"
    wav.parent.mkdir()
    wav.write_bytes(b"VBENC1\nrecording")
    with store.engine.begin() as conn:  # the first call was 40 days ago
        conn.execute(update(calls).where(calls.c.id == ids[0]).values(
            started=datetime.now(timezone.utc) - timedelta(days=40), audio_path=str(wav)[:-4]))
    store.close()
    (tmp_path / "c.yml").write_text(f"phone: {{db_url: '{db}'}}\n")
    r = cli("retention", "--records", "--days", 30, "--config", tmp_path / "c.yml", "--dry-run")
    assert r.returncode == 0 and f"would delete call record {ids[0]}" in r.stdout and "1 recording" in r.stdout
    assert wav.exists() and len(CallStore(db).list_calls()) == 2
    r = cli("retention", "--records", "--days", 30, "--config", tmp_path / "c.yml")
    assert r.returncode == 0 and "1 call record(s) older than 30 days" in r.stdout, r.stdout + r.stderr
    left = CallStore(db)
    assert not wav.exists() and [c["id"] for c in left.list_calls()] == [ids[1]] and left.get_call(ids[0]) is None


def test_a_live_call_with_encryption_and_no_key_stops_before_it_starts(tmp_path):
    (tmp_path / "nokey.yml").write_text(f"privacy: {{encrypt: true, key_file: {tmp_path / 'missing.key'}}}\n")
    r = cli("talk", "--out", tmp_path / "t", "--config", tmp_path / "nokey.yml")
    assert r.returncode == 2 and "missing.key: no such key file" in r.stderr and not (tmp_path / "t").exists()
