"""`voicebot bench calls`: N phone callers at once over the media-stream route, in real time.

    voicebot bench calls --calls 8 --json runs/calls8.json [--plot runs/calls8.png]

A server (`voicebot serve`'s app) runs on a loopback port with one Bot (engines shared); each
caller is a Twilio Media Streams client in its own thread: it waits for the greeting, then says
its scripted turns (test voices on a telephone line, 8 kHz mu-law, 20 ms in real time), each
after the bot's last reply has been played, echoing marks as Twilio does. Measured per call
and overall: reply_latency_ms (p50, p95: the caller's last voiced sample sent -> the first
reply audio received; negative when the bot began before the caller had finished), late_frames (reply audio that arrived after the caller's playout had
run dry in the middle of a reply: an audible gap), dropped_frames (caller audio the bot's
listener had to drop, from the call record), failed_calls (an error, or a turn never answered).
"""
from __future__ import annotations

import base64
import json
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from asr.audio import resample
from asr.files import atomic_write_text, save_png
from voicebot.bench.callers import speak, telephone_band, trim
from voicebot.bench.yardstick import yardstick_ms
from voicebot.options import UsageError, make_bot
from voicebot.phone.call import FRAME, encode
from voicebot.phone.records import CallStore
from voicebot.serve.app import make_app, uvicorn_server

# voices Silero hears on a telephone line (flite:kal16 and awb it mostly does not)
VOICES = ["flite:slt", "flite:rms", "espeak:en-us", "espeak:en-gb"]
SCRIPTS = [["I want to check on my order.", "The order number is four five six seven.", "Thanks, goodbye."],
           ["What time do your stores open on Sunday?", "Do you accept PayPal?", "Thank you, bye."],
           ["I forgot my password and I can't log in.", "Thanks, that was helpful.", "Goodbye."],
           ["How much does the coffee maker cost?", "I'd like to return the headphones I bought.", "Goodbye."]]
SERVER = ("endpoint", "asr", "nlu", "dialogue", "tts_first_audio")
ANSWER_WAIT_S = 15.0  # a turn not answered by then is a failure
GAP_TICKS = 15  # 300 ms


def add_arguments(p) -> None:
    p.add_argument("--calls", default="4", help="concurrent callers (default 4); several to sweep, e.g. 1,2,4,8: "
                                                "the table says how many held the reply p95 under --target-ms")
    p.add_argument("--runs", type=int, default=1, help="runs of each count, their turns pooled (default 1; a "
                                                       "run of 8 calls has 24 turns, whose p95 is its second worst)")
    p.add_argument("--target-ms", type=float, default=1000.0, help="the reply p95 a count must hold (default 1000)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--plot", help="a PNG of each call's reply latencies")
    p.add_argument("--stagger-s", type=float, default=0.5, help="seconds between the callers' starts (default 0.5)")
    p.add_argument("--scripts", help="a JSON file of callers' scripts (a list of lists of lines) to use instead of "
                                     "the built-in four; caller n says script n modulo their number")


