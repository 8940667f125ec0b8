"""`voicebot bench latency`: voice-to-voice time of live calls, measured the way a caller hears it.

Scripted conversations (voicebot.bench.callers: espeak-ng and flite voices, steady noise under
everything) go through a LiveSession on the simulated device in real time. Each caller line
is said once the bot's previous reply has ended (and a pause). Per line: from the caller's
last voiced sample to the first sample of the bot's reply as the device plays it, and the
session's breakdown of that time: endpoint wait (silence waited, less the ASR and NLU that
ran inside it), ASR, NLU, dialogue, TTS first audio, and what is left (queues, the device).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from asr.files import atomic_write_text, save_png
from voicebot.bench.asr import machine, percentile
from voicebot.bench.callers import SCRIPTS, VOICES, noise, speak, trim
from voicebot.bot import Bot
from voicebot.live.session import LiveSession
from voicebot.live.simulated import Line, Script, SimulatedDevice
from voicebot.options import UsageError, load_config

PARTS = ("endpoint", "asr", "nlu", "dialogue", "tts_first_audio")


def add_arguments(p) -> None:
    p.add_argument("--calls", type=int, default=6, help="how many scripted calls (of 12; default 6)")
    p.add_argument("--noise", action="append", choices=["white", "hum", "babble", "none"],
                   help="background noise, call by call in turn (default: white, hum)")
    p.add_argument("--level", type=float, default=-50.0, help="noise RMS in dBFS (default -50)")
    p.add_argument("--echo-ms", type=float, help="mix the bot's voice back into the microphone at this delay")
    p.add_argument("--echo-db", type=float, default=-15.0, help="... and this level (default -15 dB)")
    p.add_argument("--pause", type=float, default=0.8, help="the caller's pause after each reply, s")
    p.add_argument("--json"), p.add_argument("--plot")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run_call(bot, turns, voice, noise_kind, level, pause, echo_ms, echo_db, seed=0) -> list[dict]:
    lines = [Line(trim(speak(text, voice)), "after_reply", pause, text) for text, _ in turns]
    dev = SimulatedDevice(echo_delay_ms=echo_ms, echo_db=echo_db,
                          noise=noise(noise_kind, 20.0, level, seed) if noise_kind != "none" else None)
    session = LiveSession(bot, on_event=dev.on_event, out_rate=16000)
    try:
        run = dev.run(session, Script(lines), max_s=30.0 + 12 * len(lines))
    finally:
        session.close()
    out = []
    used: set[int] = set()
    for (text, intent), heard in zip(turns, run.lines):
        # the session's turn for this line: the one that ended nearest the line's voice end
        cands = [(abs(t["end"] - heard.voice_end), i) for i, t in enumerate(session.turns)
                 if i not in used and abs(t["end"] - heard.voice_end) < 1.0]
        turn = session.turns[min(cands)[1]] if cands else None
        if cands:
            used.add(min(cands)[1])
        row = {"voice": voice, "noise": noise_kind, "said": text, "expected": intent,
               "heard": turn["text"] if turn else None, "intent": turn["intent"] if turn else None,
               "reply": turn["reply"] if turn else None,
               # a line that made no turn was not answered, whatever the bot said next
               "voice_to_voice": None if heard.reply_start is None or turn is None
               else round(1000 * (heard.reply_start - heard.voice_end), 1)}
        for k in PARTS:
            row[k] = turn["latency_ms"][k] if turn else None
        if row["voice_to_voice"] is not None and all(row[k] is not None for k in PARTS):
            row["other"] = round(row["voice_to_voice"] - sum(row[k] for k in PARTS), 1)
        else:
            row["other"] = None
        out.append(row)
    return out


def summarize(rows: list[dict]) -> dict:
    v2v = [r["voice_to_voice"] for r in rows if r["voice_to_voice"] is not None]
    parts = {k: round(percentile([r[k] for r in rows if r[k] is not None], 50), 1) for k in (*PARTS, "other")}
    return {"p50": round(percentile(v2v, 50), 1), "p95": round(percentile(v2v, 95), 1),
            "mean": round(sum(v2v) / len(v2v), 1) if v2v else None, "max": max(v2v) if v2v else None,
            "answered": len(v2v), "lines": len(rows), "breakdown_p50": parts,
            "intents_right": sum(r["intent"] == r["expected"] for r in rows), "turns": rows}


def print_table(summary: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    t = Table(title="voice to voice, per caller line (ms)")
    for c in ("#", "voice", "heard", "intent", "v2v", "endpoint", "asr", "nlu", "dialogue", "tts", "other"):
        t.add_column(c, justify="left" if c in ("voice", "heard", "intent") else "right", overflow="fold")
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for i, r in enumerate(summary["turns"], 1):
        ok = "" if r["intent"] == r["expected"] else f" (want {r['expected']})"
        t.add_row(str(i), r["voice"], r["heard"] or "(nothing)", f"{r['intent']}{ok}", fmt(r["voice_to_voice"]),
                  *(fmt(r[k]) for k in (*PARTS, "other")))
    console.print(t)
    b = summary["breakdown_p50"]
    console.print(f"voice to voice: p50 [bold]{summary['p50']:.0f} ms[/], p95 {summary['p95']:.0f} ms, "
                  f"max {summary['max']:.0f} ms; {summary['answered']}/{summary['lines']} lines answered, "
                  f"{summary['intents_right']}/{summary['lines']} intents right")
    console.print("median parts: " + ", ".join(f"{k} {v:.0f}" for k, v in b.items()) + " ms")


def plot(summary: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in summary["turns"] if r["other"] is not None]
    rows.sort(key=lambda r: r["voice_to_voice"])
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.8))
    left = [0.0] * len(rows)
    for k in (*PARTS, "other"):
        vals = [max(0.0, r[k]) for r in rows]
        ax.barh(range(len(rows)), vals, left=left, label=k.replace("_", " "))
        left = [a + b for a, b in zip(left, vals)]
    ax.axvline(summary["p50"], color="k", ls="--", lw=1, label=f"p50 {summary['p50']:.0f} ms")
    ax.axvline(summary["p95"], color="k", ls=":", lw=1, label=f"p95 {summary['p95']:.0f} ms")
    ax.set_yticks(range(len(rows)), [r["said"][:32] for r in rows], fontsize=7)
    ax.set_xlabel("ms from the caller's last voiced sample to the bot's first audio sample")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_png(fig, path)


def main(args) -> int:
    from rich.progress import Progress

    if not 1 <= args.calls <= len(SCRIPTS):
        raise UsageError(f"--calls must be 1 to {len(SCRIPTS)}")
    cfg = load_config(args)
    cfg.tts.sample_rate = 16000  # the simulated device's rate
    bot = Bot(cfg)
    bot.warm_up()
    noises = args.noise or ["white", "hum"]
    rows: list[dict] = []
    t0 = time.perf_counter()
    with Progress(disable=args.quiet, transient=True) as bar:
        task = bar.add_task("live calls, in real time", total=args.calls)
        for i in range(args.calls):
            rows += run_call(bot, SCRIPTS[i], VOICES[i % len(VOICES)], noises[i % len(noises)], args.level,
                             args.pause, args.echo_ms, args.echo_db, seed=i)
            bar.advance(task)
    summary = summarize(rows)
    print_table(summary)
    report = {"machine": machine(), "seconds": round(time.perf_counter() - t0, 1),
              "config": {"asr": f"{cfg.asr.backend}/{cfg.asr.model}", "vad": cfg.live.vad_engine or cfg.vad.engine,
                         "live": vars(cfg.live), "tts": cfg.tts.engine, "noise": noises, "level_dbfs": args.level,
                         "echo_ms": args.echo_ms, "echo_db": args.echo_db if args.echo_ms else None},
              "voice_to_voice_ms": summary}
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(report, indent=2) + "\n")
    if args.plot:
        plot(summary, args.plot)
    return 0 if summary["answered"] else 1
