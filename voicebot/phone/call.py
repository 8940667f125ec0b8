"""One phone call: G.711 at 8 kHz in and out, on a LiveSession, with its call record.

A transport (SIP/RTP, a media-stream WebSocket) owns the line; PhoneCall owns the conversation,
and is its output side (an AudioOutput, voicebot.live.output: the session's audio and control
events become frames queued, dropped, held). The transport gives it a `Line`, which PhoneCall
calls back:

    class MyLine(Line):                       # override what the transport can do
        def send_audio(self, payload): ...    # one 20 ms frame of the bot's voice: 160 bytes of
                                              # G.711 in the call's codec, sent when it is due
        def mark(self, name): ...             # played_by="marks" only: ask the far end to echo
                                              # `name` once it has played the audio sent so far
        def clear(self): ...                  # barge-in: drop bot audio queued, not yet played
        def hangup(self, reason): ...         # the bot ends the call: goodbye played, silence
                                              # timeout, an engine error
        def handover(self, uri): ...          # pass the call to a person at `uri` (phone.handover_uri)

    call = PhoneCall(bot, line, codec="pcmu", transport="sip", caller="sip:alice@host",
                     store=CallStore(url), played_by="sent", send_silence=True)
        # also: callee, external_id (Call-ID, callSid), meta (a dict kept in the record),
        # on_event (every session event, for a UI), greet (None: live.greet); codec None: phone.codec
    call.push(payload)        # caller audio: G.711 bytes of any length (20 ms usual); never blocks
    call.mark_played(name)    # played_by="marks": the far end echoed mark `name`
    call.wait(timeout)        # True once the bot has ended the call (call.ended says why)
    call.hangup(reason)       # the server ends it (stopping): the line's hangup, `reason` recorded
    call.close(reason)        # the call is over, for whatever reason: joins every thread, writes
                              # the record (idempotent; the transport calls it in every case,
                              # after hangup/handover too)
    call.id                   # the call record's id (voicebot calls show ID)
    call.audio_saved          # phone.record_audio: an Event, set once the recording is stored
                              # (redacted and encrypted after the call: voicebot.phone.recording)

Frames out. One per 20 ms tick while the bot speaks; with `send_silence=True` a silence frame on
the other ticks too, so an RTP sender can simply send each frame it gets (a continuous stream).
`decode(payload, codec)` / `encode(samples, codec)` convert G.711 and float32 (8-bit linear,
as pyVoIP uses, is `audioop.bias(audioop.ulaw2lin(p, 1), 1, 128)` from mu-law, and back).

Played audio. `played_by="sent"` (RTP): a frame counts as heard when it is handed to
`send_audio`, which happens in real time (a 20 ms clock), so the transport sends it at once.
`played_by="marks"` (Twilio-style media streams, where the far end buffers): frames are paced
the same way, PhoneCall asks for a mark every 200 ms of audio and at each reply's end, and
counts the audio as heard when the mark comes back. After a `clear` the marks still out are
forgotten (Twilio echoes them all at a clear, played or not).

Ends. The bot hangs up after its goodbye has been heard (the dialogue's `end_call`), hands
over after the handover reply has been heard (with no handover_uri it hangs up instead), and
hangs up after `phone.silence_timeout_s` with neither caller speech nor bot audio, or when an
engine fails. Each of these calls `hangup` or `handover` once and sets `call.ended`; the
transport then ends the line and calls `close`. The caller hanging up is the transport's
`close("caller hung up")`.

Privacy. With `privacy.encrypt` the record's text columns are sealed with the key
(voicebot.phone.records); with no key to be had the call still goes on, its record keeps no text and
no recording is stored (one error line says so). The recording is redacted and encrypted by
voicebot.phone.recording after the call ends.

Threads: the session's two (listen, speak), `phone-pace` (the 20 ms clock: frames out, ends),
`phone-record` (database writes, off the audio path) and, after a recorded call, `phone-audio`.
`send_audio`, `mark`, `hangup` and `handover` are called on phone-pace; `clear` on the listen
thread, the moment barge-in is decided. Keep them quick: hand the work to the transport's own
loop or socket.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # the standard library's G.711 in C, up to Python 3.12 (audioop-lts after)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from asr.events import Transcript
from nlu.events import BotReply, NLUResult
from nlu.redact import redact_turn
from tts.events import AudioChunk
from voicebot.live.output import AudioOutput
from voicebot.live.session import Error, LiveSession
from voicebot.phone.recording import stereo, store_later
from voicebot.privacy.crypto import CryptoError, open_vault

log = logging.getLogger("voicebot.phone.call")
RATE = 8000
FRAME = RATE // 50  # 20 ms
FRAME_S = FRAME / RATE
MARK_EVERY = 10  # frames between marks (200 ms)
SPEECH_RMS = 0.02  # about -34 dBFS: a 20 ms frame this loud counts as the caller talking
END_TAIL_S = 0.3  # played_by="sent": the far end's jitter buffer still holds the last frames
MARK_WAIT_S = 5.0  # played_by="marks": how long past its audio a reply's marks may take
CODECS = {"pcmu": (audioop.ulaw2lin, audioop.lin2ulaw), "pcma": (audioop.alaw2lin, audioop.lin2alaw)}
SILENCE = {"pcmu": b"\xff" * FRAME, "pcma": b"\xd5" * FRAME}
_STOP = object()


def decode(payload: bytes, codec: str) -> np.ndarray:
    """G.711 bytes -> float32 in [-1, 1]."""
    return np.frombuffer(CODECS[codec][0](payload, 2), "<i2").astype(np.float32) / 32768


def encode(samples: np.ndarray, codec: str) -> bytes:
    """float32 in [-1, 1] -> G.711 bytes, one per sample."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return CODECS[codec][1](pcm, 2)


