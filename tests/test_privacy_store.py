"""Stored call data under privacy: a phone call whose caller reads a card number aloud (flite
voices on a telephone line, in real time), its record sealed in a real SQLite file and read back
by `voicebot calls`, its recording silenced where the card number and an email were said and
stored encrypted, then heard back with the project's Whisper; and an archive call analysed with
the results redacted and encrypted."""
from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from asr.audio import resample
from tests.conftest import ROOT
from tests.hearing import heard
from tests.test_phone import FarEnd, bot, line_audio, no_threads_left, phone_settings, replies, talk  # noqa: F401
from voicebot.config import PrivacyConfig
from voicebot.phone.call import PhoneCall
from voicebot.phone.records import CallStore
from voicebot.privacy.crypto import CryptoError, Vault, new_key, open_vault, parse_key, read_bytes

CARD = "My card number is four five three nine one four eight eight zero three four three six four six seven."
CARD_DIGITS = ("4539", "1488", "0343", "6467")


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "voicebot", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=600)


def keyed(tmp_path, name="call-data.key"):
    key = tmp_path / name
    key.write_text(new_key() + "\n")
    return key


def config_file(tmp_path, name, key, **more):
    privacy = {"encrypt": True, "key_file": str(key), "audit_log": str(tmp_path / "audit.log"), **more}
    path = tmp_path / name
    path.write_text(json.dumps({"nlu": {"model": "baseline"}, "privacy": privacy}) + "\n")  # JSON is YAML
    return path


def heard_channel(bot, channel):
    return heard(bot.recognizer, resample(channel.astype(np.float32), 8000, 16000))


def squeezed(text):
    return text.replace(" ", "").replace(",", "").replace("-", "")


