"""Scoring recorded calls against reference transcripts: `voicebot bench score`.

A reference is a `.txt` beside each call file, with the same name: one caller turn per
line, optionally a tab and the turn's intent, and optionally another tab and the turn's
start and end in seconds ("Where is my order?<TAB>order_status<TAB>0.50 2.31"; `voicebot
bench test-calls` writes them). The scorer reads `voicebot call` results
(`<results>/<call>/transcript.json`) and reports, per call and overall:
- WER of the whole call (Whisper's normalizer, digit runs in one spelling: asr.wer);
- turn segmentation: each reference turn is matched to the recognized turns that hold it; a
  turn is right when exactly one recognized turn holds it and nothing else, merged when it
  shares a recognized turn with another reference turn, split when it spreads over several,
  missed when none holds it. With times in the reference, a recognized turn holds the
  reference turns its span overlaps (by 0.3 s, or half a shorter turn); without them, the
  ones its words landed in (a word alignment of the two texts, where a misheard word can
  land in the neighbouring turn);
- turn-intent accuracy: the intent of the recognized turn holding most of it (words or time).
`--plain` also runs plain faster-whisper with the library's own defaults on the same files
(`WhisperModel(model).transcribe(file, vad_filter=True)`: beam 5, 30 s windows, its Silero
VAD), so voicebot and the library are compared in one command.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import audio_info, find_audio_files
from asr.files import atomic_write_text, save_png
from asr.models import faster_whisper_model
from asr.repeats import shared_run
from asr.wer import normalize
from voicebot.recorded import process_calls

Span = tuple[float, float]


@dataclass
class Reference:
    turns: list[str]
    intents: list[str | None]
    spans: list[Span] | None = None  # each turn's (start, end) in seconds, when every line gives it


def read_reference(path: Path) -> Reference:
    turns, intents, spans = [], [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        text, intent, times = (line.split("\t") + ["", ""])[:3]
        turns.append(text.strip())
        intents.append(intent.strip() or None)
        if times.strip():
            try:
                start, end = (float(x) for x in times.split())
            except ValueError:
                raise ValueError(f"{path}:{n}: the times must be 'START END' in seconds, not {times.strip()!r}") from None
            spans.append((start, end))
    if not turns:
        raise ValueError(f"{path}: no reference turns")
    return Reference(turns, intents, spans if len(spans) == len(turns) else None)


def held_s(ref: Span, hyp: Span) -> float | None:
    """The seconds of a reference turn a recognized turn holds: it holds the turn when it
    covers 0.3 s of it, or half of a shorter one (a recognized turn's span carries a little
    of the silence around it); None when it does not."""
    shared = min(ref[1], hyp[1]) - max(ref[0], hyp[0])
    return shared if shared >= min(0.3, (ref[1] - ref[0]) / 2) else None


def align(ref: list[str], hyp: list[str]) -> list[int | None]:
    """For each reference word, the index of the hypothesis word aligned to it (match or
    substitution), or None (deleted): a Levenshtein alignment."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    out: list[int | None] = [None] * n
    i, j = n, m
    while i > 0 and j > 0:
        if d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            out[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return out


@dataclass
class CallScore:
    call: str
    ref_words: int = 0
    errors: int = 0
    turns: int = 0
    right: int = 0
    merged: int = 0
    split: int = 0
    missed: int = 0
    found: int = 0  # recognized turns
    intents: int = 0  # reference turns with an intent
    intents_right: int = 0
    numbers: int = 0  # digit strings (order and phone numbers) in the reference
    numbers_right: int = 0  # ... heard as the same digits in the turn that holds them
    echoes: int = 0  # turns whose words carry an earlier turn's words back (see echoed)
    by_time: bool = False  # turns matched by their times (else by their words)
    detail: list[dict] = field(default_factory=list)


def score_call(name: str, ref: Reference, hyp_turns: list[str], hyp_intents: list[str | None],
               hyp_spans: list[Span] | None = None) -> CallScore:
    import jiwer
    ref_norm = [normalize(t).split() for t in ref.turns]
    hyp_norm = [normalize(t).split() for t in hyp_turns]
    ref_words = [w for t in ref_norm for w in t]
    ref_turn = [i for i, t in enumerate(ref_norm) for _ in t]
    hyp_words = [w for t in hyp_norm for w in t]
    hyp_turn = [j for j, t in enumerate(hyp_norm) for _ in t]
    s = CallScore(name, len(ref_words), turns=len(ref.turns), found=len(hyp_turns))
    if ref_words:
        if hyp_words:
            out = jiwer.process_words(" ".join(ref_words), " ".join(hyp_words))
            s.errors = out.substitutions + out.deletions + out.insertions
        else:
            s.errors = len(ref_words)
    holds: list[dict[int, float]] = [{} for _ in ref.turns]  # reference turn -> {recognized turn: weight}
    s.by_time = bool(ref.spans) and hyp_spans is not None
    if s.by_time:  # what the caller said when
        for i, r in enumerate(ref.spans):
            holds[i] = {j: t for j, h in enumerate(hyp_spans) if (t := held_s(r, h)) is not None}
    else:  # by words: which recognized turns each reference turn's words landed in
        for k, j in enumerate(align(ref_words, hyp_words)):
            if j is not None:
                h = hyp_turn[j]
                holds[ref_turn[k]][h] = holds[ref_turn[k]].get(h, 0) + 1
        # a recognized turn holds a reference turn when two or more of its words (or the whole
        # of a one-word turn) align there: one stray aligned word is an ASR error, not a merge
        for i, hs in enumerate(holds):
            need = min(2, len(ref_norm[i]))
            holds[i] = {h: c for h, c in hs.items() if c >= need}
    owners: dict[int, set[int]] = {}
    for i, hs in enumerate(holds):
        for h in hs:
            owners.setdefault(h, set()).add(i)
    for i, hs in enumerate(holds):
        if not hs:
            state = "missed"
        elif len(hs) > 1:
            state = "split"
        elif len(owners[next(iter(hs))]) > 1:
            state = "merged"
        else:
            state = "right"
        setattr(s, state, getattr(s, state) + 1)
        got = hyp_intents[max(hs, key=hs.get)] if hs else None
        heard = " ".join(hyp_turns[h] for h in sorted(hs))
        numbers = [w for w in ref_norm[i] if w.isdigit() and len(w) > 1]
        s.numbers += len(numbers)
        s.numbers_right += sum(w in normalize(heard).split() for w in numbers)
        if ref.intents[i]:
            s.intents += 1
            s.intents_right += got == ref.intents[i]
        earlier = [hyp_norm[h] for h in range(min(hs, default=0))]
        echo = echoed(normalize(heard).split(), earlier, ref_norm[i])
        s.echoes += echo is not None
        s.detail.append({"turn": ref.turns[i], "segmentation": state, "intent": ref.intents[i], "got_intent": got,
                         "heard": heard, "echo": echo})
    return s


def echoed(heard: list[str], earlier: list[list[str]], said: list[str]) -> str | None:
    """The words of an earlier recognized turn that come back in this one although the caller did
    not say them here (a decode given the earlier turns as context can repeat them): the longest
    run of at least min(4, that turn's length) words, two at the least, that `heard` shares with
    an earlier turn and the reference turn `said` lacks. None when there is none."""
    said_text = f" {' '.join(said)} "
    return " ".join(shared_run(heard, earlier, lambda run: f" {' '.join(run)} " not in said_text)) or None


def voicebot_turns(results: Path, name: str) -> tuple[list[str], list[str | None], list[Span]]:
    doc = json.loads((results / name / "transcript.json").read_text())
    turns = doc["turns"]
    return [t["text"] for t in turns], [t.get("intent") for t in turns], [(t["start"], t["end"]) for t in turns]


def totals(scores: list[CallScore]) -> dict:
    def ratio(a, b):
        return round(a / b, 4) if b else None
    n = lambda key: sum(getattr(s, key) for s in scores)  # noqa: E731
    return {"calls": len(scores), "ref_words": n("ref_words"), "wer": ratio(n("errors"), n("ref_words")),
            "turns": n("turns"), "found": n("found"), "right": n("right"), "merged": n("merged"),
            "split": n("split"), "missed": n("missed"), "segmentation": ratio(n("right"), n("turns")),
            "intent_accuracy": ratio(n("intents_right"), n("intents")),
            "numbers": n("numbers"), "numbers_right": n("numbers_right"), "echoed_turns": n("echoes"),
            "turns_matched_by": ",".join(sorted({"time" if s.by_time else "words" for s in scores}))}


def plain_faster_whisper(files: list[Path], model: str, progress: bool) -> tuple[dict[str, tuple], float]:
    """Plain faster-whisper with its own defaults (beam 5, 30 s windows) and its VAD filter."""
    from faster_whisper import WhisperModel

    m = WhisperModel(faster_whisper_model(model), device="auto", compute_type="default")
    out, t0 = {}, time.perf_counter()
    for f in _progress(files, "plain faster-whisper", progress):
        segments = list(m.transcribe(str(f), vad_filter=True)[0])  # its segments are its turns
        out[f.stem] = ([s.text.strip() for s in segments], [None] * len(segments), [(s.start, s.end) for s in segments])
    return out, time.perf_counter() - t0


def _progress(items, label, enabled):
    from rich.progress import track
    return track(items, description=label, disable=not enabled, transient=True)


def reference_files(inputs: list[str]) -> tuple[list[Path], list[str]]:
    files, errors = find_audio_files(inputs)
    keep = []
    for f in files:
        if f.with_suffix(".txt").is_file():
            keep.append(f)
        else:
            errors.append(f"{f}: no reference {f.with_suffix('.txt').name} beside it")
    return keep, errors


def run(args, bot_factory) -> int:
    """`voicebot bench score`: see the module's docstring."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 150)
    files, errors = reference_files(args.inputs)
    for e in errors:
        print(f"voicebot bench score: {e}", file=sys.stderr)
    if not files:
        print("voicebot bench score: no call with a reference transcript", file=sys.stderr)
        return 2
    systems: dict[str, dict] = {}
    results = Path(args.results) if args.results else None
    if results is None:  # run voicebot on the files first
        results = Path(args.out or "runs/score") / "voicebot"
        bot = bot_factory()
        bot.config.privacy.redact = False  # scored word for word against the references: digit strings stay
        t0 = time.perf_counter()
        process_calls(bot, [str(f) for f in files], results, bot.config.audio.channel, progress=not args.quiet)
        systems["voicebot"] = {"seconds": round(time.perf_counter() - t0, 2)}
    else:
        systems["voicebot"] = {"seconds": None}
    hyps = {}
    for f in files:
        try:
            hyps[f.stem] = voicebot_turns(results, f.stem)
        except (OSError, ValueError, KeyError) as e:
            print(f"voicebot bench score: {results / f.stem / 'transcript.json'}: unreadable ({e})", file=sys.stderr)
    systems["voicebot"]["hyps"] = hyps
    if args.plain:
        texts, secs = plain_faster_whisper(files, args.plain_model, not args.quiet)
        systems[f"plain faster-whisper {args.plain_model}"] = {
            "seconds": round(secs, 2), "hyps": texts}
    audio_s = sum(_duration(f) for f in files)
    report = {"audio_s": round(audio_s, 2), "systems": {}}
    table = Table(title=f"{len(files)} call(s), {audio_s:.0f} s of audio")
    for col in ("system", "WER", "turns right", "merged", "split", "missed", "echoed", "numbers right",
                "intent acc", "seconds", "x real time"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for label, sysd in systems.items():
        scores = [score_call(f.stem, read_reference(f.with_suffix(".txt")), *sysd["hyps"][f.stem])
                  for f in files if f.stem in sysd["hyps"]]
        tot = totals(scores)
        secs = sysd["seconds"]
        tot["seconds"] = secs
        tot["x_real_time"] = round(audio_s / secs, 2) if secs else None
        report["systems"][label] = {"total": tot, "calls": [s.__dict__ for s in scores]}
        pct = lambda v: "-" if v is None else f"{100 * v:.1f} %"  # noqa: E731
        table.add_row(label, pct(tot["wer"]), f"{tot['right']}/{tot['turns']} ({pct(tot['segmentation'])})",
                      str(tot["merged"]), str(tot["split"]), str(tot["missed"]), str(tot["echoed_turns"]),
                      f"{tot['numbers_right']}/{tot['numbers']}",
                      pct(tot["intent_accuracy"]) if label == "voicebot" else "-",  # plain has no NLU
                      "-" if secs is None else f"{secs:.1f}", "-" if not secs else f"{audio_s / secs:.1f}x")
    console.print(table)
    if args.verbose:
        for s in report["systems"]["voicebot"]["calls"]:
            for d in s["detail"]:
                if d["segmentation"] != "right" or d["intent"] != d["got_intent"] or d["echo"]:
                    echo = f"; echoes {d['echo']!r}" if d["echo"] else ""
                    console.print(f"{s['call']}: [{d['segmentation']}] {d['turn']!r} -> {d['heard']!r} "
                                  f"({d['got_intent']}, expected {d['intent']}{echo})", markup=False)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    if args.plot:
        plot(report, args.plot)
    return 1 if errors else 0


def plot(report: dict, path: str) -> None:
    """WER and turns right, one bar per system."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(report["systems"])
    totals_ = [report["systems"][k]["total"] for k in labels]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, key, title in ((axes[0], "wer", "WER % (lower is better)"),
                           (axes[1], "segmentation", "turns right % (higher is better)")):
        values = [100 * (t[key] or 0) for t in totals_]
        ax.barh(labels, values, color=["tab:blue", "tab:gray", "tab:orange", "tab:green"][:len(labels)] if len(labels) <= 4 else None)
        ax.set_title(title)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.1f}", va="center")
        ax.set_xlim(0, max(values + [1]) * 1.2)
    fig.suptitle(f"{totals_[0]['calls']} calls, {report['audio_s']:.0f} s of audio")
    fig.tight_layout()
    save_png(fig, path)


def _duration(path: Path) -> float:
    info = audio_info(path)
    return info.frames / info.samplerate


def add_arguments(p) -> None:
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="call files (each with a same-named .txt reference)")
    p.add_argument("--results", help="a `voicebot call` output directory (default: run voicebot on the files now)")
    p.add_argument("--out", help="where a run's results go (default runs/score)")
    p.add_argument("--plain", action="store_true", help="also run plain faster-whisper with its defaults")
    p.add_argument("--plain-model", default="base", help="model for --plain (default base)")
    p.add_argument("--json", help="write the scores as JSON")
    p.add_argument("--plot", help="write WER and turn segmentation as a PNG")
    p.add_argument("-v", "--verbose", action="store_true", help="list every turn that was not right")
    p.add_argument("-q", "--quiet", action="store_true")
