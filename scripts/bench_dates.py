"""Relative dates: the hand-written rules (nlu/entities.py) against `dateparser` on
nlu/data/dates_test.tsv (a call on Wednesday 2026-11-25). Both get the direction the turn
implies (nlu.entities.date_direction); dateparser also gets the same call date.

    .venv/bin/python scripts/bench_dates.py [--json runs/dates.json]

dateparser is not a dependency; to measure it, install it beside the project, e.g.
`pip install --target /tmp/dp dateparser==1.5.0` and run with PYTHONPATH=.:/tmp/dp.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlu.entities import EntityExtractor, date_direction  # noqa: E402

TODAY = dt.date(2026, 11, 25)


def rows():
    for line in (ROOT / "nlu" / "data" / "dates_test.tsv").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


EXTRACTOR = EntityExtractor(today=TODAY)


def rules(text, intent):
    dates = [e.value for e in EXTRACTOR.extract(text, intent) if e.type == "date"]
    return dates[0] if dates else None


def with_dateparser(text, intent):
    from dateparser.search import search_dates
    settings = {"RELATIVE_BASE": dt.datetime(TODAY.year, TODAY.month, TODAY.day, 12),
                "PREFER_DATES_FROM": date_direction(text, intent), "DATE_ORDER": "MDY"}
    found = search_dates(text, languages=["en"], settings=settings) or []
    return found[0][1].date().isoformat() if found else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    methods = {"hand rules": rules}
    try:
        import dateparser
        methods[f"dateparser {dateparser.__version__}"] = with_dateparser
    except ImportError:
        print("dateparser not installed: measuring the rules only", file=sys.stderr)
    data = list(rows())
    report = {}
    for name, fn in methods.items():
        t0 = time.perf_counter()
        got = [fn(text, intent) for text, intent, _ in data]
        ms = (time.perf_counter() - t0) * 1000 / len(data)
        wrong = [{"text": t, "want": w, "got": g} for (t, _, w), g in zip(data, got) if g != w]
        report[name] = {"right": len(data) - len(wrong), "of": len(data), "ms_per_turn": round(ms, 2), "wrong": wrong}
    print("| method | right | ms per turn |\n|---|---:|---:|")
    for name, r in report.items():
        print(f"| {name} | {r['right']} of {r['of']} | {r['ms_per_turn']} |")
    for name, r in report.items():
        for w in r["wrong"]:
            print(f"{name}: {w['text']!r}: want {w['want']}, got {w['got']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
