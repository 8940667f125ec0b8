"""Call-archive results in the phone line's database (voicebot.phone.records: SQLite by default, any
SQLAlchemy URL such as PostgreSQL), so one query covers both:

- `calls` and `turns`, the phone line's own tables: one `calls` row per archived call
  (transport "archive", its date as `started`, the recording as `audio_path`, the manifest's
  metadata in `meta`) and one `turns` row per customer turn (text, intent, confidence,
  sentiment, entities), as for a phone call's caller turns;
- `archive_calls` (the analysis: reason, category, products, talk time, ...) and
  `archive_utterances` (both speakers), keyed by the call's name and carrying its `calls.id`.

A rerun replaces a call's rows (same name, same id) instead of adding to them.

With a vault (privacy.encrypt) the text columns are sealed per value, as the phone line's
records are (voicebot.phone.records.seal_call_row): calls.caller/callee/meta, turns.text/entities/reply,
archive_calls.summary/meta and archive_utterances.text/entities; the rest stays plain SQL.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import NamedTuple

from voicebot.phone import records
from voicebot.privacy.crypto import reseal, seal

CALL_SECRET = ("summary", "meta")  # archive_calls columns sealed with a vault
UTTERANCE_SECRET = ("text", "entities")



class Schema(NamedTuple):
    metadata: object
    calls: object
    utterances: object


@cache
def schema() -> Schema:
    """The archive's tables; SQLAlchemy imported on first use, as in voicebot.phone.records."""
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text
    metadata = MetaData()
    calls = Table(
        "archive_calls", metadata,
        Column("call", String(200), primary_key=True), Column("call_id", String(32), index=True),
        Column("file", Text), Column("sha256", String(64)),
        Column("date", String(32)), Column("agent", String(200)), Column("queue", String(200)),
        Column("duration_s", Float), Column("tracks", String(100)), Column("main_reason", String(64)),
        Column("category", String(32)), Column("products", Text), Column("order_numbers", Text),
        Column("companies", Text), Column("sentiment_start", String(16)), Column("sentiment_end", String(16)),
        Column("sentiment_mean", Float), Column("talk_agent_s", Float), Column("talk_customer_s", Float),
        Column("silence_s", Float), Column("overlap_s", Float), Column("escalation_words", Text),
        Column("summary", Text), Column("meta", Text), Column("processing_s", Float),
    )
    utterances = Table(
        "archive_utterances", metadata,
        Column("call", String(200), primary_key=True), Column("idx", Integer, primary_key=True),
        Column("speaker", String(16)), Column("start_s", Float), Column("end_s", Float), Column("text", Text),
        Column("intent", String(64)), Column("confidence", Float), Column("sentiment", String(16)),
        Column("entities", Text),
    )
    return Schema(metadata, calls, utterances)


def record_id(name: str) -> str:
    """The call's id in `calls`: stable for its name, so a rerun overwrites its rows."""
    return "arc-" + hashlib.sha1(name.encode()).hexdigest()[:28]


def _started(doc: dict) -> datetime:
    try:
        t = datetime.fromisoformat(str(doc.get("date") or ""))
    except ValueError:
        t = datetime(1970, 1, 1)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def record_rows(doc: dict) -> tuple[dict, list[dict]]:
    """The phone line's `calls` row and `turns` rows (the customer's turns) of one archived call."""
    cid, meta = record_id(doc["call"]), doc.get("meta", {})
    asked = [u for u in doc["utterances"] if "intent" in u]
    start = _started(doc)
    row = {"id": cid, "transport": "archive", "caller": str(meta.get("caller", ""))[:200],
           "callee": str(meta.get("queue", ""))[:200], "external_id": str(meta.get("call_id") or doc["call"])[:100],
           "started": start, "ended": start + timedelta(seconds=doc["duration_s"]), "end_reason": "archived recording",
           "handover": None, "audio_path": doc["file"][:500], "codec": None, "turns": len(asked),
           "dropped_frames": 0, "late_frames": 0, "meta": {"call": doc["call"], "tracks": doc["tracks"], **meta}}
    return row, [records.turn_row(cid, i, u) for i, u in enumerate(asked)]


