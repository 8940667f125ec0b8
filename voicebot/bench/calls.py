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

    voicebot bench calls --front ws://10.0.0.1:8088 --token KEY --workers 2 --calls 4,8,16

calls a front instead (HAProxy, or one worker, started elsewhere: `voicebot serve`,
docs/deploy.md): no server of its own, the key as `Authorization: Bearer`. The call records are
then the workers', not read from here: dropped frames, end reasons and the bot's side of each turn
are left out (null) and the table says so. The sweep's table gives the calls held per worker
(`--workers`; without it 1 when the front is a worker itself, its /health answered with no
X-Served-By) and per core (`--cores`, default this machine's).
"""
from __future__ import annotations

import base64
import json
import multiprocessing as mp
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from asr.audio import resample
from asr.files import atomic_write_text
from voicebot.bench.callers import speak, telephone_band, trim
from voicebot.bench.calls_table import plot, print_run, print_sweep
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
# what a run against a front cannot see: the workers' call records are theirs
NOT_READ = ("dropped frames, end reasons and the bot's side of each turn (the workers' call records: "
            "read them there, `voicebot calls list`)")


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
    p.add_argument("--front", help="call this address (ws://HOST:PORT or http://...: HAProxy or a worker started "
                                   "elsewhere) instead of starting a server here")
    p.add_argument("--token", help="with --front: the key its media route wants (default: $VOICEBOT_TOKEN)")
    p.add_argument("--workers", type=int, help="the workers behind --front, for calls held per worker "
                                               "(default: 1 for a server of its own, or a front that is one worker)")
    p.add_argument("--cores", type=int, help="the cores the workers have, for calls held per core "
                                             "(default: this machine's)")


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


def front_urls(url: str) -> tuple[str, str]:
    """`--front`: ws(s):// or http(s)://HOST[:PORT][/PREFIX][/media] -> its media-stream and /health URLs."""
    parts = urllib.parse.urlsplit(url)
    scheme = {"ws": "ws", "http": "ws", "wss": "wss", "https": "wss"}.get(parts.scheme)
    if scheme is None or not parts.hostname or parts.query:
        raise UsageError(f"--front {url}: an address like ws://HOST:PORT or https://HOST (HAProxy or a worker)")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/media")
    web = "https" if scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}{path}/media", f"{web}://{parts.netloc}{path}/health"


def front_check(url: str, token: str | None, workers: int | None) -> int | None:
    """The front answers /health and takes a key if it wants one; the workers behind it, where known."""
    if workers is not None and workers < 1:
        raise UsageError("--workers must be 1 or more")
    _, health = front_urls(url)
    try:  # no proxy from the environment: the front is where the calls go
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(health, timeout=10) as r:
            body, served_by = json.loads(r.read()), r.headers.get("X-Served-By")
    except (OSError, ValueError) as e:
        raise UsageError(f"--front {url}: {health} did not answer ({e})") from None
    if body.get("auth") and not token:
        raise UsageError(f"--front {url}: it wants a key: --token KEY (or $VOICEBOT_TOKEN)")
    if body.get("status") != "ok":
        raise UsageError(f"--front {url}: /health says {body.get('status')!r}: it takes no calls now")
    # a worker answers /health itself; through HAProxy (X-Served-By) the number behind it is not said
    return workers if workers is not None else (None if served_by else 1)


def line_audio(text: str, voice: str) -> bytes:
    return encode(resample(telephone_band(trim(speak(text, voice))), 16000, 8000), "pcmu")


class Caller:
    """One Media Streams client running a scripted call."""

    def __init__(self, url: str, n: int, turns: list[bytes], token: str | None = None):
        self.url, self.n, self.turns, self.token = url, n, turns, token
        self.served_by = None  # the worker HAProxy gave the call to (its X-Served-By)
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
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
            with connect(self.url, proxy=None, max_size=None, compression=None, additional_headers=headers,
                         open_timeout=20) as ws:
                self.ws = ws
                self.served_by = ws.response.headers.get("X-Served-By")
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


def run_callers(url: str, scripts: list[list[bytes]], stagger_s: float, token: str | None = None) -> list[dict]:
    """All the callers at once, each on a thread; what each measured."""
    callers = [Caller(url, n, turns, token) for n, turns in enumerate(scripts)]
    threads = [threading.Thread(target=c.run, name=f"bench-caller-{c.n}") for c in callers]
    for t in threads:
        t.start()
        time.sleep(stagger_s)
    for t in threads:
        t.join()
    return [{"n": c.n, "call_sid": c.call_sid, "latencies": c.latencies, "late_frames": c.late_frames,
             "error": c.error, "served_by": c.served_by} for c in callers]


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


def run_once(bot, calls: int, scripts_text: list[list[str]], rendered: dict, stagger_s: float, console,
             front: str | None = None, token: str | None = None) -> dict:
    """One run: `calls` callers at once, to `front` or to a server on a loopback port started for
    the run (its call records then read back); the result of that run."""
    scripts = [rendered[(n % len(scripts_text), n % len(VOICES))] for n in range(calls)]
    if front is not None:
        callers, wall = call_at_once(front_urls(front)[0], scripts, stagger_s, token, calls, console)
        return summary({"calls": calls, "wall_s": wall, "per_call": [call_figures(c, None, []) for c in callers]})
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
    callers, wall = call_at_once(f"ws://127.0.0.1:{port}/media", scripts, stagger_s, None, calls, console)
    time.sleep(1.0)  # the last records close
    server.should_exit = True
    thread.join(10)
    store = CallStore(bot.config.phone.db_url)
    records = {r["external_id"]: r for r in store.list_calls(10 * calls)}
    heard = {sid: (store.get_call(r["id"]) or {}).get("turns", []) for sid, r in records.items()}
    store.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return summary({"calls": calls, "wall_s": wall, "per_call": [
        call_figures(c, records.get(c["call_sid"]) or {}, heard.get(c["call_sid"], [])) for c in callers]})


