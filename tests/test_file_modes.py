"""Files with call data or keys are the operator's alone: made mode 0600, and the folders the bot
makes for them 0700 (the call-record database and its journal files, spooled records,
recordings, the audit log, keys, exported copies, encrypted results). A database or audit log
already there with a looser mode is left as it is, and one warning line names it.

A real phone call with a real CallStore on SQLite, and the CLI commands by subprocess under the
usual umask 022 (the one that made these files 0644 before). `voicebot call` and `voicebot
analyze` with encryption are checked in tests/test_privacy.py and tests/test_privacy_store.py,
where they already run."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from asr.files import UMASK
from tests.conftest import ROOT
from tests.test_phone import bot, no_threads_left, phone_settings  # noqa: F401
from voicebot.config import PrivacyConfig
from voicebot.phone.call import Line, PhoneCall, encode
from voicebot.phone.records import CallStore
from voicebot.privacy.crypto import new_key, open_vault, write_bytes


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "voicebot", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, umask=0o022)


def key_file(tmp_path):
    path = tmp_path / "call-data.key"
    path.write_text(new_key() + "\n")
    return path


def test_the_call_record_database_and_its_journal_files_are_private(tmp_path):
    runs = tmp_path / "runs"  # not there yet: the bot makes it
    db = runs / "db" / "calls.db"
    store = CallStore(f"sqlite:///{db}", spool=runs / "spool")
    assert mode(db) == 0o600 and mode(runs) == 0o700 and mode(runs / "db") == 0o700
    # a rollback journal, while a write is under way (any connection's: SQLite gives it the database's mode)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE scratch (x)")
    assert mode(f"{db}-journal") == 0o600
    other.execute("ROLLBACK")
    other.close()
    # write-ahead logging, as an operator may turn on: the records' own writes make -wal and -shm
    with store.engine.connect() as c:
        c.exec_driver_sql("PRAGMA journal_mode=WAL")
    cid = store.start_call("sip", caller="+15550100")
    assert store.end_call(cid, "caller hung up", [{"text": "my number is 555 0100", "intent": "greet"}])
    assert mode(f"{db}-wal") == 0o600 and mode(f"{db}-shm") == 0o600
    assert store.get_call(cid)["caller"] == "+15550100"
    store.close()


def test_a_record_kept_in_the_spool_is_private(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    store = CallStore(f"sqlite:///{gone}/calls.db", spool=tmp_path / "runs" / "spool")
    cid = store.start_call("test", caller="+15550123")
    (gone / "calls.db").unlink()
    gone.rmdir()  # the database is gone: the record goes to the spool folder
    store.engine.dispose()
    assert store.end_call(cid, "caller hung up") is False
    kept = tmp_path / "runs" / "spool" / f"{cid}.json"
    assert json.loads(kept.read_text())["call"]["caller"] == "+15550123"
    assert mode(kept) == 0o600 and mode(kept.parent) == 0o700 and mode(tmp_path / "runs") == 0o700
    store.set_audio(cid, "/somewhere/x.wav")  # rewritten in the spool: still private
    assert mode(kept) == 0o600


@pytest.mark.parametrize("encrypt", [False, True], ids=["plain", "encrypted"])
def test_a_phone_calls_record_and_recording_are_private(bot, tmp_path, encrypt):  # noqa: F811
    if encrypt:
        bot.config.privacy = PrivacyConfig(encrypt=True, key_file=str(key_file(tmp_path)))
    runs = tmp_path / "runs"
    phone_settings(bot, record_audio=True, audio_dir=str(runs / "audio"), silence_timeout_s=1.5)
    store = CallStore(f"sqlite:///{runs}/calls.db", spool=runs / "spool", vault=open_vault(bot.config.privacy))
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
        assert call.audio_saved.wait(60), "the recording was not stored"
    finally:
        bot.config.privacy = PrivacyConfig()
    assert hung == ["silence timeout"]
    rec = store.get_call(call.id)
    assert rec["caller"] == "+15550199" and rec["audio_path"].endswith(".wav.enc" if encrypt else ".wav")
    assert mode(rec["audio_path"]) == 0o600 and mode(runs / "audio") == 0o700
    assert mode(runs / "calls.db") == 0o600 and mode(runs) == 0o700
    assert no_threads_left()


def test_encrypted_results_are_private_plain_ones_stay_readable(tmp_path):
    vault = open_vault(PrivacyConfig(encrypt=True, key_file=str(key_file(tmp_path))))
    sealed = write_bytes(tmp_path / "out" / "call1" / "transcript.json", b'{"turns": []}\n', vault)
    assert sealed.name == "transcript.json.enc" and mode(sealed) == 0o600
    assert mode(tmp_path / "out") == 0o700 and mode(tmp_path / "out" / "call1") == 0o700
    plain = write_bytes(tmp_path / "results" / "call1" / "transcript.json", b'{"turns": []}\n', None)
    assert mode(plain) == 0o666 & ~UMASK and mode(plain.parent) == 0o777 & ~UMASK  # for people to read


def test_keys_exports_and_the_audit_log_are_private(tmp_path):
    key = tmp_path / "keys" / "call-data.key"
    r = cli("keygen", "--out", key)
    assert r.returncode == 0, r.stderr
    assert mode(key) == 0o600 and mode(key.parent) == 0o700
    vault = open_vault(PrivacyConfig(encrypt=True, key_file=str(key)))
    write_bytes(tmp_path / "out" / "call1" / "transcript.json", b'{"turns": [{"text": "hi"}]}\n', vault)
    audit = tmp_path / "logs" / "audit.log"
    cfg = tmp_path / "enc.yml"
    cfg.write_text(json.dumps({"privacy": {"encrypt": True, "key_file": str(key), "audit_log": str(audit)}}) + "\n")
    r = cli("export", tmp_path / "out", "--out", tmp_path / "plain", "--config", cfg)
    assert r.returncode == 0, r.stderr
    copy = tmp_path / "plain" / "call1" / "transcript.json"
    assert json.loads(copy.read_text())["turns"] == [{"text": "hi"}]
    assert mode(copy) == 0o600 and mode(copy.parent) == 0o700 and mode(tmp_path / "plain") == 0o700
    assert json.loads(audit.read_text())["action"] == "export"
    assert mode(audit) == 0o600 and mode(audit.parent) == 0o700


def test_a_database_and_audit_log_already_there_with_a_looser_mode_are_left_and_named(tmp_path, caplog):
    db, audit = tmp_path / "calls.db", tmp_path / "audit.log"
    store = CallStore(f"sqlite:///{db}", spool=tmp_path / "spool")
    cid = store.start_call("sip", caller="+15550100")
    store.end_call(cid, "caller hung up")
    store.close()
    audit.write_text("")
    os.chmod(db, 0o644)  # the operator's choice, or an older version's file
    os.chmod(audit, 0o640)
    cfg = tmp_path / "c.yml"
    cfg.write_text(json.dumps({"privacy": {"audit_log": str(audit)}}) + "\n")
    r = cli("calls", "show", cid, "--db", f"sqlite:///{db}", "--config", cfg, "--operator", "ann")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["caller"] == "+15550100" and json.loads(audit.read_text())["who"] == "ann"
    assert mode(db) == 0o644 and mode(audit) == 0o640  # left as they are
    lines = r.stderr.strip().splitlines()
    assert len([x for x in lines if "calls.db" in x]) == 1 and len([x for x in lines if "audit.log" in x]) == 1, lines
    assert "0644" in " ".join(lines) and "0640" in " ".join(lines), lines
    # in one process: one line per file, however often it is opened
    for _ in range(3):
        CallStore(f"sqlite:///{db}", spool=tmp_path / "spool").close()
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "calls.db" in r.getMessage()]
    assert len(said) == 1 and "0644" in said[0], said