def call_row(doc: dict) -> dict:
    """The flat row of one call's result (also the calls table's row)."""
    meta = doc.get("meta", {})
    talk = doc.get("talk_s", {})
    return {"call": doc["call"], "call_id": record_id(doc["call"]), "file": doc["file"], "sha256": doc["sha256"],
            "date": doc.get("date"),
            "agent": meta.get("agent"), "queue": meta.get("queue"), "duration_s": doc["duration_s"],
            "tracks": doc["tracks"].split(":")[0], "main_reason": doc["main_reason"], "category": doc["category"],
            "products": ";".join(doc["products"]), "order_numbers": ";".join(doc["order_numbers"]),
            "companies": ";".join(c["name"] for c in doc["companies"]),
            "sentiment_start": doc["sentiment_start"], "sentiment_end": doc["sentiment_end"],
            "sentiment_mean": doc["sentiment_mean"], "talk_agent_s": talk.get("agent"),
            "talk_customer_s": talk.get("customer", talk.get("mixed")), "silence_s": doc["silence_s"],
            "overlap_s": doc["overlap_s"], "escalation_words": ";".join(doc["escalation_words"]),
            "summary": doc["summary"], "meta": json.dumps(meta, ensure_ascii=False), "processing_s": doc["processing_s"]}


def utterance_rows(doc: dict) -> list[dict]:
    return [{"call": doc["call"], "idx": i, "speaker": u["speaker"], "start_s": u["start"], "end_s": u["end"],
             "text": u["text"], "intent": u.get("intent"), "confidence": u.get("confidence"),
             "sentiment": u.get("sentiment"), "entities": json.dumps(u.get("entities", []), ensure_ascii=False)}
            for i, u in enumerate(doc["utterances"])]


def _sealed(row: dict, fields, vault, name: str) -> dict:
    return row if vault is None else {**row, **{f: seal(row[f], vault, f"{name}/{f}") for f in fields}}


def rotate_keys(db, vault) -> int:
    """As records.rotate_keys, for archive_calls and archive_utterances (when they exist)."""
    from sqlalchemy import inspect, select, update
    archive = schema()
    changed = 0
    for table, fields, name in [(archive.calls, CALL_SECRET, lambda r: f"archive {r['call']}"),
                                (archive.utterances, UTTERANCE_SECRET, lambda r: f"archive {r['call']} utterance {r['idx']}")]:
        if not inspect(db).has_table(table.name):
            continue
        keys = [c for c in table.primary_key.columns]
        for row in db.execute(select(table)).mappings().all():
            new = {f: v for f in fields if (v := reseal(row[f], vault, f"{name(row)}/{f}")) is not None}
            if new:
                db.execute(update(table).where(*[c == row[c.name] for c in keys]).values(**new))
                changed += 1
    return changed


class ArchiveDB:
    def __init__(self, url: str, vault=None):
        self.vault = vault
        self.engine = records.open_engine(url)  # the phone line's URL handling (PostgreSQL driver, folders)
        records.schema().metadata.create_all(self.engine)
        schema().metadata.create_all(self.engine)

    def save(self, doc: dict) -> None:
        """A call's rows in all four tables, replacing any earlier ones, in one transaction."""
        from sqlalchemy import delete, insert
        calls, turns = records.schema().calls, records.schema().turns
        archive = schema()
        row, turn_rows = record_rows(doc)
        row = records.seal_call_row(row, self.vault)
        turn_rows = [records.seal_turn_row(t, self.vault) for t in turn_rows]
        with self.engine.begin() as c:
            c.execute(delete(turns).where(turns.c.call_id == row["id"]))
            c.execute(delete(calls).where(calls.c.id == row["id"]))
            c.execute(insert(calls).values(**row))
            if turn_rows:
                c.execute(insert(turns), turn_rows)
            c.execute(delete(archive.utterances).where(archive.utterances.c.call == doc["call"]))
            c.execute(delete(archive.calls).where(archive.calls.c.call == doc["call"]))
            c.execute(archive.calls.insert(), [_sealed(call_row(doc), CALL_SECRET, self.vault, f"archive {doc['call']}")])
            rows = [_sealed(r, UTTERANCE_SECRET, self.vault, f"archive {doc['call']} utterance {r['idx']}")
                    for r in utterance_rows(doc)]
            if rows:
                c.execute(archive.utterances.insert(), rows)

    def close(self) -> None:
        self.engine.dispose()
