"""Live conversation: one caller, audio in as it comes, the bot's events out as they happen.

    session = LiveSession(bot, on_event=send)   # engines (Bot) shared, one Conversation each
    session.push_audio(samples, rate)           # from the capture callback; never blocks
    session.played(seconds)                     # the transport played that much reply audio
    session.close()                             # both threads gone

Two threads per session, joined by a queue, so capture never waits for a model:
- listen: microphone frames (a bounded queue; on overflow frames are dropped and counted,
  push_audio still returns at once) -> echo canceller -> VAD Segmenter -> TurnTaker, which
  transcribes and understands each turn (voicebot.live.turns) and decides barge-ins;
- speak: caller turns -> DialogueStage -> TTSStage.speak -> AudioChunk events.
`on_event` gets Transcript, NLUResult, BotReply, AudioChunk, the control events Interrupted and
Hold (and Error if an engine fails), one at a time, from either thread: keep it quick (hand the
event to the transport's own queue or socket). A transport's output side is an AudioOutput
(voicebot.live.output): its `route(ev)` plays the audio and applies the control events, and
its `played` reports back here. Interrupted is the control path: the listen thread sends it
straight to `on_event` (the transport drops what it has not played yet) and marks the reply
cut, so the speak thread stops making its audio; it never waits behind queued audio. The
dialogue then gets it too, with the seconds the caller heard (from `played`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import soxr

from asr.audio import resample
from asr.events import AudioFrame, Transcript
from asr.vad import Segmenter
from nlu.events import BotReply, Hold, Interrupted, NLUResult
from nlu.redact import redact_turn
from nlu.stage import DialogueStage
from voicebot.live.echo import EchoCanceller
from voicebot.live.turns import TurnTaker, tag_frames

RATE = 16000
CHARS_PER_S = 15.0  # the Piper voice's speaking rate, to guess the words in part of a reply
_STOP = object()
PLAYED_SLACK = RATE // 100  # 10 ms
QUIET = 0.01  # -40 dBFS: a reply's last samples under it are its tail, not its words


@dataclass(frozen=True)
class Error:
    """A recoverable problem in a stage; the pipeline goes on."""
    stage: str
    message: str
    extra: dict = field(default_factory=dict)


class _Playing:
    """A reply on its way to the caller: audio sent (16 kHz copies for the echo canceller), played."""

    def __init__(self, reply: BotReply):
        self.reply, self.sent_s, self.played_s, self.done = reply, 0.0, 0.0, False
        self.unplayed: deque[np.ndarray] = deque()
        self.quiet_tail = 0  # samples at the end under QUIET, known once all are sent

    def audible(self) -> bool:
        """Sound still to come: a reply whose unplayed rest is its quiet tail has been heard
        (pausing or cutting that tail for the caller's next words would keep it "playing")."""
        return not self.done or sum(len(a) for a in self.unplayed) > self.quiet_tail

    def finished(self) -> bool:
        """All sent and played. The 16 kHz copies and the transport's count of what it played
        (at its own rate, in rounded steps) can differ by a few samples: without this slack a
        reply played to its end stayed "playing", and the caller's next turn read as a barge-in."""
        return self.done and sum(len(a) for a in self.unplayed) <= PLAYED_SLACK


class LiveSession:
    def __init__(self, bot, on_event=None, greet: bool | None = None, out_rate: int | None = None,
                 max_backlog_s: float = 10.0, conversation=None):
        self.bot = bot
        self.cfg = bot.config.live
        self.on_event = on_event or (lambda ev: None)
        # a conversation of its own (`voicebot test`: each story its own order database), else the bot's
        self.conversation = conversation or bot.policy.new_conversation()
        tts = bot.tts()
        if out_rate:
            tts.out_rate = out_rate
        self.tts = tts
        self.out_rate = tts.out_rate
        self.echo = EchoCanceller(self.cfg.echo_max_delay_ms)
        frame = RATE * bot.config.audio.frame_ms // 1000
        self._frame = frame
        self._inbox: queue.Queue = queue.Queue(int(max_backlog_s * RATE / frame))
        self._todo: queue.Queue = queue.Queue()
        self._lock = threading.RLock()  # one event out at a time; the playing list
        self._playing: deque[_Playing] = deque()
        self._cut: set[int] = set()  # id() of replies whose audio must stop
        self._resamplers: dict[int, soxr.ResampleStream] = {}
        self._pending = np.zeros(0, np.float32)
        self._pushed = 0  # microphone samples (16 kHz) taken so far: the call clock
        self._framed = 0  # ... of which cut into frames
        self._pushed_at = time.perf_counter()
        self.dropped_frames = 0
        self.holds = 0  # times playback paused for caller voice (each ends in a barge-in or a resume)
        self.turns: list[dict] = []  # the transcript record, one dict per caller turn
        self.closed = False
        greet = self.cfg.greet if greet is None else greet
        self._threads = [threading.Thread(target=self._listen, name="live-listen", daemon=True),
                         threading.Thread(target=self._speak, args=(greet,), name="live-speak", daemon=True)]
        for t in self._threads:
            t.start()

    # ---- what a transport calls
    def push_audio(self, samples: np.ndarray, rate: int = RATE) -> None:
        """Caller audio, mono float32 in [-1, 1] at any rate; returns at once."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        if rate != RATE:
            rs = self._resamplers.setdefault(rate, soxr.ResampleStream(rate, RATE, 1, dtype="float32"))
            samples = rs.resample_chunk(samples)
        buf = np.concatenate([self._pending, samples])
        n = len(buf) // self._frame * self._frame
        for i in range(0, n, self._frame):
            t = (self._framed + i) / RATE
            try:
                self._inbox.put_nowait(AudioFrame(buf[i:i + self._frame], RATE, t))
            except queue.Full:  # the listener is far behind: lose audio rather than stall capture
                self.dropped_frames += 1
        self._pending = buf[n:]
        self._framed += n
        self._pushed += len(samples)
        self._pushed_at = time.perf_counter()

    def played(self, seconds: float) -> None:
        """The transport has just played `seconds` more of the reply audio it was given."""
        n = int(round(seconds * RATE))
        ref = []
        with self._lock:
            while n > 0 and self._playing:
                p = self._playing[0]
                while n > 0 and p.unplayed:
                    a = p.unplayed.popleft()
                    if len(a) > n:
                        p.unplayed.appendleft(a[n:])
                        a = a[:n]
                    ref.append(a)
                    n -= len(a)
                    p.played_s += len(a) / RATE
                if p.finished():
                    self._playing.popleft()
                elif not p.unplayed:
                    break
        if ref:
            self.echo.add_reference(np.concatenate(ref), self._pushed)

    def backlog(self) -> int:
        """Microphone frames waiting for the listener (a faster-than-real-time caller waits on it)."""
        return self._inbox.qsize()

    def now_playing(self) -> BotReply | None:
        """The reply the caller is hearing (or about to hear), if any."""
        with self._lock:
            return self._playing[0].reply if self._playing and self._playing[0].audible() else None

    def clock(self) -> float:
        """Call time now: the microphone audio taken, plus the time since the last push."""
        return self._pushed / RATE + (time.perf_counter() - self._pushed_at)

    def close(self, timeout: float = 5.0) -> None:
        self.closed = True
        while True:  # make room for the stop mark: the frames still queued are not wanted now
            try:
                self._inbox.put_nowait(_STOP)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._inbox.get_nowait()
        for t in self._threads:
            t.join(timeout)

    def transcript(self) -> dict:
        turns = public_turns(self.turns)
        if self.bot.config.privacy.redact:
            turns = [redact_turn(t) for t in turns]
        return {"turns": turns, "dropped_frames": self.dropped_frames, "holds": self.holds,
                "echo_suppression_db": self.echo.suppression_db()}

    # ---- the two threads
    def _emit(self, ev) -> None:
        with self._lock:
            try:
                self.on_event(ev)
            except Exception as e:  # a transport's bug must not kill the session's threads
                print(f"voicebot live: on_event failed on {type(ev).__name__}: {e}")

    def _frames(self):
        while (fr := self._inbox.get()) is not _STOP:
            at = int(round(fr.t * RATE))
            yield AudioFrame(self.echo.process(fr.samples, at), RATE, fr.t)

    def _listen(self) -> None:
        # the turn-taking rules were tuned on Silero alone, with a 300 ms pre-roll (a longer one
        # reaches back into the bot's reply); the level gates split its short-pause segments at
        # other places and cost turns in live noise (measured on tests/test_live.py): off here
        vad = dataclasses.replace(self.bot.config.vad, hangover_ms=self.cfg.short_pause_ms, min_speech_ms=0,
                                  pre_roll_ms=300, snr_db=0.0, drop_db=0.0, resume_ms=self.cfg.resume_ms,
                                  engine=self.cfg.vad_engine or self.bot.config.vad.engine)
        taker = TurnTaker(self.bot.recognizer, self.bot.nlu, self.cfg, self.now_playing,
                          self.bot.config.asr.no_speech_threshold, context_s=self.bot.config.asr.context_s)
        try:
            for ev in taker(Segmenter(vad, pauses=self.cfg.decode_at_pause)(tag_frames(self._frames()))):
                if isinstance(ev, Interrupted):
                    self._interrupt(ev)
                elif isinstance(ev, Hold):
                    self.holds += ev.on
                    self._emit(ev)  # the transport pauses (or goes on) now, not behind queued audio
                elif isinstance(ev, NLUResult):
                    self._new_turn(ev)
                elif isinstance(ev, Transcript):
                    self._emit(ev)
        except Exception as e:  # an engine failed: say so; the call cannot go on hearing
            self._emit(Error("listen", f"{type(e).__name__}: {e}"))
        finally:
            self._todo.put(_STOP)

    def _new_turn(self, nlu: NLUResult) -> None:
        wait_ms = (self.clock() - nlu.end) * 1000 - nlu.asr_ms - nlu.nlu_ms
        self.turns.append({"start": nlu.start, "end": nlu.end, **nlu.to_dict(), "reply": "", "reply_cut": None,
                           "latency_ms": {"endpoint": round(max(0.0, wait_ms), 1), "asr": round(nlu.asr_ms, 1),
                                          "nlu": round(nlu.nlu_ms, 1), "dialogue": None, "tts_first_audio": None}})
        self._emit(nlu)
        self._todo.put((nlu, self.turns[-1]))

    def _interrupt(self, ev: Interrupted) -> None:
        with self._lock:
            if not self._playing:
                return  # it ended by itself meanwhile
            p = self._playing[0]
            self._cut.update(id(q.reply) for q in self._playing)
            self._playing.clear()
            heard = min(len(p.reply.text), int(p.played_s * CHARS_PER_S))
            text = p.reply.text[:heard].rsplit(" ", 1)[0] if heard < len(p.reply.text) else p.reply.text
            ev = dataclasses.replace(ev, reply=p.reply, heard_s=round(p.played_s, 3), heard_text=text,
                                     decided_t=round(self.clock(), 3))
            self._emit(ev)  # the transport stops now
        for turn in self.turns:
            if turn["reply"] and turn.get("_reply") is p.reply:
                turn["reply_cut"] = {"heard_s": ev.heard_s, "heard_text": ev.heard_text}
        self._todo.put(ev)  # the dialogue learns what was heard

    def _speak(self, greet: bool) -> None:
        try:
            self._speak_turns(greet)
        except Exception as e:
            self._emit(Error("speak", f"{type(e).__name__}: {e}"))

    def _speak_turns(self, greet: bool) -> None:
        turn_of: dict[int, dict] = {}

        def todo():
            while (item := self._todo.get()) is not _STOP:
                if isinstance(item, tuple):
                    turn_of[id(item[0])] = item[1]
                    item = item[0]
                yield item

        for ev in DialogueStage(self.conversation, greet)(todo()):
            if not isinstance(ev, BotReply) or self.closed:
                continue
            turn = turn_of.pop(id(ev.turn), None) if ev.turn is not None else None
            if turn is not None:
                turn.update(reply=ev.text, answer_source=ev.answer_source, faq=ev.faq, _reply=ev)
                if ev.taken_as:  # the conversation took the turn for another intent than the classifier's
                    turn.update(intent=ev.taken_as, nlu_intent=turn["intent"])
                turn["latency_ms"]["dialogue"] = round(ev.dialogue_ms, 1)
            if not ev.text.strip():
                self._emit(ev)
                continue
            p = _Playing(ev)
            with self._lock:
                self._playing.append(p)
                self._emit(ev)
            for chunk in self.tts.speak(ev):
                with self._lock:
                    if id(ev) in self._cut or self.closed:
                        break
                    if chunk.index == 0 and turn is not None:
                        turn["latency_ms"]["tts_first_audio"] = round(chunk.first_audio_ms, 1)
                    if len(chunk.samples):
                        p.unplayed.append(resample(chunk.samples, chunk.sample_rate, RATE))
                    p.sent_s += len(chunk.samples) / chunk.sample_rate
                    p.done = chunk.last
                    if p.done:
                        p.quiet_tail = quiet_tail(p.unplayed)
                    if p.finished() and self._playing and self._playing[0] is p:
                        self._playing.popleft()  # played already (or an empty reply)
                    self._emit(chunk)
                if not chunk.last:
                    self._yield_to_decodes(p)

    def _yield_to_decodes(self, p: _Playing) -> None:
        """Before the reply's next sentence is made (`live.synthesis_yields`): while the caller
        has more than `yield_ahead_ms` of it still to hear and a caller turn is being decoded,
        wait. Piper takes both cores for a sentence; a turn that ended meanwhile waits for it,
        and the rest of this reply is not needed yet."""
        ahead_s = self.cfg.yield_ahead_ms / 1000
        idle = getattr(self.bot.recognizer, "idle", None)
        if not self.cfg.synthesis_yields or idle is None:
            return
        while (not self.closed and id(p.reply) not in self._cut and p.sent_s - p.played_s > ahead_s
               and not idle()):
            time.sleep(0.01)


def quiet_tail(arrays) -> int:
    """Samples at the end of `arrays` (in order) under QUIET."""
    n = 0
    for a in reversed(arrays):
        loud = np.flatnonzero(np.abs(a) >= QUIET)
        if len(loud):
            return n + len(a) - 1 - int(loud[-1])
        n += len(a)
    return n


def public_turns(turns: list[dict]) -> list[dict]:
    """The transcript record without the session's private links."""
    return [{k: v for k, v in t.items() if not k.startswith("_")} for t in turns]
