"""The output side of a live call: one interface that every transport implements.

A transport's output (the simulated device, the PyAudio speaker, the browser page, the phone
line) is an `AudioOutput`:

    play(chunk)       queue a chunk of the reply after what is queued already
    clear(cause)      drop what has not been played yet: the caller barged in (cause: the Interrupted)
    pause(cause)      stop playing, keeping the rest: caller voice over the reply (cause: the Hold)
    resume(cause)     go on from where it paused: it was not a barge-in after all

The session's events reach it through `route(ev)`: audio is played, and a control event
(nlu.events.Control: Interrupted, Hold) says itself what it does to an output
(`ev.apply(output)` calls one of the above with itself as the cause, for outputs that show or
record it), so a new control needs no new branch in every transport. Control events act at once,
ahead of any audio still queued. `route` also keeps the count of each reply's audio queued and
played, so an output implements only the four methods and `played`.

Going back, the output reports what the caller heard: `played(seconds)` as reply audio reaches
the caller (the session's count of what was heard, which barge-in and the echo canceller use:
LiveSession.played), and, once a reply has been played to its end or cut off,
`on_playback_finished(reply, played_s, interrupted)`.

Sockets queue their messages in an `Outbox`, where a control message jumps ahead of the audio
still queued: a barge-in that waited behind seconds of reply would not be one.
"""
from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from nlu.events import BotReply, Control
from tts.events import AudioChunk

SLACK_S = 0.01  # a reply this close to all played has been played (transports count in their own steps)


@dataclass
class _Playout:
    """One reply's audio in an output: queued and played so far, in seconds."""
    reply: BotReply
    queued_s: float = 0.0
    played_s: float = 0.0
    last: bool = False  # its last chunk has been queued

    def done(self) -> bool:
        return self.last and self.queued_s - self.played_s <= SLACK_S


class AudioOutput(ABC):
    """Where a call's reply audio goes. Subclasses implement `play`, `clear`, `pause` and
    `resume`, calling `super()` in `play` and `clear` (the count behind `on_playback_finished`),
    and call `played` as audio reaches the caller. `play`, `clear`, `pause` and `resume` run on
    the session's threads, inside its lock: keep them quick (hand the work to the transport's
    own queue, loop or socket)."""

    def __init__(self):
        self.session = None  # what `played` is reported to: a LiveSession
        self.on_playback_finished = None  # called with (reply, played_s, interrupted)
        self._playouts: deque[_Playout] = deque()
        self._playouts_lock = threading.Lock()

    def route(self, ev) -> bool:
        """Plays `ev` if it is reply audio, applies it if it is a control event; False for any
        other event (the transport's own business)."""
        if isinstance(ev, AudioChunk):
            self.play(ev)
            self._queued(ev)
        elif isinstance(ev, Control):
            ev.apply(self)
            if ev.drops_audio:
                self._dropped()
        else:
            return False
        return True

    @abstractmethod
    def play(self, chunk: AudioChunk) -> None:
        """Queue `chunk` (it may be empty: a reply's `last` chunk often is)."""

    @abstractmethod
    def clear(self, cause: Control | None = None) -> None:
        """Drop what has not been played: it is never played."""

    @abstractmethod
    def pause(self, cause: Control | None = None) -> None:
        """Stop playing now; what is queued stays."""

    @abstractmethod
    def resume(self, cause: Control | None = None) -> None:
        """Go on playing what is queued."""

    def _queued(self, chunk: AudioChunk) -> None:
        with self._playouts_lock:
            if not self._playouts or self._playouts[-1].reply is not chunk.reply:
                self._playouts.append(_Playout(chunk.reply))
            p = self._playouts[-1]
            p.queued_s += len(chunk.samples) / chunk.sample_rate
            p.last = p.last or chunk.last
            done = self._settle()
        self._finished(done, False)

    def _dropped(self) -> None:
        with self._playouts_lock:
            cut = list(self._playouts)
            self._playouts.clear()
        self._finished(cut, True)

    def played(self, seconds: float) -> None:
        """`seconds` more of the queued reply audio have just reached the caller."""
        if self.session is not None:
            self.session.played(seconds)
        with self._playouts_lock:
            left = seconds
            for p in self._playouts:
                take = min(left, max(0.0, p.queued_s - p.played_s))
                p.played_s += take
                left -= take
                if left <= 0 or not p.last:
                    break
            done = self._settle()
        self._finished(done, False)

    def _settle(self) -> list[_Playout]:
        done = []
        while self._playouts and self._playouts[0].done():
            done.append(self._playouts.popleft())
        return done

    def _finished(self, playouts: list[_Playout], interrupted: bool) -> None:
        if self.on_playback_finished is not None:
            for p in playouts:
                self.on_playback_finished(p.reply, round(p.played_s, 3), interrupted)


class Outbox:
    """A socket's messages on their way out, in order, except that control messages jump ahead
    of the audio still queued. Used on the event loop's thread only: other threads hand their
    messages over with loop.call_soon_threadsafe."""

    def __init__(self, is_audio):
        self.is_audio = is_audio  # which messages are reply audio
        self._queue: deque = deque()
        self._ready = asyncio.Event()

    def put(self, msg) -> None:
        self._queue.append(msg)
        self._ready.set()

    def cut_in(self, msg) -> None:
        """A barge-in: the audio not yet sent is dropped and `msg` goes first, ahead of the
        other messages still queued."""
        kept = [m for m in self._queue if not self.is_audio(m)]
        self._queue.clear()
        self._queue.append(msg)
        self._queue.extend(kept)
        self._ready.set()

    def ahead(self, msg) -> None:
        """A hold: `msg` goes first; the audio queued stays (the far end keeps it for a resume)."""
        self._queue.appendleft(msg)
        self._ready.set()

    async def get(self):
        """The next message, once there is one."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)
