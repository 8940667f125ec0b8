"""Recorded calls: each call file through the whole pipeline, results written per call.

For every call `<out>/<call>/transcript.json` holds the caller's turns with what the bot
understood and answered, the reply audio lies beside it, and `<out>/summary.csv` has a
row per call. A file that fails is named with its reason and the batch goes on. With
`privacy.encrypt` every file is written mode 0600 and the folders made for them 0700.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asr.audio import AudioError, file_frames, find_audio_files, truncation, wav_bytes, write_wav
from asr.files import atomic_write_text
from nlu.events import BotReply, NLUResult
from nlu.redact import redact_turn
from tts.events import AudioChunk
from voicebot.bot import Bot
from voicebot.privacy.crypto import open_vault, write_bytes

SUMMARY_FIELDS = ["call", "file", "status", "error", "warning", "audio_s", "turns", "intents", "handover",
                  "asr_ms_mean", "nlu_ms_mean", "tts_first_audio_ms_mean"]


@dataclass
class CallResult:
    call: str
    file: str
    turns: list[dict] = field(default_factory=list)
    audio_s: float = 0.0
    handover: bool = False
    error: str = ""
    warning: str = ""

    def summary_row(self) -> dict:
        def mean(key):
            values = [t["latency_ms"][key] for t in self.turns if t["latency_ms"].get(key) is not None]
            return round(float(np.mean(values)), 1) if values else ""
        return {"call": self.call, "file": self.file, "status": "error" if self.error else "ok",
                "error": self.error, "warning": self.warning, "audio_s": round(self.audio_s, 2), "turns": len(self.turns),
                "intents": " ".join(t["intent"] for t in self.turns), "handover": self.handover,
                "asr_ms_mean": mean("asr"), "nlu_ms_mean": mean("nlu"),
                "tts_first_audio_ms_mean": mean("tts_first_audio")}


def call_name(path: Path, taken: set[str]) -> str:
    """The file name without its extension, made unique within one batch."""
    name, n = path.stem, 2
    while name in taken:
        name, n = f"{path.stem}-{n}", n + 1
    taken.add(name)
    return name


def process_call(bot: Bot, path: Path, out_dir: Path, name: str, channel: int | None = None,
                 vault=None) -> CallResult:
    """Run one call through the pipeline; raises AudioError for unusable audio. With a vault
    (voicebot.privacy.crypto) the transcript and reply audio are written encrypted, as NAME.enc."""
    result = CallResult(name, str(path))
    result.warning = (truncation(path) or "").split(": ", 1)[-1]
    call_dir = out_dir / name
    frames = file_frames(path, bot.config.audio.frame_ms, channel)
    last_t = 0.0

    def counted(frames):
        nonlocal last_t
        for fr in frames:
            last_t = fr.t + len(fr.samples) / fr.sample_rate
            yield fr

    turn: dict | None = None
    audio: list[np.ndarray] = []
    rate = None

    def finish_reply():
        nonlocal audio
        if turn is not None and audio:
            wav = f"turn{len(result.turns):02d}_reply.wav"
            if vault is None:
                write_wav(call_dir / wav, np.concatenate(audio), rate)
            else:
                wav = write_bytes(call_dir / wav, wav_bytes(np.concatenate(audio), rate), vault).name
            turn["reply_audio"] = wav
        audio = []

    for ev in bot.call_pipeline()(counted(frames)):
        if isinstance(ev, NLUResult):
            finish_reply()
            turn = {"start": ev.start, "end": ev.end, **ev.to_dict(), "reply": "", "reply_audio": None,
                    "latency_ms": {"asr": round(ev.asr_ms, 1), "nlu": round(ev.nlu_ms, 1),
                                   "dialogue": None, "tts_first_audio": None}}
            result.turns.append(turn)
        elif isinstance(ev, BotReply) and turn is not None and ev.turn is not None:
            turn.update(reply=ev.text, answer_source=ev.answer_source, faq=ev.faq)
            if ev.taken_as:  # the conversation took the turn for another intent than the classifier's
                turn.update(intent=ev.taken_as, nlu_intent=turn["intent"])
            turn["latency_ms"]["dialogue"] = round(ev.dialogue_ms, 1)
            if ev.handover:
                turn["handover"] = True
                result.handover = True
        elif isinstance(ev, AudioChunk) and turn is not None:
            if ev.index == 0:
                turn["latency_ms"]["tts_first_audio"] = round(ev.first_audio_ms, 1)
            audio.append(ev.samples)
            rate = ev.sample_rate
    finish_reply()
    result.audio_s = round(last_t, 3)
    doc = {"call": name, "file": str(path), "audio_s": result.audio_s, "handover": result.handover,
           **({"warning": result.warning} if result.warning else {}),
           "config": {"asr": f"{bot.config.asr.backend}/{bot.config.asr.model}", "vad": bot.config.vad.engine,
                      "tts": bot.config.tts.engine}, "turns": stored_turns(bot, result.turns)}
    write_bytes(call_dir / "transcript.json", (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode(), vault)
    return result


def stored_turns(bot: Bot, turns: list[dict]) -> list[dict]:
    """Turns as written to disk: without personal data unless the config says otherwise."""
    if not bot.config.privacy.redact:
        return turns
    return [redact_turn(t) for t in turns]


def write_summary(path: Path, results: list[CallResult], private: bool = False) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, SUMMARY_FIELDS)
    w.writeheader()
    for r in results:
        w.writerow(r.summary_row())
    atomic_write_text(path, buf.getvalue(), private)


def process_calls(bot: Bot, inputs: list[str], out_dir: str | Path, channel: int | None = None,
                  progress: bool = True, err=sys.stderr, workers: int = 2) -> list[CallResult]:
    """Every call in `inputs` (files and directories); failures are reported and skipped.
    `workers` calls go through at once, on threads sharing the engines: one call's Whisper runs
    while another's VAD, understanding and reply run on the other core. They share the order
    database as calls on a phone line do, so with more than one worker, two calls about the same
    order may be answered in either order; `workers=1` takes the calls one after another."""
    from concurrent.futures import ThreadPoolExecutor, as_completed
    out_dir = Path(out_dir)
    vault = open_vault(bot.config.privacy)  # no key: stop here, before a file is written
    private = vault is not None  # encrypted results are the operator's: 0600, folders made 0700
    files, errors = find_audio_files(inputs)
    for e in errors:
        print(f"voicebot: {e}", file=err)
    failed: list[CallResult] = [CallResult(Path(e.split(":")[0]).stem, e.split(":")[0], error=e.split(": ", 1)[-1])
                                for e in errors]
    taken: set[str] = set()
    names = [call_name(path, taken) for path in files]
    done: dict[int, CallResult] = {}
    if files:
        bot.warm_up()

    def one(path: Path, name: str) -> CallResult:
        try:
            result = process_call(bot, path, out_dir, name, channel, vault)
            if result.warning:
                print(f"voicebot: warning: {path}: {result.warning}", file=err)
            return result
        except AudioError as e:
            print(f"voicebot: {e}", file=err)
            return CallResult(name, str(path), error=str(e).split(": ", 1)[-1])
        except Exception as e:  # one bad call must not cost the others their results
            msg = f"{type(e).__name__}: {e}".splitlines()[0]
            print(f"voicebot: {path}: failed ({msg})", file=err)
            return CallResult(name, str(path), error=msg)

    def results() -> list[CallResult]:  # in the order the files were given
        return failed + [done[i] for i in sorted(done)]

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not progress, transient=False) as bar, \
            ThreadPoolExecutor(max(1, workers), thread_name_prefix="call") as pool:
        task = bar.add_task("calls", total=len(files))
        jobs = {pool.submit(one, path, name): i for i, (path, name) in enumerate(zip(files, names))}
        try:
            for job in as_completed(jobs):
                i = jobs[job]
                done[i] = job.result()
                bar.update(task, description=f"done: {names[i]}", advance=1)
                write_summary(out_dir / "summary.csv", results(), private)
        except BaseException:  # Ctrl-C: the calls not started are dropped, the summary holds the rest
            pool.shutdown(wait=True, cancel_futures=True)
            done.update({i: job.result() for job, i in jobs.items() if job.done() and not job.cancelled()})
            write_summary(out_dir / "summary.csv", results(), private)
            raise
    write_summary(out_dir / "summary.csv", results(), private)
    return results()
