"""Call records: one row per phone call and one per caller turn, in any SQLAlchemy database.

    store = CallStore("sqlite:///runs/calls.db")      # the default (config `phone.db_url`)
    cid = store.start_call(transport="media-stream", caller="+15550100", meta={...})
    store.add_turn(cid, turn)                         # a LiveSession turn dict, as it is known
    store.end_call(cid, "caller hung up", turns=all_turns, handover="sip:desk@example.com")
    store.list_calls(20); store.get_call(cid)         # newest first; one call with its turns

PostgreSQL: `postgresql://user@host/db` (psycopg 3, `pip install 'voicebot[postgres]'`); a
missing driver is named in one line (MissingDriver) instead of "No module named 'psycopg'".

A database that is locked, gone or refusing writes never ends a call nor loses its record:
every call's record is also kept in memory while the call lasts. A failed write logs one line
and marks the call dirty; `end_call` then writes the whole call again (row and all turns, one
transaction). If that fails too, the record goes to `<spool>/<id>.json` (one log line naming
the file), and the next successful `end_call` (or `retry_spooled()`) moves such files into the
database. SQLite waits at most `busy_s` for a lock, so a call is never held up long.
A SQLite file and the spooled records are made mode 0600, the folders made for them 0700; a
database already there with a looser mode is left as it is, and one warning line says so.

Encrypted records (privacy.encrypt; `CallStore(url, vault=open_vault(privacy))`, or a vault per
call: `start_call(..., vault=...)`): the columns that hold what people said or who they are
(CALL_SECRET, TURN_SECRET, a cut reply's heard_text) are stored sealed (`enc:` + base64 of
AES-GCM, bound to the call id, turn and column: voicebot.privacy.crypto.seal), in memory, in the
database and in the spool alike; ids, times, intents, sentiment and latencies stay plain SQL.
`vault=False` (encryption wanted, no key to be had) keeps those columns empty instead.
Reading a sealed record needs the key: CryptoError otherwise, never a half-read record.
"""
from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import NamedTuple

from asr.files import atomic_write_text, create_private, make_dirs, warn_if_shared
from voicebot.privacy.crypto import reseal, seal, unseal

log = logging.getLogger("voicebot.phone.records")
DEFAULT_URL = "sqlite:///runs/calls.db"


class Schema(NamedTuple):
    metadata: object
    calls: object
    turns: object


