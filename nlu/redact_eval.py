"""`voicebot redact-eval`: precision and recall of redaction on a labelled set.

The set (nlu/data/redaction_eval.txt) marks personal data inline: "my card is {CARD|4111 ...}".
A labelled span counts as hidden when redaction covers all its characters (a tag of another
kind still hides it; the typed recall says how often the tag is also right). A redacted span
is a false alarm when it touches no labelled span: an order number or a price lost.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from asr.files import atomic_write_text
from nlu.redact import TAGS, find

DATA = Path(__file__).parent / "data" / "redaction_eval.txt"
MARK = re.compile(r"\{([A-Z]+)\|([^}]*)\}")


def parse(line: str) -> tuple[str, list[tuple[str, int, int]]]:
    """"my card is {CARD|4111}" -> ("my card is 4111", [("card", 11, 15)])."""
    text, spans, at = "", [], 0
    for m in MARK.finditer(line):
        text += line[at:m.start()]
        kind = m.group(1).lower()
        if kind not in TAGS:
            raise ValueError(f"unknown kind {m.group(1)!r} in: {line}")
        spans.append((kind, len(text), len(text) + len(m.group(2))))
        text += m.group(2)
        at = m.end()
    return text + line[at:], spans


def load(path: Path = DATA) -> list[tuple[str, list]]:
    lines = [ln.strip() for ln in Path(path).read_text().splitlines()]
    return [parse(ln) for ln in lines if ln and not ln.startswith("#")]


def score(items) -> dict:
    gold_n, hidden, typed, pred_n, false_alarm = Counter(), Counter(), Counter(), Counter(), Counter()
    misses, alarms = [], []
    for text, gold in items:
        pred = find(text)
        covered = set()
        for p in pred:
            covered.update(range(p.start, p.end))
        for kind, s, e in gold:
            gold_n[kind] += 1
            if set(range(s, e)) <= covered:
                hidden[kind] += 1
                typed[kind] += any(p.kind == kind and p.start < e and s < p.end for p in pred)
            else:
                misses.append(f"{kind}: {text[s:e]!r} in {text!r}")
        for p in pred:
            pred_n[p.kind] += 1
            if not any(p.start < e and s < p.end for _, s, e in gold):
                false_alarm[p.kind] += 1
                alarms.append(f"{p.kind}: {p.text!r} in {text!r}")
    kinds = {}
    for k in TAGS:
        kinds[k] = {"labelled": gold_n[k], "recall": _ratio(hidden[k], gold_n[k]),
                    "typed_recall": _ratio(typed[k], gold_n[k]), "redacted": pred_n[k],
                    "precision": _ratio(pred_n[k] - false_alarm[k], pred_n[k])}
    total_pred = sum(pred_n.values())
    return {"utterances": len(items), "kinds": kinds,
            "overall": {"labelled": sum(gold_n.values()), "recall": _ratio(sum(hidden.values()), sum(gold_n.values())),
                        "precision": _ratio(total_pred - sum(false_alarm.values()), total_pred)},
            "misses": misses, "false_alarms": alarms}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def main(args) -> int:
    from rich.console import Console
    from rich.table import Table
    res = score(load(Path(args.data)))
    table = Table(title=f"Redaction on {res['utterances']} labelled utterances ({args.data})")
    for col in ("kind", "labelled", "recall", "typed recall", "redacted", "precision"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for k, v in res["kinds"].items():
        table.add_row(k, str(v["labelled"]), fmt(v["recall"]), fmt(v["typed_recall"]), str(v["redacted"]), fmt(v["precision"]))
    o = res["overall"]
    table.add_row("all", str(o["labelled"]), fmt(o["recall"]), "", "", fmt(o["precision"]), style="bold")
    console = Console()
    console.print(table)
    if args.verbose:
        for line in res["misses"]:
            console.print(f"[red]missed[/red] {line}", markup=True, highlight=False)
        for line in res["false_alarms"]:
            console.print(f"[yellow]false alarm[/yellow] {line}", markup=True, highlight=False)
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(res, indent=2) + "\n")
    return 0


def add_arguments(p) -> None:
    p.add_argument("--data", default=str(DATA), help="labelled utterances (default: the bundled set)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("-v", "--verbose", action="store_true", help="list every miss and false alarm")