@pytest.mark.slow
def test_a_card_number_read_on_the_phone_is_kept_from_the_record_and_the_recording(bot, tmp_path):  # noqa: F811
    key = keyed(tmp_path)
    bot.config.privacy = PrivacyConfig(encrypt=True, key_file=str(key), audit_log=str(tmp_path / "audit.log"))
    phone_settings(bot, record_audio=True, audio_dir=str(tmp_path / "audio"), silence_timeout_s=30)
    db = tmp_path / "calls.db"
    store = CallStore(f"sqlite:///{db}", spool=tmp_path / "spool")  # as a transport makes it: no key of its own
    far, events = FarEnd(), []
    call = PhoneCall(bot, far, "pcmu", transport="test", caller="+15550100", store=store, greet=False,
                     on_event=events.append)
    far.call = call
    n = lambda: len([r for r in replies(events) if r.text])  # noqa: E731

    def answered():
        """A reply since now, every turn answered and played, and the bot quiet for 1.5 s: a number
        said with pauses may make two turns, and the second one's reply comes after the first's."""
        before, quiet = n(), [None]

        def check():
            done = all("_reply" in t for t in list(call.session.turns))
            if n() > before and done and call.session.now_playing() is None and not far.unplayed():
                quiet[0] = quiet[0] or time.monotonic()
                return time.monotonic() - quiet[0] > 1.5
            quiet[0] = None
            return False
        return check
    try:
        talk(call, far, line_audio(CARD, "flite:slt", "pcmu"), answered())
        talk(call, far, line_audio("What's your email address?", "flite:rms", "pcmu"), answered())
        talk(call, far, line_audio("That's all, goodbye.", "flite:slt", "pcmu"), lambda: call.wait(0))
        ended = call.wait(10)
    finally:  # whatever happened, the call ends here (its threads would hold up the next tests)
        call.close("test over")
        saved = call.audio_saved.wait(180)
        bot.config.privacy = PrivacyConfig()
    said = [r.text for r in replies(events)]
    heard_live = [t["text"] for t in call.session.turns]  # the session keeps the words: the dialogue needs them
    assert ended, ("the bot did not hang up after its goodbye", said, heard_live)
    assert saved, "the recording was not stored"
    assert no_threads_left()
    # the caller's pauses may split the number over two turns; the bot's ASR heard it either way
    assert len(re.findall(r"\d", " ".join(heard_live))) >= 8, heard_live
    assert any("help at brightline home dot com" in r.lower() for r in said), said  # the bot read an email out
    assert call.session.turns[-1]["intent"] == "goodbye", heard_live

    # the record: sealed in the database file, whole with the key
    n_turns = len(call.session.turns)
    raw = db.read_bytes().replace(str(tmp_path).encode(), b"")  # the recording's path names this test
    for secret in [b"15550100", b"[CARD]", b"card", b"brightline"] + [d.encode() for d in CARD_DIGITS]:
        assert secret not in raw, secret
    with sqlite3.connect(db) as c:  # what reports need stays plain SQL
        assert [i for (i,) in c.execute("select intent from turns order by idx")][-1] == "goodbye"
        assert c.execute("select count(*) from turns where text like 'enc:%'").fetchone() == (n_turns,)
        assert c.execute("select end_reason from calls").fetchone() == ("the dialogue ended the call",)
    with pytest.raises(CryptoError, match="encrypted; give the key"):
        store.get_call(call.id)
    with pytest.raises(CryptoError, match="not among the keys given"):
        CallStore(f"sqlite:///{db}", vault=Vault([parse_key(new_key(), "other")])).get_call(call.id)
    rec = CallStore(f"sqlite:///{db}", vault=open_vault(PrivacyConfig(encrypt=True, key_file=str(key)))).get_call(call.id)
    assert rec["caller"] == "+15550100" and len(rec["turns"]) == n_turns
    # identical after decryption: what the call's (redacted) transcript says
    assert [(t["text"], t["reply"]) for t in rec["turns"]] == \
        [(t["text"], t["reply"]) for t in call.session.transcript()["turns"]]
    texts = " ".join(t["text"] for t in rec["turns"])
    # the tag's kind follows what Whisper heard (16-17 digits: [CARD]; a part of it: [PHONE] or
    # [ACCOUNT]); what counts is that no run of its digits is left
    assert re.search(r"\[(CARD|PHONE|ACCOUNT)\]", texts), (texts, heard_live)
    assert not re.search(r"\d[\s.,-]*\d[\s.,-]*\d", texts) and not any(d in squeezed(texts) for d in CARD_DIGITS), \
        (texts, heard_live)
    read_out = [t["reply"] for t in rec["turns"] if "[EMAIL]" in t["reply"]]
    assert read_out and not any("dot com" in r.lower() for r in read_out), [t["reply"] for t in rec["turns"]]

    # voicebot calls: decrypted with the config's key, the read audited; no key or another key: one line
    cfg = config_file(tmp_path, "enc.yml", key)
    r = cli("calls", "show", call.id[:10], "--db", f"sqlite:///{db}", "--config", cfg, "--operator", "alice")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["caller"] == "+15550100" and shown["turns"] == json.loads(json.dumps(rec["turns"]))  # identical
    r = cli("calls", "list", "--db", f"sqlite:///{db}", "--config", cfg, "--json", env={"VOICEBOT_OPERATOR": "bob"})
    assert r.returncode == 0 and json.loads(r.stdout)[0]["caller"] == "+15550100", r.stderr
    audit = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    assert [(a["who"], a["action"]) for a in audit] == [("alice", "calls show"), ("bob", "calls list")]
    assert audit[0]["call"] == call.id and audit[1]["calls"] == [call.id]
    for bad, why in [(config_file(tmp_path, "gone.yml", tmp_path / "gone.key"), "gone.key: no such key file"),
                     (config_file(tmp_path, "other.yml", keyed(tmp_path, "other.key")), "not among the keys given")]:
        r = cli("calls", "show", call.id, "--db", f"sqlite:///{db}", "--config", bad)
        assert r.returncode == 2 and not r.stdout and why in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert len((tmp_path / "audit.log").read_text().splitlines()) == 2  # a failed read is no read

    # the recording: encrypted on disk; decrypted, the card number and the email are silence
    path = rec["audio_path"]
    assert path.endswith(".wav.enc") and os.path.exists(path), path
    assert not [p for p in (tmp_path / "audio").iterdir() if not p.name.endswith(".enc")]
    assert b"RIFF" not in open(path, "rb").read()
    audio, rate = sf.read(io.BytesIO(read_bytes(path, rec_vault(key))), dtype="float32")
    assert rate == 8000 and audio.shape[1] == 2
    caller, bot_side = heard_channel(bot, audio[:, 0]), heard_channel(bot, audio[:, 1])
    assert not any(d in squeezed(caller) for d in CARD_DIGITS) and "four five" not in caller, caller
    assert "email" in caller and "bye" in caller, caller  # the rest of what the caller said is there
    assert "dot com" not in bot_side and ".com" not in bot_side and "help at" not in bot_side, bot_side
    # the bot's words around the silenced email are there, to its last: "Goodbye!" (read in one
    # go, Whisper dropped it: tests/hearing.py)
    assert "chat" in bot_side and "bye" in bot_side, bot_side


def rec_vault(key):
    return open_vault(PrivacyConfig(encrypt=True, key_file=str(key)))