@cache
def schema() -> Schema:
    """The tables. SQLAlchemy is imported here, on first use: it takes ~0.35 s, and every
    `voicebot` command imports this module (the CLI's verbs), most without opening a database."""
    from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Integer, MetaData, String, Table, Text
    metadata = MetaData()
    calls = Table(
        "calls", metadata,
        Column("id", String(32), primary_key=True),  # made here, so a call has its id with the database down
        Column("transport", String(20), nullable=False),  # media-stream | sip | ...
        Column("caller", Text),  # Text: sealed, a caller's URI is twice its length
        Column("callee", Text),
        Column("external_id", String(100)),  # the transport's own id (Twilio callSid, SIP Call-ID)
        Column("started", DateTime(timezone=True), nullable=False),
        Column("ended", DateTime(timezone=True)),
        Column("end_reason", String(200)),
        Column("handover", String(200)),  # the URI the call was handed to
        Column("audio_path", String(500)),  # stereo WAV: caller left, bot right (phone.record_audio)
        Column("codec", String(10)),
        Column("turns", Integer, default=0),
        Column("dropped_frames", Integer, default=0),
        Column("late_frames", Integer, default=0),
        Column("meta", JSON),
    )
    turns = Table(
        "turns", metadata,
        Column("call_id", String(32), ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
        Column("idx", Integer, primary_key=True),
        Column("start_s", Float), Column("end_s", Float),  # seconds of call audio
        Column("text", Text), Column("intent", String(50)), Column("confidence", Float),
        Column("sentiment", String(20)), Column("entities", JSON),
        Column("reply", Text), Column("reply_cut", JSON), Column("answer_source", String(50)),
        Column("endpoint_ms", Float), Column("asr_ms", Float), Column("nlu_ms", Float),
        Column("dialogue_ms", Float), Column("tts_first_audio_ms", Float),
        Column("reply_ms", Float),  # the caller's last word to the first reply audio out
    )
    return Schema(metadata, calls, turns)


def __getattr__(name: str):
    """`records.metadata`, `records.calls` and `records.turns`, made on first use."""
    if name in Schema._fields:
        return getattr(schema(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LATENCY = {"endpoint_ms": "endpoint", "asr_ms": "asr", "nlu_ms": "nlu", "dialogue_ms": "dialogue",
           "tts_first_audio_ms": "tts_first_audio", "reply_ms": "reply"}
CALL_SECRET = ("caller", "callee", "meta")  # sealed when the record is encrypted
TURN_SECRET = ("text", "entities", "reply")
DRIVERS = {"psycopg": "postgres", "psycopg2": "postgres", "pymysql": "mysql", "MySQLdb": "mysql"}


class MissingDriver(ValueError):  # a setting that cannot work here: the CLI prints it as one line
    pass


def private_file(db: Path) -> None:
    """A SQLite file made empty (a valid database) with mode 0600 before SQLite opens it, its
    folders 0700: SQLite gives its -journal, -wal and -shm files the database's own mode.
    Made, not opened under a narrower umask: other threads may be creating files meanwhile."""
    try:
        make_dirs(db.parent, private=True)
        made = create_private(db)
    except OSError:
        return  # not writable here: SQLite names it when it opens the file (CallStore: one line, record kept)
    if not made:
        warn_if_shared(db, "the call-record database", log)


def open_engine(url: str, busy_s: float = 2.0):
    """An engine for `url`; a SQLite file is made private (private_file). Raises MissingDriver, ValueError."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    try:
        u = make_url(url)
    except Exception:
        raise ValueError(f"phone.db_url: {url!r} is not a database URL (e.g. sqlite:///runs/calls.db)") from None
    options: dict = {"pool_pre_ping": True}
    if u.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": busy_s, "check_same_thread": False}
        if u.database and u.database != ":memory:" and not u.query.get("uri"):
            private_file(Path(u.database))
    elif u.get_backend_name() == "postgresql" and u.drivername == "postgresql":
        u = u.set(drivername="postgresql+psycopg")  # psycopg 3, the extra's driver
        options["connect_args"] = {"connect_timeout": max(1, int(busy_s))}
    try:
        return create_engine(u, **options)
    except ModuleNotFoundError as e:
        extra = DRIVERS.get((e.name or "").split(".")[0])
        hint = f"pip install 'voicebot[{extra}]'" if extra else f"pip install {e.name}"
        raise MissingDriver(f"{u.render_as_string(hide_password=True)}: its database driver {e.name!r} "
                            f"is not installed ({hint})") from None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def turn_row(call_id: str, idx: int, t: dict) -> dict:
    lat = t.get("latency_ms") or {}
    return {"call_id": call_id, "idx": idx, "start_s": t.get("start"), "end_s": t.get("end"),
            "text": t.get("text", ""), "intent": t.get("intent"), "confidence": t.get("confidence"),
            "sentiment": t.get("sentiment"), "entities": t.get("entities") or [], "reply": t.get("reply", ""),
            "reply_cut": t.get("reply_cut"), "answer_source": t.get("answer_source"),
            **{col: lat.get(key) for col, key in LATENCY.items()}}


def _seal(row: dict, fields, vault, name: str) -> dict:
    if vault is None:
        return row
    out = dict(row)
    for f in fields:
        out[f] = None if vault is False else seal(row.get(f), vault, f"{name}/{f}")
    return out


def _open(row: dict, fields, vault, name: str) -> dict:
    return {**row, **{f: unseal(row.get(f), vault, f"{name}/{f}") for f in fields if f in row}}


def _turn_name(row: dict) -> str:
    return f"call {row['call_id']} turn {row['idx']}"


def seal_call_row(row: dict, vault) -> dict:
    """A calls row with its secret columns sealed (vault None: as it is; False: emptied)."""
    return _seal(row, CALL_SECRET, vault, f"call {row['id']}")


def seal_turn_row(row: dict, vault) -> dict:
    out = _seal(row, TURN_SECRET, vault, _turn_name(row))
    cut = row.get("reply_cut")
    if vault is not None and isinstance(cut, dict) and "heard_text" in cut:
        out["reply_cut"] = {**cut, "heard_text": None if vault is False else
                            seal(cut["heard_text"], vault, f"{_turn_name(row)}/heard_text")}
    return out


def open_call_row(row: dict, vault) -> dict:
    """The row as written; raises CryptoError for a sealed column and no key, or the wrong one."""
    return _open(row, CALL_SECRET, vault, f"call {row['id']}")


def open_turn_row(row: dict, vault) -> dict:
    out = _open(row, TURN_SECRET, vault, _turn_name(row))
    cut = row.get("reply_cut")
    if isinstance(cut, dict) and "heard_text" in cut:
        out["reply_cut"] = {**cut, "heard_text": unseal(cut["heard_text"], vault, f"{_turn_name(row)}/heard_text")}
    return out


def _resealed(row, fields, vault, name: str) -> dict:
    return {f: v for f in fields if (v := reseal(row[f], vault, f"{name}/{f}")) is not None}


def rotate_keys(db, vault) -> int:
    """Every sealed value of `calls` and `turns` written with an older key of `vault` sealed
    again with its current key, on the connection `db` (one transaction: a wrong key changes
    nothing). Returns the rows changed."""
    from sqlalchemy import select, update
    _, calls, turns = schema()
    changed = 0
    for row in db.execute(select(calls)).mappings().all():
        new = _resealed(row, CALL_SECRET, vault, f"call {row['id']}")
        if new:
            db.execute(update(calls).where(calls.c.id == row["id"]).values(**new))
            changed += 1
    for row in db.execute(select(turns)).mappings().all():
        new = _resealed(row, TURN_SECRET, vault, _turn_name(row))
        cut = row["reply_cut"]
        if isinstance(cut, dict) and (heard := reseal(cut.get("heard_text"), vault, f"{_turn_name(row)}/heard_text")):
            new["reply_cut"] = {**cut, "heard_text": heard}
        if new:
            db.execute(update(turns).where(turns.c.call_id == row["call_id"], turns.c.idx == row["idx"]).values(**new))
            changed += 1
    return changed


def _jsonable(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def _from_json(row: dict) -> dict:
    return {k: datetime.fromisoformat(v) if k in ("started", "ended") and v else v for k, v in row.items()}


class CallStore:
    def __init__(self, url: str = DEFAULT_URL, spool: str | Path | None = None, busy_s: float = 2.0,
                 vault=None):
        self.url = url
        self.vault = vault  # reads sealed records; seals the calls started without a vault of their own
        self.engine = open_engine(url, busy_s)
        self.spool = Path(spool) if spool else Path("runs") / "calls-unsaved"
        self._open: dict[str, dict] = {}  # id -> {"row": ..., "turns": [...], "dirty": bool}
        self._lock = threading.Lock()
        self._ready = False
        self._try("creating tables", self._create)

    def _create(self) -> None:
        schema().metadata.create_all(self.engine)
        self._ready = True

    def _try(self, what: str, fn) -> bool:
        try:
            if not self._ready and fn != self._create:
                self._create()
            fn()
            return True
        except Exception as e:  # locked, gone, full, refused: the caller must not notice
            first = (str(e).strip().splitlines() or [""])[0][:200]
            log.warning("call records (%s): %s failed: %s: %s", self._safe_url(), what, type(e).__name__, first)
            return False

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url
        return make_url(self.url).render_as_string(hide_password=True)

    # ---- writing, during a call
    def start_call(self, transport: str, caller: str = "", callee: str = "", external_id: str = "",
                   codec: str = "", meta: dict | None = None, call_id: str | None = None, vault=None) -> str:
        cid = call_id or uuid.uuid4().hex
        vault = self.vault if vault is None else vault
        row = {"id": cid, "transport": transport, "caller": caller, "callee": callee, "external_id": external_id,
               "started": _now(), "ended": None, "end_reason": None, "handover": None, "audio_path": None,
               "codec": codec, "turns": 0, "dropped_frames": 0, "late_frames": 0, "meta": meta or {}}
        row = seal_call_row(row, vault)
        rec = {"row": row, "turns": [], "dirty": False, "vault": vault}
        with self._lock:
            self._open[cid] = rec
        rec["dirty"] = not self._try(f"call {cid[:8]} start", lambda: self._insert_call(row))
        return cid

    def _insert_call(self, row: dict) -> None:
        from sqlalchemy import insert
        with self.engine.begin() as db:
            db.execute(insert(schema().calls).values(**row))

    def add_turn(self, call_id: str, turn: dict) -> None:
        """Turn `len(turns so far)` of the call; `end_call(turns=...)` may replace it later."""
        rec = self._open.get(call_id)
        if rec is None:
            log.warning("call records: add_turn for unknown or ended call %s, dropped", call_id)
            return
        row = seal_turn_row(turn_row(call_id, len(rec["turns"]), turn), rec["vault"])
        rec["turns"].append(row)
        if rec["dirty"]:
            return  # the whole call is written at its end
        def write():
            from sqlalchemy import insert, update
            _, calls, turns = schema()
            with self.engine.begin() as db:
                db.execute(insert(turns).values(**row))
                db.execute(update(calls).where(calls.c.id == call_id).values(turns=len(rec["turns"])))
        rec["dirty"] = not self._try(f"call {call_id[:8]} turn {row['idx']}", write)

    def end_call(self, call_id: str, reason: str, turns_list: list[dict] | None = None, **fields) -> bool:
        """Closes the record: `reason`, the final turns (their last state: a reply cut short is
        known only later), and any calls column (handover, audio_path, dropped_frames, ...).
        True when it is in the database; False when it went to the spool folder."""
        with self._lock:
            rec = self._open.pop(call_id, None)
        if rec is None:
            log.warning("call records: end_call for unknown or ended call %s", call_id)
            return False
        if turns_list is not None:
            rec["turns"] = [seal_turn_row(turn_row(call_id, i, t), rec["vault"]) for i, t in enumerate(turns_list)]
        rec["row"].update(fields, ended=_now(), end_reason=reason, turns=len(rec["turns"]))
        if self._try(f"call {call_id[:8]} end", lambda: self._write_whole(rec["row"], rec["turns"])):
            self.retry_spooled()
            return True
        path = self.spool / f"{call_id}.json"
        try:
            atomic_write_text(path, json.dumps({"call": _jsonable(rec["row"]), "turns": rec["turns"]}, indent=1) + "\n",
                              private=True)
            log.warning("call records: call %s kept in %s until the database takes it", call_id[:8], path)
        except OSError as e:
            log.error("call records: call %s LOST: database and %s both failed (%s): %s", call_id, path, e,
                      json.dumps({"call": _jsonable(rec["row"]), "turns": rec["turns"]}))
        return False

    def _write_whole(self, row: dict, rows: list[dict]) -> None:
        from sqlalchemy import delete, insert, select, update
        _, calls, turns = schema()
        with self.engine.begin() as db:
            if db.execute(select(calls.c.id).where(calls.c.id == row["id"])).first() is None:
                db.execute(insert(calls).values(**row))
            else:
                db.execute(update(calls).where(calls.c.id == row["id"]).values(**row))
            db.execute(delete(turns).where(turns.c.call_id == row["id"]))
            if rows:
                db.execute(insert(turns), rows)

    def set_audio(self, call_id: str, path: str) -> bool:
        """The recording's path, once it is stored (phone calls save it after the call ends).
        A record still in the spool folder gets it there."""
        def write():
            from sqlalchemy import update
            calls = schema().calls
            with self.engine.begin() as db:
                if db.execute(update(calls).where(calls.c.id == call_id).values(audio_path=path)).rowcount == 0:
                    raise LookupError("no such call in the database")
        if self._try(f"call {call_id[:8]} audio path", write):
            return True
        kept = self.spool / f"{call_id}.json"
        try:
            doc = json.loads(kept.read_text())
            doc["call"]["audio_path"] = path
            atomic_write_text(kept, json.dumps(doc, indent=1) + "\n", private=True)
        except (OSError, ValueError, KeyError) as e:
            log.warning("call records: call %s: its audio %s is not in its record (%s)", call_id[:8], path, e)
        return False

    def retry_spooled(self) -> int:
        """Moves records kept in the spool folder into the database; returns how many."""
        moved = 0
        for path in sorted(self.spool.glob("*.json")) if self.spool.is_dir() else []:
            try:
                doc = json.loads(path.read_text())
                self._write_whole(_from_json(doc["call"]), doc["turns"])
            except Exception as e:
                log.warning("call records: %s not moved yet: %s", path, type(e).__name__)
                break
            path.unlink()
            moved += 1
        return moved

    # ---- reading
    def list_calls(self, limit: int = 20) -> list[dict]:
        from sqlalchemy import select
        calls = schema().calls
        with self.engine.connect() as db:
            rows = db.execute(select(calls).order_by(calls.c.started.desc()).limit(limit)).mappings().all()
        return [open_call_row(dict(r), self.vault) for r in rows]

    def get_call(self, call_id: str) -> dict | None:
        """One call with its turns; `call_id` may be a unique prefix of the id."""
        from sqlalchemy import select
        _, calls, turns = schema()
        with self.engine.connect() as db:
            found = db.execute(select(calls).where(calls.c.id.startswith(call_id, autoescape=True))
                               .limit(2)).mappings().all()
            if len(found) != 1:
                return None
            call = open_call_row(dict(found[0]), self.vault)
            call["turns"] = [open_turn_row(dict(t), self.vault) for t in db.execute(select(turns).where(turns.c.call_id == call["id"])
                                                         .order_by(turns.c.idx)).mappings().all()]
        return call

    def started_before(self, cutoff: datetime) -> list[dict]:
        """Calls that began before `cutoff`, oldest first: id, started, audio_path (plain columns)."""
        from sqlalchemy import select
        calls = schema().calls
        with self.engine.connect() as db:
            rows = db.execute(select(calls.c.id, calls.c.started, calls.c.audio_path)
                              .where(calls.c.started < cutoff).order_by(calls.c.started)).mappings().all()
        return [dict(r) for r in rows]

    def delete_calls(self, ids: list[str]) -> None:
        """The calls and their turns, in one transaction."""
        from sqlalchemy import delete
        _, calls, turns = schema()
        with self.engine.begin() as db:
            for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
                db.execute(delete(turns).where(turns.c.call_id.in_(chunk)))
                db.execute(delete(calls).where(calls.c.id.in_(chunk)))

    def close(self) -> None:
        self.engine.dispose()

