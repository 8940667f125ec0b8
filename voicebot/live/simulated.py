"""A full-duplex sound device in software, run in real time, for tests and the benchmark.

Every `block_ms` it hands the session a block of "microphone" audio (the caller's script,
background noise, and optionally the bot's own output mixed back in at a set delay and
level: echo) and "plays" the next block of the bot's audio, which it records. The caller is
either a fixed recording (`Recording`) or a script that reacts to the bot like a person
(`Script`): each line is said after the bot's reply has ended, or a set time into it (a barge-in).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from nlu.events import BotReply
from tts.events import AudioChunk
from voicebot.live.output import AudioOutput

RATE = 16000
GRID = RATE * 48 // 100  # 0.48 s: a whole number of 20 and 30 ms frames and of Silero's 32 ms windows


def voiced_end(audio: np.ndarray, floor: float = 0.02) -> float:
    """Seconds to just after the last sample louder than `floor` (the caller's last voiced sample)."""
    loud = np.flatnonzero(np.abs(audio) > floor)
    return (loud[-1] + 1) / RATE if len(loud) else 0.0


@dataclass
class Line:
    audio: np.ndarray  # 16 kHz float32
    when: str = "after_reply"  # after_reply: once the bot has been quiet `delay_s`; during_reply: `delay_s` into it
    delay_s: float = 0.6
    text: str = ""


@dataclass
class Script:
    lines: list[Line]
    patience_s: float = 8.0  # an answer that does not come: go on after this long
    greeting: bool = True  # the bot speaks first: the first line waits for it


@dataclass
class Recording:
    audio: np.ndarray  # played from the first block, whatever the bot does


@dataclass
class Heard:
    """What happened to one caller line, in device seconds."""
    text: str
    start: float
    voice_end: float
    reply_start: float | None = None  # the first sample of the bot's next reply, as played


@dataclass
class Run:
    lines: list[Heard] = field(default_factory=list)
    interruptions: list[dict] = field(default_factory=list)  # {"t", "decided", "stopped", "heard_s", "heard_text"}
    holds: list[dict] = field(default_factory=list)  # {"t", "stopped", "resumed"}: playback paused for caller voice
    replies: list[tuple[float, str]] = field(default_factory=list)  # (device time played, text)
    speaker: np.ndarray | None = None
    mic: np.ndarray | None = None
    seconds: float = 0.0


class SimulatedDevice(AudioOutput):
    def __init__(self, block_ms: int = 20, echo_delay_ms: float | None = None, echo_db: float = -10.0,
                 noise: np.ndarray | None = None):
        super().__init__()
        self.block = RATE * block_ms // 1000
        self.echo_delay = None if echo_delay_ms is None else int(echo_delay_ms * RATE / 1000)
        self.echo_gain = 10 ** (echo_db / 20)
        self.noise = noise
        self._out: deque[list] = deque()  # [samples, reply or None (a reply's first chunk)]
        self._lock = threading.Lock()
        self.t = 0.0  # device time: seconds of audio played so far
        self._interruptions: list[dict] = []
        self._holds: list[dict] = []
        self._paused = False

    def on_event(self, ev) -> None:
        """The session's callback: audio to play, and the control events (stop, pause, go on)."""
        self.route(ev)

    def play(self, chunk: AudioChunk) -> None:
        if len(chunk.samples) and chunk.sample_rate != RATE:
            raise ValueError(f"the simulated device plays {RATE} Hz; the session sends {chunk.sample_rate}")
        if len(chunk.samples):
            with self._lock:
                self._out.append([chunk.samples, chunk.reply if chunk.index == 0 else None])

    def pause(self, cause=None) -> None:
        with self._lock:
            self._paused = True
            self._holds.append({"t": getattr(cause, "t", None), "stopped": None, "resumed": None})

    def resume(self, cause=None) -> None:
        with self._lock:
            self._paused = False
            if self._holds:
                self._holds[-1]["resumed"] = round(self.t, 3)

    def clear(self, cause=None) -> None:
        ev = cause  # the Interrupted: what the run records of it
        with self._lock:
            self._paused = False
            self._out.clear()  # what has not been played is never played
            self._interruptions.append({"t": getattr(ev, "t", None), "decided": getattr(ev, "decided_t", None),
                                        "stopped": None, "heard_s": getattr(ev, "heard_s", None),
                                        "heard_text": getattr(ev, "heard_text", "")})

    def _take(self, n: int) -> tuple[np.ndarray, BotReply | None, int, int]:
        """The next `n` samples to play; the reply whose first chunk starts in them, and where; how many were audio."""
        out = np.zeros(n, np.float32)
        started, at, i = None, 0, 0
        with self._lock:
            for x in self._holds:
                if x["stopped"] is None:
                    x["stopped"] = round(self.t, 3)
            while i < n and self._out and not self._paused:
                item = self._out[0]
                if item[1] is not None:
                    started, at, item[1] = item[1], i, None
                k = min(n - i, len(item[0]))
                out[i:i + k] = item[0][:k]
                item[0] = item[0][k:]
                i += k
                if not len(item[0]):
                    self._out.popleft()
            for x in self._interruptions:
                if x["stopped"] is None:  # the block now starting holds what was left: silence from here
                    x["stopped"] = round(self.t, 3)
        return out, started, at, i

    def _busy(self, session) -> bool:
        """A reply is still on its way: audio queued here, or more of it to come from the session."""
        with self._lock:
            queued = bool(self._out)
        return queued or session.now_playing() is not None

    def run(self, session, caller: Script | Recording, max_s: float = 60.0, tail_s: float = 3.0,
            fast: bool = False) -> Run:
        """Play the call in real time; returns when the caller is done and the bot has been quiet `tail_s`.

        `fast`: no waiting on the clock where nothing depends on it: the caller's words and the
        bot's finished reply audio go as fast as the listener takes them (the session's turn
        taking runs on audio time). The clock is kept where the bot's own work sets the pace: from
        the caller's last word to the reply's first sound, while a reply's audio is still being
        made, and while the caller talks over a reply (a barge-in is decided in real seconds).
        The caller waits for the bot to finish a reply before its next line, and its patience
        is real seconds."""
        b = self.block
        self.session = session  # told what was played
        run = Run()
        speaker, mic = [], []
        lines = list(caller.lines) if isinstance(caller, Script) else []
        current: np.ndarray | None = caller.audio if isinstance(caller, Recording) else None
        pos = 0
        line_done_at = 0.0  # when the caller last finished a line (or the call began)
        asked_at = 0.0  # ... a line said after a reply (during_reply lines talk over the reply to it)
        after = True
        last_sound = -1.0  # device time of the last reply sample played
        reply_began: float | None = None
        wait_from = 0.0
        start = wall_from = time.perf_counter()
        k = 0
        while self.t < max_s:
            answered = last_sound > line_done_at or (isinstance(caller, Script) and not run.lines
                                                      and not caller.greeting)
            # the caller: go on with the line being said, or start the next when its moment comes
            if current is None and lines:
                ln = lines[0]
                if ln.when == "during_reply":
                    due = reply_began is not None and reply_began > asked_at and self.t >= reply_began + ln.delay_s
                    due = due and (not fast or (k * b) % GRID == 0)
                elif fast:  # after the whole reply: its audio may come in pieces faster than it is made
                    due = (answered and not self._busy(session) and self.t >= last_sound + ln.delay_s) or (
                        time.perf_counter() - wall_from >= caller.patience_s)
                    # on a fixed grid of the microphone's samples: when the reply ended depends on
                    # how busy the machine was, and Whisper's words on a digit string changed with
                    # where the VAD's windows fell in the line ("4 5 6 7": 4567 or 45667)
                    due = due and (k * b) % GRID == 0
                else:
                    due = (answered and self.t >= last_sound + ln.delay_s) or self.t >= wait_from + caller.patience_s
                if due:
                    lines.pop(0)
                    after = ln.when != "during_reply"
                    current, pos = ln.audio, 0
                    run.lines.append(Heard(ln.text, round(self.t, 3), round(self.t + voiced_end(ln.audio), 3)))
            block = np.zeros(b, np.float32)
            if current is not None:
                piece = current[pos:pos + b]
                block[:len(piece)] = piece
                pos += b
                if pos >= len(current):
                    current = None
                    line_done_at = wait_from = self.t + len(piece) / RATE
                    wall_from = time.perf_counter()
                    asked_at = line_done_at if after else asked_at
            # the speaker: the next block of the bot's audio
            out, started, at, n = self._take(b)
            if started is not None:  # its first sample as played (a reply's first chunk may start with silence)
                sound = np.flatnonzero(out[at:])
                reply_began = round(self.t + (at + (sound[0] if len(sound) else 0)) / RATE, 3)
                run.replies.append((reply_began, started.text))
                for h in run.lines:
                    if h.reply_start is None and h.voice_end <= reply_began:
                        h.reply_start = reply_began
            if out.any():
                last_sound = self.t + (np.flatnonzero(out)[-1] + 1) / RATE
            if n:
                self.played(n / RATE)
            speaker.append(out)
            # the microphone: caller + noise + the speaker's echo
            if self.noise is not None:
                j = (k * b) % max(1, len(self.noise) - b)
                block = block + self.noise[j:j + b]
            if self.echo_delay is not None:
                played = np.concatenate(speaker[-(self.echo_delay // b + 2):])
                end = len(played) - b  # index in `played` of this block's start
                idx = end - self.echo_delay + np.arange(b)
                ok = idx >= 0
                block[ok] += self.echo_gain * played[idx[ok]]
            mic.append(block)
            session.push_audio(block, RATE)
            k += 1
            self.t = k * b / RATE
            if current is None and not lines and isinstance(caller, Script) or (
                    isinstance(caller, Recording) and current is None):
                # (never the session's lock under the device's: the session's speaking thread
                # takes them the other way round, session then device, and the two hung once)
                busy = self._busy(session)
                if not busy and self.t - max(last_sound, line_done_at) >= tail_s:
                    break
            if fast:
                playing = session.now_playing() is not None
                with self._lock:
                    starved = not self._out
                if (current is None and not answered) or (playing and (current is not None or starved)):
                    time.sleep(b / RATE)  # the bot's own pace: its work takes real seconds
                else:  # as fast as the listener takes the audio
                    until = time.perf_counter() + 5.0
                    while session.backlog() > 2 and time.perf_counter() < until:
                        time.sleep(0.002)
                continue
            delay = start + self.t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        run.interruptions = list(self._interruptions)
        run.holds = list(self._holds)
        run.speaker, run.mic, run.seconds = np.concatenate(speaker), np.concatenate(mic), round(self.t, 3)
        return run
