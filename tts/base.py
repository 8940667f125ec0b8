"""The synthesizer protocol and the TTS stage."""
from __future__ import annotations

import time
from typing import Iterable, Iterator, Protocol

import numpy as np

from voicebot.audio import resample
from voicebot.events import AudioChunk, BotReply


class Synthesizer(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Mono float32 chunks at `sample_rate`, one per sentence, as soon as each is ready."""


class TTSStage:
    """Stage: BotReply in (passed on), then its AudioChunk events at `out_rate`."""

    def __init__(self, engine: Synthesizer, out_rate: int | None = None):
        self.engine = engine
        self.out_rate = out_rate or engine.sample_rate

    def __call__(self, events: Iterable) -> Iterator:
        for ev in events:
            yield ev
            if isinstance(ev, BotReply) and ev.text.strip():
                yield from self.speak(ev)

    def speak(self, reply: BotReply) -> Iterator[AudioChunk]:
        # Each sentence's audio goes out the moment it is ready (holding it back to learn
        # whether it is the last would delay the first audio by a whole sentence); the end
        # of the reply is an empty chunk marked `last`.
        t0 = time.perf_counter()
        first_ms = None
        index = 0
        for chunk in self.engine.synthesize(reply.text):
            chunk = resample(chunk, self.engine.sample_rate, self.out_rate)
            if first_ms is None:
                first_ms = (time.perf_counter() - t0) * 1000
            yield AudioChunk(chunk, self.out_rate, reply, index, False, first_ms)
            index += 1
        if first_ms is not None:
            yield AudioChunk(np.zeros(0, np.float32), self.out_rate, reply, index, True, first_ms)
