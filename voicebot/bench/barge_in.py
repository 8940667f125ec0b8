"""`voicebot bench barge-in`: how soon the bot falls silent when a caller cuts in, and how often
it stops (or pauses) for sounds that are no barge-in.

Each trial is a short live call on the simulated device in real time, with the bot's echo mixed
back into the microphone and steady noise under everything: the caller asks for the store hours
(a ~9 s reply), then, 1-3 s into the reply, says one of: a barge-in ("Wait, do you accept
PayPal?"), a backchannel ("uh-huh", "okay", "right", "mm-hmm") or a cough. Reported per trial:
- `silent_ms`: from the caller's first sound to the bot's silence (a pause, or the stop),
- `stop_ms`: ... to the stop itself (the words read and judged a barge-in),
- for the others, whether the reply was cut (it must not be) and how long it paused.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from asr.files import atomic_write_text, save_png
from voicebot.bench.asr import machine, percentile
from voicebot.bench.callers import cough, noise, speak, trim
from voicebot.bot import Bot
from voicebot.live.session import LiveSession
from voicebot.live.simulated import Line, Script, SimulatedDevice
from voicebot.options import load_config

CUT_INS = [("Wait, do you accept PayPal?", "espeak:en-gb"), ("Sorry, can I speak to an agent?", "flite:slt"),
           ("Hold on, I need to cancel my order.", "espeak:en-us"), ("No, I asked about delivery.", "flite:awb")]
NOT_CUT_INS = [("uh-huh", "espeak:en-us"), ("okay", "flite:awb"), ("right", "espeak:en-gb"), ("mm-hmm", "flite:slt"),
               ("(cough)", None)]


def add_arguments(p) -> None:
    p.add_argument("--trials", type=int, default=8, help="calls of each kind (default 8)")
    p.add_argument("--echo-db", type=float, default=-6.0, help="the bot's voice in the microphone (default -6 dB, 120 ms)")
    p.add_argument("--level", type=float, default=-50.0, help="white noise RMS in dBFS (default -50)")
    p.add_argument("--json"), p.add_argument("--plot")
    p.add_argument("-q", "--quiet", action="store_true")


def trial(bot, text: str, voice: str | None, delay: float, echo_db: float, level: float, seed: int) -> dict:
    ask = Line(trim(speak("What time do your stores open on Sunday?", "flite:kal16")))
    said = cough(seed) if voice is None else trim(speak(text, voice))
    dev = SimulatedDevice(echo_delay_ms=120, echo_db=echo_db, noise=noise("white", 30.0, level, seed))
    session = LiveSession(bot, on_event=dev.on_event, greet=False)
    try:
        run = dev.run(session, Script([ask, Line(said, "during_reply", delay, text)], greeting=False), max_s=40)
    finally:
        session.close()
    onset = run.lines[1].start
    cut = run.interruptions[0] if run.interruptions else None
    holds = [h for h in run.holds if h["t"] >= onset - 0.1]
    first = min([h["stopped"] for h in holds if h["stopped"] is not None] + ([cut["stopped"]] if cut else []), default=None)
    paused = sum((h["resumed"] - h["stopped"]) for h in holds if h["resumed"] is not None and h["stopped"] is not None)
    return {"said": text, "voice": voice or "cough", "barge_in": voice is not None and text in dict(CUT_INS),
            "cut": cut is not None, "silent_ms": None if first is None else round(1000 * (first - onset)),
            "stop_ms": None if cut is None else round(1000 * (cut["stopped"] - onset)),
            "paused_ms": round(1000 * paused), "holds": len(holds)}


def summarize(rows: list[dict]) -> dict:
    cut_ins = [r for r in rows if r["barge_in"]]
    others = [r for r in rows if not r["barge_in"]]
    silent = [r["silent_ms"] for r in cut_ins if r["silent_ms"] is not None]
    stop = [r["stop_ms"] for r in cut_ins if r["stop_ms"] is not None]
    return {"barge_ins": len(cut_ins), "stopped": sum(r["cut"] for r in cut_ins),
            "silent_ms": {"p50": percentile(silent, 50), "p95": percentile(silent, 95), "max": max(silent, default=None)},
            "stop_ms": {"p50": percentile(stop, 50), "p95": percentile(stop, 95), "max": max(stop, default=None)},
            "not_barge_ins": len(others), "wrongly_cut": sum(r["cut"] for r in others),
            "paused": sum(r["holds"] > 0 for r in others),
            "paused_ms_p50": percentile([r["paused_ms"] for r in others if r["holds"]], 50), "trials": rows}


def print_table(s: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    t = Table(title="barge-in: ms from the caller's first sound")
    for c in ("said", "voice", "cut", "silent", "stop", "paused"):
        t.add_column(c, justify="left" if c in ("said", "voice") else "right")
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for r in s["trials"]:
        t.add_row(r["said"], r["voice"], "yes" if r["cut"] else "no", fmt(r["silent_ms"]), fmt(r["stop_ms"]),
                  fmt(r["paused_ms"]) if r["holds"] else "-")
    c = Console()
    c.print(t)
    c.print(f"barge-ins stopped: {s['stopped']}/{s['barge_ins']}; silent after p50 [bold]{fmt(s['silent_ms']['p50'])} ms[/], "
            f"p95 {fmt(s['silent_ms']['p95'])}; stopped after p50 {fmt(s['stop_ms']['p50'])} ms, p95 {fmt(s['stop_ms']['p95'])}")
    c.print(f"backchannels and coughs: {s['wrongly_cut']}/{s['not_barge_ins']} cut the reply; "
            f"{s['paused']} paused it (median {fmt(s['paused_ms_p50'])} ms) and it went on")


def plot(s: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in s["trials"] if r["barge_in"]]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.scatter([r["silent_ms"] for r in rows], range(len(rows)), label="silent (pause or stop)", marker="o")
    ax.scatter([r["stop_ms"] for r in rows], range(len(rows)), label="stopped (words judged)", marker="x")
    ax.axvline(200, color="k", ls=":", lw=1, label="200 ms")
    ax.set_yticks(range(len(rows)), [r["said"][:28] for r in rows], fontsize=7)
    ax.set_xlabel("ms from the caller's first sound")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path)


def main(args) -> int:
    from rich.progress import Progress

    cfg = load_config(args)
    cfg.tts.sample_rate = 16000  # the simulated device's rate
    bot = Bot(cfg)
    bot.warm_up()
    plan = [(CUT_INS[i % len(CUT_INS)], 1.0 + (i % 5) * 0.5, i) for i in range(args.trials)]
    plan += [(NOT_CUT_INS[i % len(NOT_CUT_INS)], 1.0 + (i % 5) * 0.5, 100 + i) for i in range(args.trials)]
    rows, t0 = [], time.perf_counter()
    with Progress(disable=args.quiet, transient=True) as bar:
        task = bar.add_task("live calls, in real time", total=len(plan))
        for (text, voice), delay, seed in plan:
            rows.append(trial(bot, text, voice, delay, args.echo_db, args.level, seed))
            bar.advance(task)
    s = summarize(rows)
    print_table(s)
    if args.json:
        atomic_write_text(Path(args.json), json.dumps({"machine": machine(), "seconds": round(time.perf_counter() - t0, 1),
                                                       "live": vars(cfg.live), "summary": s}, indent=2) + "\n")
    if args.plot:
        plot(s, args.plot)
    return 0