@pytest.mark.slow
def test_archive_results_are_redacted_and_encrypted_and_resume(tmp_path):
    from voicebot.bench.archive_calls import ArchiveCall, write
    call = ArchiveCall("card_payment", [
        ("agent", "Brightline Home, how can I help?"),
        ("customer", "I want to pay with my card. The order number is four five six seven."),
        ("agent", "Sure, what is the card number?"),
        ("customer", CARD),
        ("agent", "Thank you. And your email address?"),
        ("customer", "My email is ann dot lee at gmail dot com."),
        ("agent", "Thank you, goodbye.")], "billing_problem", "consultation")
    write(call, tmp_path / "archive")
    key = keyed(tmp_path)
    out, db = tmp_path / "out", tmp_path / "calls.db"
    args = ["analyze", tmp_path / "archive", "--out", out, "--channels", "agent=0,customer=1", "--workers", "1",
            "--no-report", "-q", "--db", f"sqlite:///{db}"]
    r = cli(*args, "--config", config_file(tmp_path, "gone.yml", tmp_path / "gone.key"))
    assert r.returncode == 2 and "gone.key: no such key file" in r.stderr and not out.exists(), r.stderr
    cfg = config_file(tmp_path, "enc.yml", key)
    r = cli(*args, "--config", cfg)
    assert r.returncode == 0, r.stderr
    assert "no Parquet" in r.stderr
    assert sorted(p.name for p in (out / "calls").iterdir()) == ["card_payment.json.enc"]
    assert sorted(p.name for p in out.iterdir()) == ["calls", "calls.csv.enc", "utterances.csv.enc"]
    for p in [out, *out.rglob("*"), db]:  # the operator's alone: files 0600, the folders made for them 0700
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
    for f in [*out.rglob("*.enc"), db]:
        raw = f.read_bytes()
        for secret in [b"gmail", b"[CARD]", b"4539", b"6467", b"customer"]:
            assert secret not in raw or f == db and secret == b"customer", (f, secret)
    with sqlite3.connect(db) as c:  # the analytics stay plain SQL
        assert c.execute("select category, main_reason from archive_calls").fetchone()[0] in ("consultation", "complaint")
        sealed = dict(c.execute("select text like 'enc:%', count(*) from archive_utterances group by 1").fetchall())
        assert sealed.get(1, 0) >= 6 and 0 not in sealed, sealed  # every utterance, both speakers
        asked = c.execute("select count(*) from archive_utterances where intent is not null").fetchone()[0]
        assert c.execute("select count(*) from turns t join calls c on c.id = t.call_id where c.transport = 'archive'"
                         " and t.text like 'enc:%' and t.intent is not null").fetchone() == (asked,)

    r = cli("export", out, "--out", tmp_path / "plain", "--config", cfg)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "plain" / "calls" / "card_payment.json").read_text())
    said = " ".join(u["text"] for u in doc["utterances"] if u["speaker"] == "customer")
    assert "[CARD]" in said and "[EMAIL]" in said, said
    everything = json.dumps(doc).lower()
    assert not any(d in squeezed(everything) for d in CARD_DIGITS) and "gmail" not in everything, everything
    assert doc["order_numbers"] == ["4567"]  # what the analytics need stays
    assert "[CARD]" in (tmp_path / "plain" / "utterances.csv").read_text()

    r = cli("archive-report", out, "--config", config_file(tmp_path, "gone.yml", tmp_path / "gone.key"))
    assert r.returncode == 2 and "card_payment.json.enc: encrypted; give the key" in r.stderr, r.stderr
    r = cli("archive-report", out, "--config", cfg)  # from the encrypted results: the report holds tags only
    assert r.returncode == 0, r.stderr
    page = (out / "report.html").read_text().lower()
    assert "card_payment" in page and "gmail" not in page and "4539" not in page

    before = (out / "calls" / "card_payment.json.enc").stat().st_mtime_ns
    r = cli(*args, "--config", cfg)  # resumed from the encrypted result: nothing analysed again
    assert r.returncode == 0 and "1 call(s) already done" in r.stderr, r.stderr
    assert (out / "calls" / "card_payment.json.enc").stat().st_mtime_ns == before


def test_an_email_half_written_is_redacted_a_shop_is_not():
    """Whisper writes a spoken address as "help at brightlinehome.com" (the bot's own, read out
    on the phone); a shop's website after "at" is no mailbox."""
    from nlu.redact import redact
    assert redact("You can write to help at brightlinehome.com or chat with us.") == "You can write to [EMAIL] or chat with us."
    assert redact("I bought it at amazon.com last week.") == "I bought it at amazon.com last week."


