"""`voicebot calls list` / `voicebot calls show ID`: phone call records (voicebot/phone/records.py) read back.

    voicebot calls list [--limit 20] [--json]      # newest first, a table
    voicebot calls show ID [--operator NAME]       # one call and its turns, as JSON (ID: a unique prefix)
    voicebot calls rotate-key                      # re-seal the records (and archive rows) with privacy.key_file
The database is `phone.db_url` of the config (`--config`), or `--db URL`.

Encrypted records (privacy.encrypt) are opened with the config's key ($VOICEBOT_KEY or
privacy.key_file; old_key_file too); a missing or wrong key is one error line, exit 2. Every
read of call data goes to the audit log (privacy.audit_log): who (--operator, else
$VOICEBOT_OPERATOR, else the login name) and which calls. Key rotation: privacy.key_file is the
new key, privacy.old_key_file the old one; values already sealed with the new key are left, so a
rotation stopped half way goes on where it stopped (each run is one transaction).
"""
from __future__ import annotations

import json
import sys

from voicebot.archive import db as archive_db
from voicebot.options import UsageError, load_config
from voicebot.phone import records
from voicebot.phone.records import CallStore
from voicebot.privacy.audit import audit
from voicebot.privacy.crypto import CryptoError, open_vault, vault_if_key


def add_arguments(p) -> None:
    p.add_argument("action", choices=["list", "show", "rotate-key"])
    p.add_argument("call_id", nargs="?", help="show: the call's id (a unique prefix is enough)")
    p.add_argument("--limit", type=int, default=20, help="list: this many, newest first (default 20)")
    p.add_argument("--db", help="a SQLAlchemy URL (default: the config's phone.db_url)")
    p.add_argument("--json", action="store_true", help="list: JSON instead of a table")
    p.add_argument("--operator", help="who reads, for the audit log (default: $VOICEBOT_OPERATOR or the login name)")


def _plain(value):
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else value


def main(args) -> int:
    cfg = load_config(args)
    url = args.db or cfg.phone.db_url
    if args.action == "show" and not args.call_id:
        raise UsageError("calls show needs a call id (voicebot calls list shows them)")
    try:  # encryption on: its key must open; off: a key given still opens records sealed earlier
        vault = open_vault(cfg.privacy) if cfg.privacy.encrypt else vault_if_key(cfg)
    except CryptoError as e:
        print(f"voicebot calls: {e}", file=sys.stderr)
        return 2
    if args.action == "rotate-key":
        return rotate(cfg, url)
    store = CallStore(url, vault=vault)
    try:
        if args.action == "show":
            call = store.get_call(args.call_id)
            if call is None:
                print(f"voicebot calls: no call {args.call_id!r} (or the prefix fits several) in {store._safe_url()}",
                      file=sys.stderr)
                return 1
            audit(cfg, "calls show", who=args.operator, call=call["id"], db=store._safe_url())
            print(json.dumps({k: _plain(v) for k, v in call.items()}, indent=2, ensure_ascii=False))
            return 0
        rows = store.list_calls(args.limit)
        if rows:  # callers' numbers are personal data too
            audit(cfg, "calls list", who=args.operator, calls=[r["id"] for r in rows], db=store._safe_url())
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
    except CryptoError as e:  # sealed records and no key, or another key: nothing printed but this
        print(f"voicebot calls: {e}", file=sys.stderr)
        return 2
    finally:
        store.close()


def rotate(cfg, url: str) -> int:
    import dataclasses

    if not cfg.privacy.old_key_file:
        print("voicebot calls rotate-key: set privacy.old_key_file to the key being replaced", file=sys.stderr)
        return 2
    engine = records.open_engine(url)
    try:
        vault = open_vault(dataclasses.replace(cfg.privacy, encrypt=True))
        records.schema().metadata.create_all(engine)
        with engine.begin() as db:
            n = records.rotate_keys(db, vault) + archive_db.rotate_keys(db, vault)
    except CryptoError as e:  # nothing changed: the transaction rolled back
        print(f"voicebot calls rotate-key: {e}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"voicebot calls rotate-key: {n} row(s) re-encrypted; the old key can go once recordings "
          "and result files are rotated too (voicebot data rotate-key)")
    return 0
