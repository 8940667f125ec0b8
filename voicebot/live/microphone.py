"""`voicebot talk`: the computer's microphone and speaker through PyAudio (PortAudio).

Both streams run in callback mode on PortAudio's threads: the input callback hands each
block to the session (which never blocks), the output callback plays what the session has
sent so far, silence otherwise, and reports what it played. `Speaker` is the output side (an
AudioOutput): a barge-in drops the rest, a hold pauses it.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from nlu.events import BotReply
from tts.events import AudioChunk
from voicebot.bot import Bot
from voicebot.live.output import AudioOutput
from voicebot.live.session import LiveSession
from voicebot.live.view import TalkView
from voicebot.options import load_config
from voicebot.privacy.crypto import open_vault, write_bytes

RATE = 16000
BLOCK = 320  # 20 ms


def _pyaudio():
    try:
        import pyaudio
    except ImportError:
        raise RuntimeError("PyAudio is not installed: pip install 'voicebot[live]' (needs portaudio19-dev)") from None
    with _quiet_stderr():  # PortAudio's ALSA/JACK probing prints dozens of lines
        return pyaudio, pyaudio.PyAudio()


@contextlib.contextmanager
def _quiet_stderr():
    fd = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)
        os.close(devnull)


def devices(pa) -> list[dict]:
    return [pa.get_device_info_by_index(i) for i in range(pa.get_device_count())]


def pick(pa, wanted: str | None, kind: str) -> int | None:
    """A device by index or by a piece of its name; None: the system default."""
    if wanted is None:
        return None
    channels = "maxInputChannels" if kind == "input" else "maxOutputChannels"
    found = [d for d in devices(pa) if d[channels] > 0 and (str(d["index"]) == wanted or wanted.lower() in d["name"].lower())]
    if not found:
        raise ValueError(f"no {kind} device {wanted!r} (see voicebot talk --list-devices)")
    return int(found[0]["index"])


def list_devices(out=sys.stdout) -> int:
    from rich.console import Console
    from rich.table import Table
    _, pa = _pyaudio()
    table = Table("index", "name", "inputs", "outputs", "default rate")
    for d in devices(pa):
        table.add_row(str(d["index"]), d["name"], str(d["maxInputChannels"]), str(d["maxOutputChannels"]),
                      f"{d['defaultSampleRate']:.0f}")
    Console(file=out).print(table if table.rows else "no audio devices (is a sound server running?)")
    pa.terminate()
    return 0


class Speaker(AudioOutput):
    """What the output callback plays: the session's audio, in order, until told to stop."""

    def __init__(self):
        super().__init__()
        self.queue: deque[np.ndarray] = deque()
        self.lock = threading.Lock()
        self.paused = False

    def play(self, chunk: AudioChunk) -> None:
        if len(chunk.samples):
            with self.lock:
                self.queue.append(chunk.samples)

    def pause(self, cause=None) -> None:
        self.paused = True  # the queue stays: a resume goes on from here

    def resume(self, cause=None) -> None:
        self.paused = False

    def clear(self, cause=None) -> None:
        with self.lock:
            self.paused = False
            self.queue.clear()

    def take(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        i = 0
        with self.lock:
            while i < n and self.queue and not self.paused:
                a = self.queue[0]
                k = min(n - i, len(a))
                out[i:i + k], i = a[:k], i + k
                if k == len(a):
                    self.queue.popleft()
                else:
                    self.queue[0] = a[k:]
        if i:
            self.played(i / RATE)
        return out


def _until_heard(spk, last_sound: float, most: float = 5.0) -> None:
    """Wait until the sound system has played what it was given. Its own clock says when the
    last sample reaches the speaker; PulseAudio holds more than PortAudio's reported latency, so
    without this the goodbye was cut short when the streams closed."""
    t0 = time.monotonic()
    # PulseAudio holds up to ~2 s for an ALSA-plugin client and drops it when the client closes
    # (CI heard the goodbye cut after "Thanks for calling Brightline Home."): wait that out
    floor = spk.get_output_latency() + 2.0
    while time.monotonic() - t0 < most:
        clock_says = last_sound <= 0 or spk.get_time() >= last_sound + 0.3
        if clock_says and time.monotonic() - t0 >= floor:
            return
        time.sleep(0.05)


def talk(bot, input_device=None, output_device=None, seconds: float | None = None, out_dir=None,
         greet: bool = True) -> int:
    pyaudio, pa = _pyaudio()
    view = TalkView()
    speaker = Speaker()
    ended = threading.Event()

    def on_event(ev):
        speaker.route(ev)
        view.on_event(ev)
        if isinstance(ev, BotReply) and ev.end_call:
            ended.set()

    session = LiveSession(bot, on_event=on_event, greet=greet, out_rate=RATE)
    speaker.session = session

    def mic_cb(data, frames, info, status):
        session.push_audio(np.frombuffer(data, "<i2").astype(np.float32) / 32768, RATE)
        return None, pyaudio.paContinue

    last_sound = [0.0]  # the stream clock's time when the last reply sample reaches the speaker

    def out_cb(data, frames, info, status):
        out = speaker.take(frames)
        dac = info.get("output_buffer_dac_time", 0.0)
        if np.any(out) and dac > 0:  # ALSA through PulseAudio may not know (0): then the floor decides
            last_sound[0] = dac + frames / RATE
        return (np.clip(out, -1, 1) * 32767).astype("<i2").tobytes(), pyaudio.paContinue

    with _quiet_stderr():
        mic = pa.open(RATE, 1, pyaudio.paInt16, input=True, frames_per_buffer=BLOCK, stream_callback=mic_cb,
                      input_device_index=pick(pa, input_device, "input"))
        spk = pa.open(RATE, 1, pyaudio.paInt16, output=True, frames_per_buffer=BLOCK, stream_callback=out_cb,
                      output_device_index=pick(pa, output_device, "output"))
    t0 = time.monotonic()
    try:
        with view.live(session):
            while seconds is None or time.monotonic() - t0 < seconds:
                if ended.is_set() and session.now_playing() is None:
                    _until_heard(spk, last_sound[0])
                    break  # the goodbye has been played
                time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        for s in (mic, spk):
            s.stop_stream()
            s.close()
        pa.terminate()
        session.close()
    if out_dir:  # redacted (session.transcript), and encrypted as transcript.json.enc with privacy.encrypt
        write_bytes(Path(out_dir) / "transcript.json", (json.dumps(session.transcript(), indent=2) + "\n").encode(),
                    open_vault(bot.config.privacy))
    view.print_summary(session)
    return 0


def main(args) -> int:
    if args.list_devices:
        return list_devices()
    cfg = load_config(args)
    if args.barge_in:
        cfg.live.barge_in = args.barge_in
    bot = Bot(cfg)
    if args.out:  # no key: said now, not after the call
        open_vault(cfg.privacy)
    print("loading models...", file=sys.stderr, flush=True)
    bot.warm_up()
    return talk(bot, args.input_device, args.output_device, args.seconds, args.out, not args.no_greet)


def add_arguments(p) -> None:
    p.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")
    p.add_argument("--input-device", help="microphone: index or part of the name (default: the system's)")
    p.add_argument("--output-device", help="speaker: index or part of the name (default: the system's)")
    p.add_argument("--barge-in", choices=["on", "off", "cautious"], help="overrides live.barge_in")
    p.add_argument("--seconds", type=float, help="hang up after this long (default: at goodbye or Ctrl-C)")
    p.add_argument("--out", help="write the call's transcript.json here")
    p.add_argument("--no-greet", action="store_true", help="let the caller speak first")