def test_records_and_archive_rows_rotate_to_a_new_key(tmp_path):
    from voicebot.archive.db import ArchiveDB
    from voicebot.privacy.crypto import unseal
    old, new = keyed(tmp_path, "old.key"), keyed(tmp_path, "new.key")
    url = f"sqlite:///{tmp_path}/calls.db"
    store = CallStore(url, spool=tmp_path / "spool", vault=rec_vault(old))
    cid = store.start_call("sip", caller="sip:ann@example.com", meta={"user_agent": "baresip"})
    store.end_call(cid, "caller hung up", [{"text": "My email is [EMAIL].", "intent": "update_account",
                                            "entities": [{"type": "email", "value": "[EMAIL]"}], "reply": "Done.",
                                            "reply_cut": {"heard_s": 0.4, "heard_text": "Do"}}])
    utterances = [{"speaker": "agent", "start": 0.5, "end": 1.5, "text": "How can I help?"},
                  {"speaker": "customer", "start": 2.0, "end": 4.0, "text": "My card is [CARD].", "intent": "payment_methods",
                   "confidence": 0.9, "sentiment": "neutral", "entities": []}]
    doc = {"call": "C-9", "file": "/archive/c9.wav", "sha256": "0" * 64, "date": "2026-11-20", "meta": {"agent": "ana"},
           "duration_s": 5.0, "tracks": "stereo: agent and customer by channel", "main_reason": "payment_methods",
           "category": "consultation", "products": [], "order_numbers": [], "companies": [], "sentiment_start": "neutral",
           "sentiment_end": "neutral", "sentiment_mean": 0.0, "talk_s": {"agent": 1.0, "customer": 2.0}, "silence_s": 2.0,
           "overlap_s": 0.0, "escalation_words": [], "summary": "My card is [CARD].", "processing_s": 1.0,
           "utterances": utterances}
    archive = ArchiveDB(url, rec_vault(old))
    archive.save(doc)
    archive.close()
    before = store.get_call(cid)

    # an old key that is not the one the data was sealed with: nothing changes
    wrong = config_file(tmp_path, "wrong.yml", new, old_key_file=str(keyed(tmp_path, "third.key")))
    r = cli("calls", "rotate-key", "--db", url, "--config", wrong)
    assert r.returncode == 2 and "not among the keys given" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert CallStore(url, vault=rec_vault(old)).get_call(cid) == before

    rot = config_file(tmp_path, "rot.yml", new, old_key_file=str(old))
    r = cli("calls", "rotate-key", "--db", url, "--config", rot)
    assert r.returncode == 0 and "7 row(s) re-encrypted" in r.stdout, r.stdout + r.stderr  # 2 calls, 2 turns, 1 + 2 archive rows
    r = cli("calls", "rotate-key", "--db", url, "--config", rot)
    assert r.returncode == 0 and "0 row(s) re-encrypted" in r.stdout  # done: a rerun finds nothing to do
    assert CallStore(url, vault=rec_vault(new)).get_call(cid) == before  # the new key alone reads it, unchanged
    with pytest.raises(CryptoError, match="not among the keys given"):
        CallStore(url, vault=rec_vault(old)).get_call(cid)
    with sqlite3.connect(tmp_path / "calls.db") as c:
        (text,) = c.execute("select text from archive_utterances where speaker = 'customer'").fetchone()
    assert unseal(text, rec_vault(new), "archive C-9 utterance 1/text") == "My card is [CARD]."


def test_a_phone_call_with_encryption_on_and_no_key_keeps_no_text(bot, tmp_path, caplog):  # noqa: F811
    """The call is answered (a caller is never turned away for a key file), but nothing of what
    could be personal is stored: the record keeps its times and no text, no recording is made."""
    from voicebot.phone.call import Line, encode
    bot.config.privacy = PrivacyConfig(encrypt=True, key_file=str(tmp_path / "missing.key"))
    phone_settings(bot, record_audio=True, audio_dir=str(tmp_path / "audio"), silence_timeout_s=1.5)
    store = CallStore(f"sqlite:///{tmp_path}/calls.db", spool=tmp_path / "spool")
    hung = []

    class Quiet(Line):
        def hangup(self, reason):
            hung.append(reason)
    try:
        call = PhoneCall(bot, Quiet(), "pcmu", transport="sip", caller="+15550199", store=store, greet=False)
        silence, deadline = encode(np.zeros(160, np.float32), "pcmu"), time.monotonic() + 20
        while not call.wait(0) and time.monotonic() < deadline:
            call.push(silence)
            time.sleep(0.02)
        call.close()
    finally:
        bot.config.privacy = PrivacyConfig()
    assert hung == ["silence timeout"] and call.audio_saved.is_set()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "missing.key: no such key file" in errors[0], errors
    rec = store.get_call(call.id)
    assert rec["end_reason"] == "silence timeout" and rec["caller"] is None and rec["meta"] is None
    assert rec["audio_path"] is None and not (tmp_path / "audio").exists()
    assert no_threads_left()
