"""Call-archive results in a database: SQLite by default, any SQLAlchemy URL (PostgreSQL) when
given. One row per call in `archive_calls`, one per utterance in `archive_utterances`, keyed by
the call id, so a rerun replaces a call's rows instead of adding to them.
"""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete

META = MetaData()
CALLS = Table(
    "archive_calls", META,
    Column("call", String(200), primary_key=True), Column("file", Text), Column("sha256", String(64)),
    Column("date", String(32)), Column("agent", String(200)), Column("queue", String(200)),
    Column("duration_s", Float), Column("tracks", String(100)), Column("main_reason", String(64)),
    Column("category", String(32)), Column("products", Text), Column("order_numbers", Text),
    Column("companies", Text), Column("sentiment_start", String(16)), Column("sentiment_end", String(16)),
    Column("sentiment_mean", Float), Column("talk_agent_s", Float), Column("talk_customer_s", Float),
    Column("silence_s", Float), Column("overlap_s", Float), Column("escalation_words", Text),
    Column("summary", Text), Column("meta", Text), Column("processing_s", Float),
)
UTTERANCES = Table(
    "archive_utterances", META,
    Column("call", String(200), primary_key=True), Column("idx", Integer, primary_key=True),
    Column("speaker", String(16)), Column("start_s", Float), Column("end_s", Float), Column("text", Text),
    Column("intent", String(64)), Column("confidence", Float), Column("sentiment", String(16)),
    Column("entities", Text),
)


def default_url(out_dir: str | Path) -> str:
    return f"sqlite:///{(Path(out_dir) / 'archive.db').resolve()}"


def call_row(doc: dict) -> dict:
    """The flat row of one call's result (also the calls table's row)."""
    meta = doc.get("meta", {})
    talk = doc.get("talk_s", {})
    return {"call": doc["call"], "file": doc["file"], "sha256": doc["sha256"], "date": doc.get("date"),
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


class ArchiveDB:
    def __init__(self, url: str):
        self.engine = create_engine(url)
        META.create_all(self.engine)

    def save(self, doc: dict) -> None:
        """A call's rows, replacing any earlier ones, in one transaction."""
        with self.engine.begin() as c:
            c.execute(delete(UTTERANCES).where(UTTERANCES.c.call == doc["call"]))
            c.execute(delete(CALLS).where(CALLS.c.call == doc["call"]))
            c.execute(CALLS.insert(), [call_row(doc)])
            rows = utterance_rows(doc)
            if rows:
                c.execute(UTTERANCES.insert(), rows)

    def close(self) -> None:
        self.engine.dispose()
