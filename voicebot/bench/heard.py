"""NLU data as the recognizer hears it (issue 28): every line of a data file spoken by a test
voice, sometimes under noise and through a phone's band, decoded by Whisper as a live turn
is (short-context, greedy, no previous turn), and written again with the heard words as its
text and the gold labels kept, so the NLU learns that "do you accept paper" is still
payment_methods.

    voicebot nlu-model hear nlu/data/train.jsonl nlu/data/heard_train.jsonl
    voicebot nlu-model hear nlu/data/test.jsonl nlu/data/heard_test.jsonl --split test

A heard record is a data record plus `typed` (the line as written), `voice`, `noise` and
`line` (1-based, in the source file). Entity spans are found again in the heard text where
their words (or their value) still appear verbatim; a record where one cannot be is kept
with `"entities": null`, for intent and sentiment only (nlu.train.load_heard).

The test voices are those of the test calls (voicebot.bench.callers.VOICES); the split
`test` shifts them, so a test line is said by another voice than the training line before
it, and never by the voice that said the same words in training. Voices kept out of every
generated file for a final untouched check: festival's, and espeak's en-gb-x-rp, gbclan,
gbcwmd and en-029.
"""
from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import numpy as np

from asr.base import RATE, is_silence
from asr.faster import FasterWhisper
from asr.files import atomic_write_text
from nlu.train import load_heard
from nlu.validate import load_examples
from voicebot.bench.callers import noise, speak, telephone_band, trim

VOICES = ["espeak:en-us", "espeak:en-gb", "espeak:en-gb-scotland", "flite:slt", "flite:kal16",
          "flite:awb", "flite:rms"]
RESERVED = ("festival:", "espeak:en-gb-x-rp", "espeak:en-gb-x-gbclan", "espeak:en-gb-x-gbcwmd", "espeak:en-029")
SEEDS = {"train": 28, "test": 2028}  # noise and levels: other draws for the test split


def voice_for(index: int, split: str, text: str = "", avoid: dict[str, str] | None = None) -> str:
    """The voice of line `index` (0-based): in turn for `train`, three further on for `test`,
    and for `test` never the voice `avoid` says said the same words in training."""
    voice = VOICES[(index + (3 if split == "test" else 0)) % len(VOICES)]
    used = (avoid or {}).get(_key(text))
    if used == voice:
        voice = VOICES[(VOICES.index(voice) + 1) % len(VOICES)]
    return voice


def line_audio(text: str, index: int, split: str, voice: str) -> tuple[np.ndarray, str]:
    """The line spoken, as the VAD would hand it over (a little silence either side), and how
    it was dressed: about half the lines under white noise or mains hum at -50 to -40 dBFS,
    about half (independently) through the phone's 300-3400 Hz, some 6 or 12 dB quieter."""
    rng = np.random.default_rng([SEEDS[split], index])
    rate = [None, None, 140, 185][int(rng.integers(4))]
    speech = trim(speak(text, voice, rate)) * 10 ** (-[0, 0, 6, 12][int(rng.integers(4))] / 20)
    pad = np.zeros(int(0.25 * RATE), np.float32)
    audio = np.concatenate([pad, speech, pad])
    dress = []
    if rng.random() < 0.5:
        kind, level = ["white", "hum"][int(rng.integers(2))], float(rng.uniform(-50, -40))
        audio = audio + noise(kind, (len(audio) + 1) / RATE, level, seed=int(rng.integers(1 << 30)))[:len(audio)]
        dress.append(f"{kind}{-level:.0f}")
    if rng.random() < 0.5:
        audio = telephone_band(audio)
        dress.append("phone")
    return np.clip(audio, -1, 1).astype(np.float32), "+".join(dress) or "clean"


def relocate(entities: list[dict], typed: str, heard: str) -> list[dict] | None:
    """The entities' spans in the heard text, found by their typed words or their value
    (case aside, at word edges, in order); None when any one is not there verbatim."""
    out, pos = [], 0
    for e in sorted(entities, key=lambda e: e["start"]):
        for words in dict.fromkeys((typed[e["start"]:e["end"]].strip(), str(e["value"]).strip())):
            m = re.compile(r"(?<!\w)" + re.escape(words) + r"(?!\w)", re.IGNORECASE).search(heard, pos) if words else None
            if m:
                out.append({"start": m.start(), "end": m.end(), "type": e["type"], "value": e["value"]})
                pos = m.end()
                break
        else:
            return None
    return out


