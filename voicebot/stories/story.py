"""The story file: scripted calls and what the bot must do at each caller line (YAML).

    stories:
      - name: order status, known number
        orders: [{number: "5555", product: laptop, status: shipped, carrier: UPS}]
        steps:
          - caller: where is my order?
            intent: order_status
            says: order number
          - caller: it's 5 5 5 5
            entities: {order_number: "5555"}
            says: [on its way, UPS]

A step's checks are all optional; those left out are not judged. Errors name the file and the
story, one line each, so a company editing its stories sees what to fix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LINES = ("phone", "wide")  # 8 kHz G.711 mu-law, 300-3400 Hz / 16 kHz
ANSWERS = ("intent", "faq", "reask")
# a story's order row may leave out what it does not need
ORDER_DEFAULTS = {"product": "item", "status": "processing", "placed_on": "", "expected_delivery": "",
                  "carrier": "", "amount": 0.0}
STORY_KEYS = {"name", "orders", "steps", "voice", "line", "noise", "by"}
STEP_KEYS = {"caller", "silence", "intent", "entities", "answer", "faq", "says", "never_says", "handover",
             "hangs_up", "pause", "barge_in", "voice", "noise", "line"}


class _Loader(yaml.SafeLoader):
    """YAML without YAML 1.1's other booleans: `caller: yes` and `caller: no` are words a caller
    says (`handover: true` is still true)."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


class StoryError(ValueError):
    """A story file that cannot be read: one line naming the file, the story and the key."""


@dataclass(frozen=True)
class Step:
    caller: str  # the words said ("" for a silence step)
    silence: float = 0.0  # a silence step: the caller says nothing this long (by voice only)
    intent: str | None = None  # the intent the bot took the line for
    entities: tuple[tuple[str, str], ...] = ()  # (type, value) the bot must have found
    answer: str | None = None  # intent / faq / reask: where the reply came from
    faq: str | None = None  # the knowledge-base entry that answered
    says: tuple[str, ...] = ()  # words the reply must hold (any case)
    never_says: tuple[str, ...] = ()  # ... and must not
    handover: bool | None = None  # the call goes to a person after the reply
    hangs_up: bool | None = None  # the bot ends the call after the reply
    pause: float = 0.8  # by voice: the caller's pause after the bot stops, s
    barge_in: float | None = None  # by voice: said this long into the bot's reply, cutting it off


@dataclass(frozen=True)
class Story:
    name: str
    steps: tuple[Step, ...]
    orders: tuple[dict, ...] = ()  # rows for the order database, beside the domain's sample orders
    voice: str | None = None  # by voice: this voice (else the runner's, in turn)
    line: str = "wide"
    noise: str | None = None  # "white -50": kind and level in dBFS
    by: tuple[str, ...] = ("text", "voice")  # where the story applies
    source: str = ""  # file it came from


def _words(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise StoryError(f"{where}: expected words or a list of them, got {value!r}")


def _noise(value, where: str) -> str | None:
    if value is None:
        return None
    parts = str(value).split()
    try:
        if len(parts) != 2:
            raise ValueError
        float(parts[1])
    except ValueError:
        raise StoryError(f"{where}: noise is 'KIND LEVEL_DBFS' (e.g. 'white -50'), not {value!r}") from None
    return str(value)


def parse_step(raw, where: str) -> Step:
    if isinstance(raw, str):
        raw = {"caller": raw}
    if not isinstance(raw, dict):
        raise StoryError(f"{where}: a step is a mapping with 'caller:' (or 'silence:'), not {raw!r}")
    unknown = set(raw) - STEP_KEYS
    if unknown:
        raise StoryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(STEP_KEYS))})")
    caller = raw.get("caller")
    silence = raw.get("silence")
    if (caller is None) == (silence is None):
        raise StoryError(f"{where}: a step has either 'caller:' words or 'silence:' seconds")
    if caller is not None and (not isinstance(caller, (str, int)) or not str(caller).strip()):
        raise StoryError(f"{where}: 'caller:' must be the words said, not {caller!r}")
    ents = raw.get("entities") or {}
    if not isinstance(ents, dict):
        raise StoryError(f"{where}: entities is a mapping of type to value (order_number: \"4567\")")
    answer = raw.get("answer")
    if answer is not None and answer not in ANSWERS:
        raise StoryError(f"{where}: answer is one of {', '.join(ANSWERS)}, not {answer!r}")
    try:
        pause = float(raw.get("pause", 0.8))
        barge = None if raw.get("barge_in") is None else float(raw["barge_in"])
        quiet = float(silence) if silence is not None else 0.0
    except (TypeError, ValueError):
        raise StoryError(f"{where}: pause, barge_in and silence are seconds") from None
    for key in ("handover", "hangs_up"):
        if raw.get(key) is not None and not isinstance(raw[key], bool):
            raise StoryError(f"{where}: {key} is true or false, not {raw[key]!r}")
    return Step(caller=str(caller or "").strip(), silence=quiet, intent=raw.get("intent"),
                entities=tuple((str(k), str(v)) for k, v in ents.items()),
                answer="faq" if raw.get("faq") and answer is None else answer, faq=raw.get("faq"),
                says=_words(raw.get("says"), where), never_says=_words(raw.get("never_says"), where),
                handover=raw.get("handover"), hangs_up=raw.get("hangs_up"), pause=pause, barge_in=barge)


