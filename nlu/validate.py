"""Checking NLU data files: every problem named with its file and line.

    python -m nlu.validate nlu/data/train.jsonl nlu/data/test.jsonl
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from nlu.schema import ENTITY_TYPES, INTENTS, SENTIMENTS

KEYS = {"text", "intent", "sentiment", "entities"}
ENTITY_KEYS = {"start", "end", "type", "value"}


def check_example(ex) -> list[str]:
    if not isinstance(ex, dict):
        return ["not a JSON object"]
    errors = []
    if set(ex) != KEYS:
        missing, extra = KEYS - set(ex), set(ex) - KEYS
        errors += [f"missing key(s): {', '.join(sorted(missing))}"] if missing else []
        errors += [f"unknown key(s): {', '.join(sorted(extra))}"] if extra else []
        return errors
    text = ex["text"]
    if not isinstance(text, str) or not text.strip():
        return ["empty text"]
    if ex["intent"] not in INTENTS:
        errors.append(f"unknown intent {ex['intent']!r}")
    if ex["sentiment"] not in SENTIMENTS:
        errors.append(f"unknown sentiment {ex['sentiment']!r}")
    spans = []
    for e in ex["entities"] if isinstance(ex["entities"], list) else [None]:
        if not isinstance(e, dict) or set(e) != ENTITY_KEYS:
            errors.append(f"an entity needs exactly the keys {', '.join(sorted(ENTITY_KEYS))}")
            continue
        s, end = e["start"], e["end"]
        if e["type"] not in ENTITY_TYPES:
            errors.append(f"unknown entity type {e['type']!r}")
        if not (isinstance(s, int) and isinstance(end, int) and 0 <= s < end <= len(text)):
            errors.append(f"entity span {s}-{end} is outside the text (length {len(text)})")
            continue
        words = text[s:end]
        if words != words.strip():
            errors.append(f"entity span {s}-{end} {words!r} starts or ends with whitespace")
        if any(s < b and a < end for a, b in spans):
            errors.append(f"entity span {s}-{end} {words!r} overlaps another")
        spans.append((s, end))
    return errors


def json_lines(lines: list[str]):
    """(line number, record, None) for each line that is not blank, or (line number, None, why)
    for one that is not JSON."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line), None
        except json.JSONDecodeError as e:
            yield n, None, f"invalid JSON ({e.msg})"


def validate_file(path: str | Path) -> list[str]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        return [f"{path}: cannot read ({e})"]
    errors, seen = [], {}
    for n, ex, bad in json_lines(lines):
        if bad:
            errors.append(f"{path}:{n}: {bad}")
            continue
        errors += [f"{path}:{n}: {msg}" for msg in check_example(ex)]
        key = ex.get("text", "").strip().lower() if isinstance(ex, dict) and isinstance(ex.get("text"), str) else None
        if key:
            if key in seen:
                errors.append(f"{path}:{n}: duplicate text (also line {seen[key]})")
            seen.setdefault(key, n)
    return errors


def load_examples(path: str | Path) -> list[dict]:
    errors = validate_file(path)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValueError(errors[0] + more)
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def stats(examples: list[dict]) -> dict:
    intents = Counter(ex["intent"] for ex in examples)
    return {"examples": len(examples), "intents": dict(intents),
            "per_intent": {"min": min(intents.values(), default=0), "max": max(intents.values(), default=0)},
            "sentiments": dict(Counter(ex["sentiment"] for ex in examples)),
            "entities": dict(Counter(e["type"] for ex in examples for e in ex["entities"]))}


def main(argv: list[str] | None = None) -> int:
    paths = argv if argv is not None else sys.argv[1:]
    if not paths:
        print("usage: python -m nlu.validate FILE.jsonl...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        errors = validate_file(path)
        for e in errors:
            print(e)
        if errors:
            status = 1
            continue
        s = stats(load_examples(path))
        print(f"{path}: {s['examples']} examples, {len(s['intents'])} intents ({s['per_intent']['min']}-"
              f"{s['per_intent']['max']} each), sentiments {s['sentiments']}, entities {s['entities']}")
    return status


if __name__ == "__main__":
    sys.exit(main())