def heard_record(ex: dict, heard: str, voice: str, dress: str, line: int) -> dict:
    entities = relocate(ex["entities"], ex["text"], heard) if ex["entities"] else []
    return {"text": heard, "intent": ex["intent"], "sentiment": ex["sentiment"], "entities": entities,
            "typed": ex["text"], "voice": voice, "noise": dress, "line": line}


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def voices_used(path: str | Path, every: int = 1) -> dict[str, str]:
    """Typed words -> the voice that said them in training: from a heard file's records, or
    for a data file, the voices `generate` gives its lines (every `every`-th) as split `train`."""
    path = Path(path)
    if path.name.startswith("heard"):
        return {_key(r["typed"]): r["voice"] for r in load_heard(path)}
    return {_key(ex["text"]): voice_for(i, "train") for i, ex in enumerate(load_examples(path)) if i % every == 0}


def generate(src: str | Path, dst: str | Path, split: str = "train", model: str = "base",
             every: int = 1, limit: int | None = None, batch: int = 8, avoid: dict[str, str] | None = None,
             progress: bool = True, recognizer=None) -> dict:
    """Hear every `every`-th line of `src` (`limit` of those, drawn at random) and write `dst`.
    Resumable: records go to `<dst>.partial` as they are heard, and a run that finds one goes on
    after its last line; `dst` is written (atomically) at the end and the partial file removed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    if split not in SEEDS:
        raise ValueError(f"split must be one of {', '.join(SEEDS)}")
    examples = load_examples(src)
    # heard in a shuffled (fixed) order, so that `limit` (or a run stopped and finished with the
    # `limit` it reached) keeps a sample of every intent, not the first ones of the file
    todo = [(i, ex) for i, ex in enumerate(examples) if i % every == 0]
    random.Random(len(todo)).shuffle(todo)
    todo = sorted(todo[:limit], key=lambda t: t[0])
    dst = Path(dst)
    partial = dst.with_name(dst.name + ".partial")
    done = {}
    if partial.is_file():
        for line in partial.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["line"]] = r
    rest = [(i, ex) for i, ex in todo if i + 1 not in done]
    asr = recognizer or FasterWhisper(model, device="cpu", threads=1)
    t0 = time.perf_counter()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn()]
    with Progress(*columns, disable=not progress) as bar, partial.open("a", encoding="utf-8") as out:
        task = bar.add_task(f"hearing {Path(src).name}", total=len(todo), completed=len(todo) - len(rest))
        random.Random(1).shuffle(rest)
        for k in range(0, len(rest), batch):
            chunk = rest[k:k + batch]
            voices = [voice_for(i, split, ex["text"], avoid) for i, ex in chunk]
            heard = [line_audio(ex["text"], i, split, v) for (i, ex), v in zip(chunk, voices)]
            results = asr.transcribe_many([(a, None) for a, _ in heard])
            for (i, ex), v, (_, dress), r in zip(chunk, voices, heard, results):
                # what a live call would not hear (is_silence) is kept with empty text and dropped below
                text = "" if is_silence(r) else " ".join(r.text.split())
                done[i + 1] = heard_record(ex, text, v, dress, i + 1)
                out.write(json.dumps(done[i + 1]) + "\n")
            out.flush()
            bar.update(task, advance=len(chunk))
    records = [done[i + 1] for i, _ in todo if done[i + 1]["text"]]
    atomic_write_text(dst, "".join(json.dumps(r) + "\n" for r in records))
    partial.unlink()
    load_heard(dst)  # what was written must load for training
    changed = sum(_words(r["text"]) != _words(r["typed"]) for r in records)
    return {"file": str(dst), "lines": len(todo), "records": len(records), "unheard": len(todo) - len(records),
            "intent_only": sum(r["entities"] is None for r in records), "words_changed": changed,
            "seconds": round(time.perf_counter() - t0, 1), "heard_now": len(rest)}