def load_scripts(path: str) -> list[list[str]]:
    """`--scripts`: a JSON list of scripts, each a non-empty list of lines; a clear error otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"--scripts {path}: {e.strerror or e}") from None
    except ValueError as e:
        raise UsageError(f"--scripts {path}: not JSON ({e})") from None
    if not (isinstance(data, list) and data and all(
            isinstance(s, list) and s and all(isinstance(x, str) and x.strip() for x in s) for s in data)):
        raise UsageError(f"--scripts {path}: must be a list of scripts, each a list of lines (text)")
    return data


def line_audio(text: str, voice: str) -> bytes:
    return encode(resample(telephone_band(trim(speak(text, voice))), 16000, 8000), "pcmu")


class Caller:
    """One Media Streams client running a scripted call."""

    def __init__(self, port: int, n: int, turns: list[bytes]):
        self.port, self.n, self.turns = port, n, turns
        self.sid, self.call_sid = f"MZbench{n:04d}", f"CAbench{n:04d}"
        self.lock = threading.Lock()
        self.queued: list = []  # payloads and mark names not yet played
        self.media_at: list[float] = []  # arrival time of each media message
        self.latencies: list[float] = []
        self.late_frames = 0
        self.error = ""
        self.closed = False
        self._dry = 10 ** 9  # playout ticks since audio last played

    def run(self) -> None:
        from websockets.sync.client import connect
        try:
            with connect(f"ws://127.0.0.1:{self.port}/media", proxy=None, max_size=None, compression=None) as ws:
                self.ws = ws
                threading.Thread(target=self._receive, daemon=True).start()
                self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
                self._send({"event": "start", "streamSid": self.sid,
                            "start": {"streamSid": self.sid, "callSid": self.call_sid, "accountSid": "ACbench",
                                      "tracks": ["inbound"], "customParameters": {"caller": f"bench-{self.n}"},
                                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
                self._stream(b"", 10.0)  # the greeting
                for payload in self.turns:
                    if self.closed:
                        break
                    heard = len(self.media_at)
                    spoke_at = self._stream(payload, ANSWER_WAIT_S)
                    # the reply's first audio; before the caller had finished (an endpoint in a
                    # pause of the turn) it is a turn cut short, no latency
                    first = self.media_at[heard] if len(self.media_at) > heard else None
                    if first is None:
                        self.error = self.error or "a turn was not answered"
                    elif first < spoke_at:
                        self.error = self.error or f"a turn was answered {spoke_at - first:.1f} s before its end"
                    else:
                        self.latencies.append((first - spoke_at) * 1000)
                if self.turns and len(self.latencies) < len(self.turns) and not self.error:
                    self.error = "the bot hung up before the script's end"
                if not self.closed:
                    self._send({"event": "stop", "streamSid": self.sid, "stop": {"callSid": self.call_sid}})
        except Exception as e:
            self.error = self.error or f"{type(e).__name__}: {e}"

    def _send(self, msg: dict) -> None:
        self.ws.send(json.dumps(msg))

    def _receive(self) -> None:
        try:
            for raw in self.ws:
                msg = json.loads(raw)
                with self.lock:
                    if msg["event"] == "media":
                        self.media_at.append(time.monotonic())
                        self.queued.append(1)
                    elif msg["event"] == "mark":
                        self.queued.append(msg["mark"]["name"])
                    elif msg["event"] == "clear":
                        self.queued = [m for m in self.queued if isinstance(m, str)]
        except Exception:
            pass
        self.closed = True

    def _stream(self, payload: bytes, wait_s: float) -> float:
        """Sends `payload` then silence in real time until the reply is played (or wait_s);
        returns when its last voiced sample went out."""
        from websockets.exceptions import ConnectionClosed
        silence = encode(np.zeros(int(wait_s * 8000), np.float32), "pcmu")
        audio, spoke_at = payload + silence, time.monotonic()
        t0 = time.monotonic()
        for k, i in enumerate(range(0, len(audio), FRAME)):
            if self.closed:
                break
            if i >= len(payload):
                if i < len(payload) + FRAME:
                    spoke_at = time.monotonic()
                new = len(self.media_at) and self.media_at[-1] >= spoke_at
                if new and not self._unplayed() and time.monotonic() - self.media_at[-1] > 0.6:
                    break  # answered and played
            try:
                self._send({"event": "media", "streamSid": self.sid,
                            "media": {"track": "inbound", "chunk": str(k + 1), "timestamp": str(k * 20),
                                      "payload": base64.b64encode(audio[i:i + FRAME]).decode()}})
                self._play()
            except ConnectionClosed:  # the bot hung up (after its goodbye, or a timeout)
                self.closed = True
                break
            time.sleep(max(0.0, t0 + (k + 1) * 0.02 - time.monotonic()))
        return spoke_at

    def _unplayed(self) -> bool:
        with self.lock:
            return any(not isinstance(m, str) for m in self.queued)

    def _play(self) -> None:
        """20 ms of playout. Audio that resumes after the queue ran dry for under 0.3 s is a gap
        inside a reply (longer silences are between replies): its dry ticks count as late frames."""
        marks, played = [], False
        with self.lock:
            while self.queued and (not played or isinstance(self.queued[0], str)):
                item = self.queued.pop(0)
                if isinstance(item, str):
                    marks.append(item)
                else:
                    played = True
        for name in marks:
            self._send({"event": "mark", "streamSid": self.sid, "mark": {"name": name}})
        if played:
            if 0 < self._dry <= GAP_TICKS:
                self.late_frames += self._dry
            self._dry = 0
        else:
            self._dry += 1


def run_callers(port: int, scripts: list[list[bytes]], stagger_s: float) -> list[dict]:
    """All the callers at once, each on a thread; what each measured."""
    callers = [Caller(port, n, turns) for n, turns in enumerate(scripts)]
    threads = [threading.Thread(target=c.run, name=f"bench-caller-{c.n}") for c in callers]
    for t in threads:
        t.start()
        time.sleep(stagger_s)
    for t in threads:
        t.join()
    return [{"n": c.n, "call_sid": c.call_sid, "latencies": c.latencies, "late_frames": c.late_frames,
             "error": c.error} for c in callers]


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def calls_list(text: str) -> list[int]:
    """`--calls`: one count ("8") or several to sweep ("1,2,4,8"), each 1 or more."""
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        raise UsageError(f"--calls {text}: a number of calls, or several separated by commas") from None
    if not counts or min(counts) < 1:
        raise UsageError(f"--calls {text}: each must be 1 or more")
    return sorted(set(counts))


def run_once(bot, calls: int, scripts_text: list[list[str]], rendered: dict, stagger_s: float, console) -> dict:
    """One run: a server on a loopback port, `calls` callers at once; the result of that run."""
    tmp = tempfile.mkdtemp(prefix="bench-calls.")
    bot.config.phone.db_url = f"sqlite:///{tmp}/calls.db"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn_server(make_app(bot), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    scripts = [rendered[(n % len(scripts_text), n % len(VOICES))] for n in range(calls)]
    # the callers run in a process of their own: in the server's, their 50 messages a second
    # each competed with the bot for the interpreter and made the bot look slower than it is
    with ProcessPoolExecutor(1, mp.get_context("spawn")) as pool:
        pool.submit(time.sleep, 0).result()  # the process is up before the clock starts
        t0 = time.monotonic()
        with console.status(f"{calls} calls in progress"):
            callers = pool.submit(run_callers, port, scripts, stagger_s).result()
    wall = time.monotonic() - t0
    time.sleep(1.0)  # the last records close
    server.should_exit = True
    thread.join(10)
    store = CallStore(bot.config.phone.db_url)
    records = {r["external_id"]: r for r in store.list_calls(10 * calls)}
    heard = {sid: (store.get_call(r["id"]) or {}).get("turns", []) for sid, r in records.items()}
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    per_call = []
    for c in callers:
        rec = records.get(c["call_sid"]) or {}
        per_call.append({"call": c["n"], "turns": len(c["latencies"]), "reply_latency_ms": {
            "p50": pct(c["latencies"], 50), "p95": pct(c["latencies"], 95)},
            "latencies_ms": [round(x, 1) for x in c["latencies"]], "late_frames": c["late_frames"],
            "dropped_frames": rec.get("dropped_frames"), "server_late_frames": rec.get("late_frames"),
            "end_reason": rec.get("end_reason"), "error": c["error"],
            # what the bot heard and said: why a call failed (a misheard line, a turn cut in two);
            # and the bot's side of each turn, to see where a slow reply's time went
            "heard": [{**{k: t.get(k) for k in ("text", "intent", "confidence", "reply")},
                       "ms": {k: t.get(f"{k}_ms") for k in SERVER}} for t in heard.get(c["call_sid"], [])]})
    return summary({"calls": calls, "wall_s": round(wall, 1), "per_call": per_call})


def summary(result: dict) -> dict:
    """Figures over the calls of `result["per_call"]` (one run's, or several runs' pooled)."""
    per_call = result["per_call"]
    every = [x for c in per_call for x in c["latencies_ms"]]
    turns = [t["ms"] for c in per_call for t in c["heard"]]
    result.update({
        "reply_latency_ms": {"p50": pct(every, 50), "p95": pct(every, 95), "n": len(every)},
        "late_frames": sum(c["late_frames"] for c in per_call),
        "dropped_frames": sum(c["dropped_frames"] or 0 for c in per_call),
        "failed_calls": sum(bool(c["error"]) for c in per_call),
        # the bot's side of each turn (call records): the silence it waited for before
        # answering (the turn-taking rule, plus any wait for the recognizer), and the work
        "server_ms": {k: {"p50": pct(v, 50), "p95": pct(v, 95)} for k in SERVER
                      if (v := [t[k] for t in turns if t.get(k) is not None])}})
    return result


def most_held(pooled: list[dict], target_ms: float) -> int:
    """The most calls at once whose reply p95 was under `target_ms`, with every smaller count
    measured under it too (a lucky run at 8 must not hide 4 over it); 0 when none was."""
    held = 0
    for p in sorted(pooled, key=lambda p: p["calls"]):
        p95 = p["reply_latency_ms"]["p95"]
        if p95 is None or p95 >= target_ms:
            break
        held = p["calls"]
    return held


def main(args) -> int:
    from rich.console import Console

    counts = calls_list(str(args.calls))
    if args.runs < 1:
        raise UsageError("--runs must be 1 or more")
    scripts_text = load_scripts(args.scripts) if args.scripts else SCRIPTS
    bot = make_bot(args)
    console = Console()
    with console.status("loading engines, rendering the callers' speech, timing the yardstick"):
        yardstick = {"start": yardstick_ms()}
        bot.warm_up()
        rendered = {(s, v): [line_audio(t, VOICES[v]) for t in scripts_text[s]]
                    for s, v in {(n % len(scripts_text), n % len(VOICES)) for n in range(max(counts))}}
    # runs of each count in turn (1, 2, 4, 1, 2, 4...): a machine that slows down meanwhile
    # slows every count alike instead of the last one
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    for r in range(args.runs):
        for n in counts:
            runs[n].append(run_once(bot, n, scripts_text, rendered, args.stagger_s, console))
    yardstick["end"] = yardstick_ms()
    info = {"asr": f"{bot.config.asr.backend}/{bot.config.asr.model}", "device": bot.config.device,
            "yardstick_ms": yardstick}
    if len(counts) == 1 and args.runs == 1:  # one run: as it is
        result = {**runs[counts[0]][0], **info}
        print_run(console, result)
    else:
        pooled = [summary({"calls": n, "runs": [{k: r[k] for k in ("wall_s", "reply_latency_ms", "failed_calls")}
                                                for r in runs[n]],
                           "per_call": [c for r in runs[n] for c in r["per_call"]]}) for n in counts]
        result = {**info, "target_ms": args.target_ms, "holds": most_held(pooled, args.target_ms), "counts": pooled}
        print_sweep(console, result, args.runs)
    console.print(f"machine: yardstick {yardstick['start']} / {yardstick['end']} ms at the start / end "
                  "(voicebot/bench/yardstick.py; compare runs only at a like yardstick)")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot(result, args.plot, args.target_ms)
    return 0 if all(r["failed_calls"] == 0 for rs in runs.values() for r in rs) else 1


def print_run(console, result: dict) -> None:
    from rich.table import Table
    table = Table(title=f"{result['calls']} concurrent media-stream calls ({result['asr']})")
    for col in ["call", "turns", "p50 ms", "p95 ms", "late", "dropped", "ended", "error"]:
        table.add_column(col)
    for c in result["per_call"]:
        table.add_row(str(c["call"]), str(c["turns"]), str(c["reply_latency_ms"]["p50"]), str(c["reply_latency_ms"]["p95"]),
                      str(c["late_frames"]), str(c["dropped_frames"]), c["end_reason"] or "", c["error"])
    table.add_row("all", str(result["reply_latency_ms"]["n"]), str(result["reply_latency_ms"]["p50"]),
                  str(result["reply_latency_ms"]["p95"]), str(result["late_frames"]), str(result["dropped_frames"]),
                  "", f"{result['failed_calls']} failed")
    console.print(table)
    console.print("bot's side per turn, p50/p95 ms: " + ", ".join(
        f"{k} {v['p50']}/{v['p95']}" for k, v in result["server_ms"].items()))


def print_sweep(console, result: dict, runs: int) -> None:
    from rich.table import Table
    table = Table(title=f"concurrent media-stream calls ({result['asr']}), {runs} run(s) each, turns pooled")
    for col in ["calls", "turns", "p50 ms", "p95 ms", "p95 of each run", "ASR p95", "first audio p95",
                "late", "failed calls"]:
        table.add_column(col)
    for p in result["counts"]:
        ms = p["server_ms"]
        table.add_row(str(p["calls"]), str(p["reply_latency_ms"]["n"]), str(p["reply_latency_ms"]["p50"]),
                      str(p["reply_latency_ms"]["p95"]), ", ".join(str(r["reply_latency_ms"]["p95"]) for r in p["runs"]),
                      str(ms.get("asr", {}).get("p95")), str(ms.get("tts_first_audio", {}).get("p95")),
                      str(p["late_frames"]), str(p["failed_calls"]))
    console.print(table)
    console.print(f"holds {result['holds']} call(s) at once with the reply p95 under {result['target_ms']:g} ms")


def plot(result: dict, path: str, target_ms: float) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    if "counts" in result:  # a sweep: latency against calls at once
        n = [p["calls"] for p in result["counts"]]
        for q, style in (("p50", "o-"), ("p95", "s-")):
            ax.plot(n, [p["reply_latency_ms"][q] for p in result["counts"]], style, label=q)
        ax.set_xlabel("calls at once")
        ax.set_xticks(n)
        ax.legend()
        ax.set_title(f"reply latency against calls at once: holds {result['holds']} under {target_ms:g} ms")
    else:
        for c in result["per_call"]:
            ax.scatter([c["call"]] * len(c["latencies_ms"]), c["latencies_ms"], s=18)
        ax.set_xlabel("call")
        ax.set_title(f"{result['calls']} concurrent calls: p50 {result['reply_latency_ms']['p50']} ms, "
                     f"p95 {result['reply_latency_ms']['p95']} ms")
    ax.axhline(target_ms, color="grey", ls="--", lw=1)
    ax.set_ylabel("reply latency (ms)")
    fig.tight_layout()
    save_png(fig, path, dpi=120)