def call_at_once(url: str, scripts: list, stagger_s: float, token: str | None, calls: int, console):
    """run_callers in a process of its own: in the server's, their 50 messages a second each
    competed with the bot for the interpreter and made the bot look slower than it is. What
    the callers measured, and the seconds it took."""
    with ProcessPoolExecutor(1, mp.get_context("spawn")) as pool:
        pool.submit(time.sleep, 0).result()  # the process is up before the clock starts
        t0 = time.monotonic()
        with console.status(f"{calls} calls in progress"):
            callers = pool.submit(run_callers, url, scripts, stagger_s, token).result()
    return callers, round(time.monotonic() - t0, 1)


def call_figures(c: dict, rec: dict | None, heard: list) -> dict:
    """One call's figures: the caller's, and its call record's (`rec` None: not read, a front's)."""
    rec = rec if rec is not None else {}
    return {"call": c["n"], "turns": len(c["latencies"]), "reply_latency_ms": {
        "p50": pct(c["latencies"], 50), "p95": pct(c["latencies"], 95)},
        "latencies_ms": [round(x, 1) for x in c["latencies"]], "late_frames": c["late_frames"],
        "dropped_frames": rec.get("dropped_frames"), "server_late_frames": rec.get("late_frames"),
        "end_reason": rec.get("end_reason"), "error": c["error"], "served_by": c.get("served_by"),
        # what the bot heard and said: why a call failed (a misheard line, a turn cut in two);
        # and the bot's side of each turn, to see where a slow reply's time went
        "heard": [{**{k: t.get(k) for k in ("text", "intent", "confidence", "reply")},
                   "ms": {k: t.get(f"{k}_ms") for k in SERVER}} for t in heard]}


def summary(result: dict) -> dict:
    """Figures over the calls of `result["per_call"]` (one run's, or several runs' pooled)."""
    per_call = result["per_call"]
    every = [x for c in per_call for x in c["latencies_ms"]]
    turns = [t["ms"] for c in per_call for t in c["heard"]]
    result.update({
        "reply_latency_ms": {"p50": pct(every, 50), "p95": pct(every, 95), "n": len(every)},
        "late_frames": sum(c["late_frames"] for c in per_call),
        # None: no call record read (a front's calls: the workers have them)
        "dropped_frames": sum(d) if (d := [c["dropped_frames"] for c in per_call if c["dropped_frames"] is not None])
        else None,
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
    cores = args.cores if args.cores is not None else os.cpu_count()
    if cores is not None and cores < 1:
        raise UsageError("--cores must be 1 or more")
    front, token = args.front, args.token or os.environ.get("VOICEBOT_TOKEN")
    # a front: no server, no models here; the workers behind it where known (else not per worker)
    workers = front_check(front, token, args.workers) if front else (args.workers or 1)
    bot = None if front else make_bot(args)
    console = Console()
    with console.status("loading engines, rendering the callers' speech, timing the yardstick"):
        yardstick = {"start": yardstick_ms()}
        if bot is not None:
            bot.warm_up()
        rendered = {(s, v): [line_audio(t, VOICES[v]) for t in scripts_text[s]]
                    for s, v in {(n % len(scripts_text), n % len(VOICES)) for n in range(max(counts))}}
    # runs of each count in turn (1, 2, 4, 1, 2, 4...): a machine that slows down meanwhile
    # slows every count alike instead of the last one
    runs: dict[int, list[dict]] = {n: [] for n in counts}
    for r in range(args.runs):
        for n in counts:
            runs[n].append(run_once(bot, n, scripts_text, rendered, args.stagger_s, console, front, token))
    yardstick["end"] = yardstick_ms()
    info = {"asr": f"{bot.config.asr.backend}/{bot.config.asr.model}" if bot else None,
            "device": bot.config.device if bot else None, "front": front, "workers": workers, "cores": cores,
            "not_read": NOT_READ if front else None, "yardstick_ms": yardstick}
    if len(counts) == 1 and args.runs == 1:  # one run: as it is
        result = {**runs[counts[0]][0], **info}
        print_run(console, result)
    else:
        pooled = [summary({"calls": n, "runs": [{k: r[k] for k in ("wall_s", "reply_latency_ms", "failed_calls")}
                                                for r in runs[n]],
                           "per_call": [c for r in runs[n] for c in r["per_call"]]}) for n in counts]
        held = most_held(pooled, args.target_ms)
        result = {**info, "target_ms": args.target_ms, "holds": held, "counts": pooled,
                  "holds_per_worker": round(held / workers, 2) if workers else None,
                  "holds_per_core": round(held / cores, 2) if cores else None}
        print_sweep(console, result, args.runs)
    if front:
        console.print(f"not read from a front: {NOT_READ}")
    console.print(f"machine: yardstick {yardstick['start']} / {yardstick['end']} ms at the start / end "
                  "(voicebot/bench/yardstick.py; compare runs only at a like yardstick)")
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=1) + "\n")
    if args.plot:
        plot(result, args.plot, args.target_ms)
    return 0 if all(r["failed_calls"] == 0 for rs in runs.values() for r in rs) else 1