def parse_story(raw, where: str, source: str = "") -> Story:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise StoryError(f"{where}: a story needs a 'name:' and 'steps:'")
    where = f"{where} ({raw['name']!r})"
    unknown = set(raw) - STORY_KEYS
    if unknown:
        raise StoryError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(STORY_KEYS))})")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise StoryError(f"{where}: 'steps:' is a list of caller lines")
    orders = raw.get("orders") or []
    if not isinstance(orders, list) or not all(isinstance(o, dict) and o.get("number") for o in orders):
        raise StoryError(f"{where}: 'orders:' is a list of rows, each with a number (and product, status, ...)")
    line = raw.get("line", "wide")
    if line not in LINES:
        raise StoryError(f"{where}: line is 'phone' (8 kHz G.711) or 'wide' (16 kHz), not {line!r}")
    by = _words(raw.get("by", ["text", "voice"]), where)
    if not by or set(by) - {"text", "voice"}:
        raise StoryError(f"{where}: by is text, voice or both, not {raw.get('by')!r}")
    parsed = tuple(parse_step(s, f"{where} step {i + 1}") for i, s in enumerate(steps))
    if "text" in by and all(s.silence for s in parsed):
        by = tuple(b for b in by if b != "text")  # nothing to type
    rows = tuple({**ORDER_DEFAULTS, **o, "number": str(o["number"])} for o in orders)
    return Story(name=str(raw["name"]), steps=parsed, orders=rows, voice=raw.get("voice"), line=line,
                 noise=_noise(raw.get("noise"), where), by=by, source=source)


def load_stories(paths) -> list[Story]:
    """Every story in the YAML files (or the *.yml / *.yaml files of directories) given."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted([*p.glob("*.yml"), *p.glob("*.yaml")])
        elif p.exists():
            files.append(p)
        else:
            raise StoryError(f"{p}: no such file or directory")
    stories: list[Story] = []
    names: dict[str, str] = {}
    for f in files:
        try:
            doc = yaml.load(f.read_text(encoding="utf-8"), Loader=_Loader)  # _Loader is a SafeLoader
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StoryError(f"{f}: not a YAML story file ({first})") from None
        items = doc.get("stories") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise StoryError(f"{f}: expected 'stories:' with a list of stories")
        for i, raw in enumerate(items):
            story = parse_story(raw, f"{f} story {i + 1}", str(f))
            if story.name in names:
                raise StoryError(f"{f}: story {story.name!r} is also in {names[story.name]}: names must differ")
            names[story.name] = str(f)
            stories.append(story)
    if not stories:
        raise StoryError(f"no stories in {', '.join(map(str, paths))}")
    return stories


@dataclass
class Outcome:
    """What the bot did with one caller line (by text or by voice)."""
    heard: str | None  # the words the bot took in (None: no turn was heard)
    intent: str = ""
    entities: list[tuple[str, str]] = field(default_factory=list)
    answer: str = ""
    faq: str | None = None
    reply: str = ""
    handover: bool = False
    hangs_up: bool = False
    cut: bool = False  # the bot's reply before this line was cut off by it (barge-in)


def judge(step: Step, got: Outcome) -> list[str]:
    """What went wrong at this step, one phrase each; empty when the bot did what was expected."""
    if step.silence:
        problems = []
        if got.heard:
            problems.append(f"heard {got.heard!r} in the silence")
        if got.reply:
            problems.append(f"replied {got.reply!r} to the silence")
        return problems
    if got.heard is None:
        return ["no turn was heard"]
    problems = []
    if step.barge_in is not None and not got.cut:
        problems.append("did not stop talking for the caller")
    if step.intent and got.intent != step.intent:
        problems.append(f"intent {got.intent or '-'} (expected {step.intent})")
    found = {(t, v.lower()) for t, v in got.entities}
    for t, v in step.entities:
        if (t, v.lower()) not in found:
            have = ", ".join(f"{a}={b}" for a, b in got.entities) or "none"
            problems.append(f"no {t}={v} (found {have})")
    if step.answer and got.answer != step.answer:
        problems.append(f"answered from {got.answer or '-'} (expected {step.answer})")
    if step.faq and got.faq != step.faq:
        problems.append(f"FAQ {got.faq or '-'} (expected {step.faq})")
    reply = got.reply.lower()
    problems += [f"reply lacks {w!r}" for w in step.says if w.lower() not in reply]
    problems += [f"reply says {w!r}" for w in step.never_says if w.lower() in reply]
    if step.handover is not None and got.handover != step.handover:
        problems.append("handed over" if got.handover else "did not hand over")
    if step.hangs_up is not None and got.hangs_up != step.hangs_up:
        problems.append("hung up" if got.hangs_up else "did not hang up")
    return problems
