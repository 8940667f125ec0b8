"""`voicebot bench archive`: throughput of `voicebot analyze` on archive calls, in audio hours
per wall hour (x real time), embedded and on Ray with 1 and 2 workers, beside plain
faster-whisper with its defaults on the same calls; WER of both against the scripts.

Each run is a fresh `voicebot analyze` process, timed from start to exit (model loading and
worker start-up included, as a user waits for them). Plain faster-whisper runs each speaker's
channel through WhisperModel.transcribe (beam 5, 30 s windows, its Silero VAD filter, as
`voicebot bench score --plain` does), its model load included.

    voicebot bench archive --calls 16 --json runs/bench-archive.json --markdown runs/bench-archive.md
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from asr.audio import load_audio
from asr.files import atomic_write_text
from asr.models import faster_whisper_model
from asr.wer import wer
from voicebot.bench.archive_calls import CALLS, write
from voicebot.bench.yardstick import yardstick_ms

RUNS = {"embedded, 1 worker": ["--workers", "1"], "embedded, 2 workers": ["--workers", "2"],
        "Ray local, 1 actor": ["--ray", "local", "--workers", "1"],
        "Ray local, 2 actors": ["--ray", "local", "--workers", "2"]}
VOICES = [("flite:slt", "espeak:en-us"), ("espeak:en-gb", "flite:awb"), ("flite:slt", "flite:rms"),
          ("flite:awb", "espeak:en-us")]


def add_arguments(p) -> None:
    p.add_argument("--calls", type=int, default=16, help="archive test calls to make (the scripts in turn, other voices)")
    p.add_argument("--out", default="runs/bench-archive", help="where calls and runs go")
    p.add_argument("--run", action="append", choices=list(RUNS), help="only these runs (repeatable)")
    p.add_argument("--no-plain", action="store_true", help="skip plain faster-whisper")
    p.add_argument("--json"), p.add_argument("--markdown")


def make_calls(n: int, out: Path):
    calls = []
    for i in range(n):
        base = CALLS[i % len(CALLS)]
        agent, customer = VOICES[(i // len(CALLS)) % len(VOICES)]
        call = dataclasses.replace(base, name=f"{base.name}_{i:03d}", agent_voice=agent, customer_voice=customer)
        if not (out / f"{call.name}.wav").exists():
            write(call, out, seed=i)
        calls.append(call)
    return calls


def references(call) -> dict[str, str]:
    """What each track said: per speaker on stereo, everything on a mixed track."""
    if call.mono_8k:
        return {"mixed": " ".join(t[1] for t in call.turns)}
    return {s: " ".join(t[1] for t in call.turns if t[0] == s) for s in ("agent", "customer")}


def hypotheses(doc: dict) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for u in doc["utterances"]:
        out.setdefault(u["speaker"], []).append(u["text"])
    return {k: " ".join(v) for k, v in out.items()}


def corpus_wer(calls, hyps: dict[str, dict[str, str]]) -> float:
    refs, got = [], []
    for c in calls:
        for speaker, text in references(c).items():
            refs.append(text)
            got.append(hyps.get(c.name, {}).get(speaker, ""))
    return wer(refs, got)


def run_analyze(files: list[Path], out: Path, extra: list[str]) -> dict:
    import shutil
    shutil.rmtree(out, ignore_errors=True)
    # the files, not their folder: it may hold more calls from an earlier, bigger run
    cmd = [sys.executable, "-m", "voicebot", "analyze", *map(str, files), "--out", str(out), "--channels",
           "agent=0,customer=1", "--no-report", "-q", *extra]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    docs = [json.loads(p.read_text()) for p in (out / "calls").glob("*.json")]
    return {"wall_s": wall, "docs": docs}


def run_plain(calls, calls_dir: Path, model: str = "base") -> tuple[float, dict]:
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    m = WhisperModel(faster_whisper_model(model), device="auto", compute_type="default")
    hyps = {}
    for c in calls:
        tracks = {"mixed": None} if c.mono_8k else {"agent": 0, "customer": 1}
        hyps[c.name] = {}
        for speaker, ch in tracks.items():
            segments, _ = m.transcribe(load_audio(calls_dir / f"{c.name}.wav", ch), vad_filter=True)
            hyps[c.name][speaker] = " ".join(s.text.strip() for s in segments)
    return time.perf_counter() - t0, hyps


def main(args) -> int:
    out = Path(args.out)
    calls_dir = out / "calls"
    calls = make_calls(args.calls, calls_dir)
    load = os.getloadavg()[0]
    yardstick = {"start": yardstick_ms()}
    rows = []
    audio_s = None
    files = [calls_dir / f"{c.name}.wav" for c in calls]
    for label in args.run or list(RUNS):
        extra = RUNS[label] + (["--config", args.config] if args.config else [])  # --config: the engine options' own
        r = run_analyze(files, out / "runs" / label.replace(" ", "_").replace(",", ""), extra)
        docs = r["docs"]
        audio_s = sum(d["duration_s"] for d in docs)
        stages = {k: sum(d["stage_s"][k] for d in docs) for k in docs[0]["stage_s"]}
        rows.append({"run": label, "calls": len(docs), "audio_s": round(audio_s, 1), "wall_s": round(r["wall_s"], 1),
                     "x_real_time": round(audio_s / r["wall_s"], 1),
                     "wer": round(corpus_wer(calls, {d["call"]: hypotheses(d) for d in docs}), 4),
                     # CPU seconds per audio hour in each stage, summed over workers
                     "stage_s_per_audio_h": {k: round(v / audio_s * 3600) for k, v in stages.items()}})
        print(f"{label}: {rows[-1]['x_real_time']}x real time, WER {rows[-1]['wer']:.1%}", flush=True)
    if not args.no_plain:
        import soundfile as sf
        audio_s = audio_s or sum(sf.info(str(f)).duration for f in files)
        wall, hyps = run_plain(calls, calls_dir)
        rows.append({"run": "plain faster-whisper base (defaults)", "calls": len(calls), "audio_s": round(audio_s, 1),
                     "wall_s": round(wall, 1), "x_real_time": round(audio_s / wall, 1),
                     "wer": round(corpus_wer(calls, hyps), 4), "stage_s_per_audio_h": {}})
        print(f"plain: {rows[-1]['x_real_time']}x real time, WER {rows[-1]['wer']:.1%}", flush=True)
    yardstick["end"] = yardstick_ms()
    report = {"machine": f"{os.cpu_count()} CPU cores", "load_average_at_start": round(load, 2), "config": args.config,
              "yardstick_ms": yardstick, "calls": len(calls), "results": rows}
    md = to_markdown(report)
    print(md)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    if args.markdown:
        atomic_write_text(args.markdown, md)
    return 0


def to_markdown(report: dict) -> str:
    y = report.get("yardstick_ms") or {}
    lines = [f"{report['calls']} calls, {report['machine']}, load average {report['load_average_at_start']} at the start, "
             f"yardstick {y.get('start')} / {y.get('end')} ms at the start / end (voicebot/bench/yardstick.py)",
             "", "| run | audio | wall | x real time | WER | ASR / NLU / audio+VAD s per audio hour |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in report["results"]:
        st = r["stage_s_per_audio_h"]
        lines.append(f"| {r['run']} | {r['audio_s']:.0f} s | {r['wall_s']:.1f} s | {r['x_real_time']} | {r['wer']:.1%} | "
                     f"{' / '.join(str(st[k]) for k in ('asr', 'nlu', 'audio_vad_other')) if st else '-'} |")
    return "\n".join(lines) + "\n"
