"""The order database the dialogue answers from (SQLAlchemy: SQLite by default, any URL works).

SQLAlchemy is imported when a store opens, not with this module: it takes ~0.35 s, and the
bot's start imports the dialogue before it knows whether a call will ever ask for an order."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from functools import cache


@cache
def orders_table():
    """The orders table (its own MetaData)."""
    from sqlalchemy import Column, Float, MetaData, String, Table
    return Table(
        "orders", MetaData(),
        Column("number", String(16), primary_key=True),
        Column("product", String(100), nullable=False),
        Column("status", String(20), nullable=False),  # processing | shipped | delivered | cancelled
        Column("placed_on", String(10)),
        Column("expected_delivery", String(10)),
        Column("carrier", String(40)),
        Column("amount", Float),
    )


@dataclass(frozen=True)
class Order:
    number: str
    product: str
    status: str
    placed_on: str = ""
    expected_delivery: str = ""
    carrier: str = ""
    amount: float = 0.0


class CannotCancel(Exception):
    def __init__(self, order: Order):
        super().__init__(f"order {order.number} is {order.status}")
        self.order = order


# Without a configured database the bot uses the domain's sample orders in an in-memory
# SQLite, fresh for every run: a file kept between runs would remember the demo's
# cancellations, and the next run would answer from them.
SAMPLE_URL = "sqlite://"


class OrderStore:
    def __init__(self, url: str | None = None):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool
        url = url or SAMPLE_URL
        options = {}
        if url in ("sqlite://", "sqlite:///:memory:"):
            # one shared connection, or every connection would see its own empty database
            options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        self.engine = create_engine(url, **options)
        orders_table().metadata.create_all(self.engine)
        # calls at once (the phone line, `voicebot call --workers`) share the store; with the
        # one shared in-memory connection a transaction of one must not run into another's
        self._lock = threading.RLock() if options else contextlib.nullcontext()

    def seed(self, rows: list[dict]) -> int:
        """Insert the sample orders into an empty table; returns how many were added."""
        from sqlalchemy import func, insert, select
        orders = orders_table()
        with self._lock, self.engine.begin() as db:
            if db.execute(select(func.count()).select_from(orders)).scalar():
                return 0
            if rows:
                db.execute(insert(orders), [{**r, "number": str(r["number"])} for r in rows])
        return len(rows)

    def get(self, number: str) -> Order | None:
        from sqlalchemy import select
        orders = orders_table()
        with self._lock, self.engine.connect() as db:
            row = db.execute(select(orders).where(orders.c.number == str(number))).mappings().first()
        return Order(**{k: (v if v is not None else "") for k, v in row.items()}) if row else None

    def cancel(self, number: str) -> Order:
        """Cancel an order that has not shipped; raises CannotCancel otherwise, KeyError if unknown."""
        from sqlalchemy import select, update
        orders = orders_table()
        with self._lock, self.engine.begin() as db:
            row = db.execute(select(orders).where(orders.c.number == str(number))).mappings().first()
            if row is None:
                raise KeyError(number)
            order = Order(**{k: (v if v is not None else "") for k, v in row.items()})
            if order.status != "processing":
                raise CannotCancel(order)
            db.execute(update(orders).where(orders.c.number == order.number).values(status="cancelled"))
        return Order(**{**order.__dict__, "status": "cancelled"})
