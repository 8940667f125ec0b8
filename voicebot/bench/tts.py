"""TTS benchmark: Piper (piper-tts) and the same Piper voice run by Coqui, side by side.

    voicebot bench tts [--json OUT] [--markdown OUT] [--plot OUT.png] [--repeats N] [--engines piper,coqui]

Both engines speak the same replies in one run, taking turns reply by reply. Per engine:
load time (for Coqui: the worker process start, torch and Coqui imports included),
first-audio latency (synthesize() called to its first chunk, p50/p95 over replies x
repeats), total synthesis time, real-time factor (synthesis time / audio duration), and the
WER of faster-whisper tiny.en on the first round (a check that both speak the same words).
One warm-up reply per engine is not counted.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from asr.audio import resample
from asr.faster import FasterWhisper
from asr.files import atomic_write_text, save_png
from asr.wer import wer
from tts import ENGINES, load_synthesizer
from voicebot.bench.asr import machine, percentile

REPLIES = [
    "Thanks for calling. How can I help you today?",
    "Your order has shipped. It arrives on Friday.",
    "Could you tell me your order number, please?",
    "I found order four five six seven, wireless headphones, placed on Monday.",
    "The refund of twenty five dollars is on its way to your card.",
    "Your order is cancelled. You will get an email confirmation shortly.",
    "I am sorry about the delay. The parcel left our warehouse this morning.",
    "Let me transfer you to a colleague who can help with that.",
    "Is there anything else I can do for you?",
    "Thank you for calling. Goodbye.",
]
WARMUP = "Hello, this is a warm-up."


def speak(synth, text: str) -> tuple[list[np.ndarray], float, float]:
    """The reply's chunks, its first-audio latency (ms) and its total time (s)."""
    chunks, first_ms = [], 0.0
    t0 = time.perf_counter()
    for chunk in synth.synthesize(text):
        if not chunks:
            first_ms = (time.perf_counter() - t0) * 1000
        chunks.append(chunk)
    return chunks, first_ms, time.perf_counter() - t0


def run(engines: list[str], repeats: int, recognizer) -> list[dict]:
    synths, results = {}, {}
    try:
        for name in engines:
            t0 = time.perf_counter()
            synths[name] = load_synthesizer(name, device="cpu")  # no voice: the bundled Piper voice
            results[name] = {"engine": name, "model": getattr(synths[name], "model", "piper-tts en_US-joe-medium"),
                             "sample_rate": synths[name].sample_rate, "load_s": time.perf_counter() - t0,
                             "first_ms": [], "synthesis_s": 0.0, "audio_s": 0.0, "heard": []}
            speak(synths[name], WARMUP)
        # engines take turns reply by reply, so a busy moment on the machine hits both alike
        for r in range(repeats):
            for text in REPLIES:
                for name, synth in synths.items():
                    chunks, first_ms, total_s = speak(synth, text)
                    res = results[name]
                    res["first_ms"].append(first_ms)
                    res["synthesis_s"] += total_s
                    res["audio_s"] += sum(len(c) for c in chunks) / synth.sample_rate
                    if r == 0 and recognizer is not None:  # sentence by sentence: tiny.en drops less
                        res["heard"].append(" ".join(recognizer(c, synth.sample_rate) for c in chunks))
    finally:  # the Coqui worker process goes with its engine, whatever happened
        for synth in synths.values():
            if hasattr(synth, "close"):
                synth.close()
    return [summary(res, repeats) for res in results.values()]


def summary(res: dict, repeats: int) -> dict:
    out = {k: res[k] for k in ("engine", "model", "sample_rate")}
    out.update(load_s=round(res["load_s"], 3), first_audio_ms=[round(x, 1) for x in res["first_ms"]],
               first_audio_ms_p50=round(percentile(res["first_ms"], 50), 1),
               first_audio_ms_p95=round(percentile(res["first_ms"], 95), 1),
               synthesis_s=round(res["synthesis_s"], 3), audio_s=round(res["audio_s"], 2),
               rtf=round(res["synthesis_s"] / res["audio_s"], 4), replies=len(REPLIES) * repeats)
    if res["heard"]:
        out.update(wer=round(wer(REPLIES, res["heard"]), 4), heard=res["heard"])
    return out


def whisper_tiny():
    model = FasterWhisper("tiny.en", device="cpu")
    return lambda audio, rate: model.transcribe(resample(audio, rate, 16000)).text


def print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"TTS, {len(REPLIES)} replies x {results[0]['replies'] // len(REPLIES)} repeats (CPU)")
    for col in ("engine", "load s", "first p50 ms", "first p95 ms", "synth s", "audio s", "RTF", "WER"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for r in results:
        table.add_row(r["engine"], f"{r['load_s']:.2f}", f"{r['first_audio_ms_p50']:.0f}",
                      f"{r['first_audio_ms_p95']:.0f}", f"{r['synthesis_s']:.2f}", f"{r['audio_s']:.1f}",
                      f"{r['rtf']:.3f}", f"{100 * r['wer']:.1f}%" if "wer" in r else "-")
    Console().print(table)


def to_markdown(results: list[dict]) -> str:
    lines = ["| engine | load s | first audio p50 ms | p95 ms | synthesis s | audio s | RTF | WER % |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        wer = f"{100 * r['wer']:.1f}" if "wer" in r else "-"
        lines.append(f"| {r['engine']} | {r['load_s']:.2f} | {r['first_audio_ms_p50']:.0f} | "
                     f"{r['first_audio_ms_p95']:.0f} | {r['synthesis_s']:.2f} | {r['audio_s']:.1f} | "
                     f"{r['rtf']:.3f} | {wer} |")
    return "\n".join(lines) + "\n"


def plot(results: list[dict], path: str | Path) -> None:
    """First-audio latency per reply (box plot) beside the real-time factor per engine."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 0.7 * len(results) + 2.2),
                                  gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    ax.boxplot([r["first_audio_ms"] for r in results], orientation="horizontal", tick_labels=[r["engine"] for r in results])
    ax.set_xlabel("first audio of a reply, ms")
    ax.set_title("TTS first-audio latency (same replies, engines taking turns)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax2.barh(range(1, len(results) + 1), [r["rtf"] for r in results], color="tab:green")
    ax2.set_xlabel("real-time factor")
    ax2.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", help="write the results here")
    p.add_argument("--markdown", help="write a markdown table here")
    p.add_argument("--plot", help="write a PNG plot here")
    p.add_argument("--repeats", type=int, default=3, help="times each reply is spoken (default 3)")
    p.add_argument("--engines", default="piper,coqui", help="comma-separated (default piper,coqui)")
    p.add_argument("--no-wer", action="store_true", help="skip the ASR check")


def bench(args) -> int:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown or not engines:
        raise ValueError(f"unknown engine(s) {', '.join(sorted(unknown)) or '(none)'}: {', '.join(ENGINES)}")
    if args.repeats < 1:
        raise ValueError("--repeats must be 1 or more")
    recognizer = None if args.no_wer else whisper_tiny()
    results = run(engines, args.repeats, recognizer)
    print_table(results)
    if args.json:
        report = {"machine": machine(), "replies": REPLIES, "repeats": args.repeats, "results": results}
        atomic_write_text(args.json, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    if args.markdown:
        atomic_write_text(args.markdown, to_markdown(results))
        print(f"wrote {args.markdown}")
    if args.plot:
        plot(results, args.plot)
        print(f"wrote {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicebot.bench.tts", description=__doc__.split("\n")[0])
    add_arguments(p)
    return bench(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
