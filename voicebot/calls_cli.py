"""`voicebot calls list` / `voicebot calls show ID`: phone call records read back.

    voicebot calls list [--limit 20] [--json]      # newest first, a table
    voicebot calls show ID                         # one call and its turns, as JSON (ID: a unique prefix)
The database is `phone.db_url` of the config (`--config`), or `--db URL`.
"""
from __future__ import annotations

import json
import sys


def add_arguments(p) -> None:
    p.add_argument("action", choices=["list", "show"])
    p.add_argument("call_id", nargs="?", help="show: the call's id (a unique prefix is enough)")
    p.add_argument("--limit", type=int, default=20, help="list: this many, newest first (default 20)")
    p.add_argument("--db", help="a SQLAlchemy URL (default: the config's phone.db_url)")
    p.add_argument("--json", action="store_true", help="list: JSON instead of a table")


def _plain(value):
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else value


def main(args) -> int:
    from voicebot.cli import UsageError, load_config
    from voicebot.records import CallStore
    url = args.db or load_config(args).phone.db_url
    store = CallStore(url)
    try:
        if args.action == "show":
            if not args.call_id:
                raise UsageError("calls show needs a call id (voicebot calls list shows them)")
            call = store.get_call(args.call_id)
            if call is None:
                print(f"voicebot calls: no call {args.call_id!r} (or the prefix fits several) in {store._safe_url()}",
                      file=sys.stderr)
                return 1
            print(json.dumps({k: _plain(v) for k, v in call.items()}, indent=2, ensure_ascii=False))
            return 0
        rows = store.list_calls(args.limit)
        if args.json:
            print(json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows], indent=1, ensure_ascii=False))
            return 0
        from rich.console import Console
        from rich.table import Table
        table = Table(title=f"calls in {store._safe_url()} (newest first)")
        for col in ["id", "started (UTC)", "seconds", "transport", "caller", "turns", "ended by", "handover"]:
            table.add_column(col)
        for r in rows:
            secs = f"{(r['ended'] - r['started']).total_seconds():.0f}" if r["ended"] else "on"
            table.add_row(r["id"][:8], _plain(r["started"])[:19], secs, r["transport"], r["caller"] or "",
                          str(r["turns"] or 0), r["end_reason"] or "", r["handover"] or "")
        Console().print(table)
        return 0
    finally:
        store.close()