class Line:
    """What a transport does for a call; see the module docstring. Defaults do nothing."""

    def send_audio(self, payload: bytes) -> None:
        pass

    def mark(self, name: str) -> None:
        pass

    def clear(self) -> None:
        pass

    def hangup(self, reason: str) -> None:
        pass

    def handover(self, uri: str) -> None:
        pass


@dataclass
class _Frame:
    payload: bytes
    reply: BotReply
    real: int  # samples of reply audio in it (the last frame of a reply is padded)
    first: bool = False
    last: bool = False


class PhoneCall(AudioOutput):
    """The call, and its output side: `play`, `clear`, `pause` and `resume` queue, drop, hold
    and release the frames the 20 ms clock sends down the line."""

    def __init__(self, bot, line: Line, codec: str | None = None, transport: str = "phone", caller: str = "",
                 callee: str = "", external_id: str = "", store=None, played_by: str = "sent",
                 send_silence: bool = False, meta: dict | None = None, on_event=None, greet: bool | None = None):
        super().__init__()
        self.cfg = bot.config.phone
        self.codec = codec or self.cfg.codec
        if self.codec not in CODECS:
            raise ValueError(f"codec must be pcmu or pcma, not {self.codec!r}")
        if played_by not in ("sent", "marks"):
            raise ValueError(f"played_by must be sent or marks, not {played_by!r}")
        self.line, self.store, self.played_by, self.send_silence = line, store, played_by, send_silence
        self.on_event = on_event or (lambda ev: None)
        self.id = uuid.uuid4().hex
        self.ended: str | None = None  # why the bot ended the call
        self.handover_uri: str | None = None
        self.late_frames = 0  # frames sent more than one frame late (the clock fell behind)
        self.closed = False
        self._lock = threading.Lock()
        self._frames: deque[_Frame] = deque()
        self._held = False  # caller voice over the reply: frames wait (a barge-in clears them, else they go on)
        self._rest = np.zeros(0, np.float32)  # reply audio short of a whole frame
        self._first_of: set[int] = set()  # id() of replies whose first frame is still to go
        self._replies_done: set[int] = set()  # id() of replies whose audio has all arrived
        self._marks: dict[str, float] = {}  # mark name -> seconds of audio it confirms
        self._mark_n, self._since_mark = 0, 0.0
        self._end_after: BotReply | None = None  # the reply after which the call ends
        self._end_sent_at: float | None = None
        self._error: str | None = None
        self._activity = time.monotonic()  # last caller speech or bot audio
        self._vault = None  # the record's key: None (no encryption), a Vault, False (wanted, no key)
        if bot.config.privacy.encrypt:
            try:
                self._vault = open_vault(bot.config.privacy)
            except CryptoError as e:
                log.error("call %s: %s: its record keeps no text and its audio is not stored", self.id[:8], e)
                self._vault = False
        self._record = self.cfg.record_audio and self._vault is not False
        self.audio_saved = threading.Event()
        self._caller_pcm: list[np.ndarray] = []
        self._caller_n = 0
        self._bot_pcm: list[tuple[int, np.ndarray]] = []  # (caller samples at the time, audio)
        self._done = threading.Event()
        self._writes: queue.Queue = queue.Queue()
        self._recorder = threading.Thread(target=self._write_records, name="phone-record", daemon=True)
        self._recorder.start()
        if store is not None:
            meta = dict(meta or {})
            self._writes.put(lambda: store.start_call(transport, caller, callee, external_id, self.codec, meta,
                                                      call_id=self.id, vault=self._vault))
        try:
            self.session = LiveSession(bot, on_event=self._on_event, greet=greet, out_rate=RATE)
        except BaseException:  # no thread left behind; the record says why
            if store is not None:
                self._writes.put(lambda: store.end_call(self.id, "failed to start"))
            self._writes.put(_STOP)
            self._recorder.join(10)
            raise
        self._pacer = threading.Thread(target=self._pace, name="phone-pace", daemon=True)
        self._pacer.start()

    # ---- what the transport calls
    def push(self, payload: bytes) -> None:
        if self.closed or not payload:
            return
        pcm = CODECS[self.codec][0](bytes(payload), 2)
        if audioop.rms(pcm, 2) > SPEECH_RMS * 32768:
            self._activity = time.monotonic()
        samples = np.frombuffer(pcm, "<i2")
        if self._record:
            self._caller_pcm.append(samples)
        self._caller_n += len(samples)
        self.session.push_audio(samples.astype(np.float32) / 32768, RATE)

    def mark_played(self, name: str) -> None:
        with self._lock:
            seconds = self._marks.pop(name, None)
        if seconds:
            self.played(seconds)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def hangup(self, reason: str) -> None:
        """The server ends the call (it is stopping): the line hangs up as when the bot does, and
        `reason` goes in the record. The transport then calls `close`, as always."""
        with self._lock:
            if self.closed or self._done.is_set():
                return
            self._done.set()  # the clock stops: nothing else ends the call meanwhile
        self._finish(reason, None)

    def close(self, reason: str = "closed", timeout: float = 5.0) -> None:
        if self.closed:
            return
        self.closed = True
        self._done.set()
        if threading.current_thread() is not self._pacer:
            self._pacer.join(timeout)
        self.session.close(timeout)
        why = self.ended or reason
        if self.store is not None:
            fields = {"handover": self.handover_uri, "dropped_frames": self.session.dropped_frames,
                      "late_frames": self.late_frames}
            turns = [dict(t) for t in self.session.transcript()["turns"]]
            self._writes.put(lambda: self.store.end_call(self.id, why, turns, **fields))
        self._writes.put(_STOP)
        self._recorder.join(timeout + 5)
        if self._record:
            self._save_audio()
        else:
            self.audio_saved.set()
        log.info("call %s: %s after %d turns", self.id[:8], why, len(self.session.turns))

    # ---- session events (on the session's threads, inside its lock)
    def _on_event(self, ev) -> None:
        if not self.route(ev):  # audio and control events: the output side, below
            self._note(ev)
        self.on_event(ev)

    def _note(self, ev) -> None:
        if isinstance(ev, BotReply):
            if ev.end_call or ev.handover:
                self._end_after = ev
            if not ev.text.strip():
                self._replies_done.add(id(ev))
                self._write_turn(ev)
        elif isinstance(ev, (Transcript, NLUResult)):
            self._activity = time.monotonic()
        elif isinstance(ev, Error):
            self._error = f"{ev.stage}: {ev.message}"

    # ---- the output side (AudioOutput)
    def pause(self, cause=None) -> None:
        with self._lock:
            self._held = True  # pacing stops within a frame; what the far end holds is ~20-60 ms

    def resume(self, cause=None) -> None:
        with self._lock:
            self._held = False

    def clear(self, cause=None) -> None:
        cut = getattr(cause, "reply", None)  # the reply the Interrupted cut
        with self._lock:
            self._held = False
            self._frames.clear()
            self._rest = np.zeros(0, np.float32)
            self._marks.clear()
            self._since_mark = 0.0
            if self._end_after is not None and self._end_after is cut:
                self._end_after = None  # the goodbye was cut: the caller has more to say
            self._activity = time.monotonic()
        self.line.clear()

    def play(self, chunk: AudioChunk) -> None:
        reply = chunk.reply
        with self._lock:
            audio = np.concatenate([self._rest, chunk.samples])
            if chunk.last and len(audio) % FRAME:
                real = len(audio)
                audio = np.concatenate([audio, np.zeros(FRAME - len(audio) % FRAME, np.float32)])
            else:
                real = len(audio) // FRAME * FRAME
            n = len(audio) // FRAME * FRAME
            if chunk.index == 0:
                self._first_of.add(id(reply))
            for i in range(0, n, FRAME):
                self._frames.append(_Frame(encode(audio[i:i + FRAME], self.codec), reply, min(FRAME, real - i),
                                           first=id(reply) in self._first_of))
                self._first_of.discard(id(reply))
            self._rest = audio[n:]
            if chunk.last:
                if self._frames and self._frames[-1].reply is reply:
                    self._frames[-1].last = True
                self._replies_done.add(id(reply))

    # ---- the 20 ms clock
    def _pace(self) -> None:
        due = time.monotonic()
        try:
            while not self._done.is_set():
                due += FRAME_S
                late = time.monotonic() - due
                if late > 0.2:  # far behind (a stalled machine): start the clock again
                    due = time.monotonic()
                self._tick(late)
                if self._check_end():
                    return
                time.sleep(max(0.0, due - time.monotonic()))
        except Exception as e:  # a transport's callback failed: end this call, not the server
            self._finish(f"error: {type(e).__name__}: {e}", None)

    def _tick(self, late: float) -> None:
        with self._lock:
            fr = self._frames.popleft() if self._frames and not self._held else None
        if fr is None:
            if self.send_silence:
                self.line.send_audio(SILENCE[self.codec])
            return
        if late > FRAME_S:
            self.late_frames += 1
        self.line.send_audio(fr.payload)
        self._activity = time.monotonic()
        if self._record:
            self._bot_pcm.append((self._caller_n, np.frombuffer(CODECS[self.codec][0](fr.payload, 2), "<i2")))
        if fr.first:
            self._reply_started(fr.reply)
        seconds = fr.real / RATE
        if self.played_by == "sent":
            self.played(seconds)
        else:
            with self._lock:
                self._since_mark += seconds
                ask = fr.last or self._mark_n % MARK_EVERY == MARK_EVERY - 1
                name = None
                if ask:
                    name = f"m{self._mark_n}"
                    self._marks[name] = self._since_mark
                    self._since_mark = 0.0
                self._mark_n += 1
            if name:
                self.line.mark(name)
        if fr.last and fr.reply is self._end_after:
            self._end_sent_at = time.monotonic()

    def _check_end(self) -> bool:
        if self._error:
            return self._finish(f"error: {self._error}", None)
        reply = self._end_after
        if reply is not None and id(reply) in self._replies_done and not self._frames:
            now = time.monotonic()
            sent_at = self._end_sent_at or now
            heard = self.session.now_playing() is None
            if self.played_by == "sent":
                heard = heard and now - sent_at >= END_TAIL_S
            elif not heard and now - sent_at > MARK_WAIT_S:
                log.info("call %s: the far end did not confirm the last reply; ending anyway", self.id[:8])
                heard = True
            if heard:
                if reply.handover:
                    return self._finish("handover", self.cfg.handover_uri or None)
                return self._finish("the dialogue ended the call", None)
        idle = time.monotonic() - self._activity
        if idle > self.cfg.silence_timeout_s and not self._frames and self.session.now_playing() is None:
            return self._finish("silence timeout", None)
        return False

    def _finish(self, reason: str, handover_uri: str | None) -> bool:
        self.ended = reason
        if reason == "handover" and handover_uri:
            self.handover_uri = handover_uri
            self.line.handover(handover_uri)
        else:
            if reason == "handover":
                self.ended = "handover asked, but phone.handover_uri is not set: hung up"
                log.warning("call %s: %s", self.id[:8], self.ended)
            self.line.hangup(self.ended)
        self._done.set()
        return True

    # ---- the record
    def _reply_started(self, reply: BotReply) -> None:
        turn = self._turn_of(reply)
        if turn is not None:
            turn["latency_ms"]["reply"] = round(max(0.0, self.session.clock() - turn["end"]) * 1000, 1)
        self._write_turn(reply)

    def _turn_of(self, reply: BotReply) -> dict | None:
        return next((t for t in reversed(self.session.turns) if t.get("_reply") is reply), None)

    def _write_turn(self, reply: BotReply) -> None:
        turn = self._turn_of(reply) if reply.turn is not None else None
        if turn is not None and self.store is not None:
            row = {k: v for k, v in turn.items() if not k.startswith("_")}
            if self.session.bot.config.privacy.redact:  # as the record's final turns (session.transcript())
                row = redact_turn(row)
            self._writes.put(lambda: self.store.add_turn(self.id, row))

    def _write_records(self) -> None:
        while (job := self._writes.get()) is not _STOP:
            try:
                job()
            except Exception as e:  # CallStore logs its own failures; this is anything else
                log.warning("call %s: record write failed: %s: %s", self.id[:8], type(e).__name__, e)

    def _save_audio(self) -> None:
        """The call as a stereo WAV (the caller left, the bot right, on one clock), stored after
        redaction and encryption on a thread of its own: the record gets its path then."""
        pcm = stereo(self._caller_pcm, self._bot_pcm)
        path = Path(self.cfg.audio_dir) / f"{self.id}.wav"
        privacy = self.session.bot.config.privacy
        recognizer = self.session.bot.recognizer if privacy.redact else None
        store_later(self.id, pcm, path, recognizer, self._vault, self.store, self.audio_saved, self._recorder)
