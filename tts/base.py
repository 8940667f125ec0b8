"""The synthesizer protocol and the TTS stage."""
from __future__ import annotations

import re
import time
from typing import Iterable, Iterator, Protocol

import numpy as np

from asr.audio import resample
from nlu.events import BotReply
from tts.events import AudioChunk


class Synthesizer(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Mono float32 chunks at `sample_rate`, one per sentence, as soon as each is ready."""


class TTSStage:
    """Stage: BotReply in (passed on), then its AudioChunk events at `out_rate`."""

    def __init__(self, engine: Synthesizer, out_rate: int | None = None, first_piece_chars: int = 40):
        self.engine = engine
        self.out_rate = out_rate or engine.sample_rate
        self.first_piece_chars = first_piece_chars

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
        chunks = (c for piece in pieces(reply.text, self.first_piece_chars) for c in self.engine.synthesize(piece))
        for chunk in chunks:
            chunk = resample(chunk, self.engine.sample_rate, self.out_rate)
            if first_ms is None:
                first_ms = (time.perf_counter() - t0) * 1000
            yield AudioChunk(chunk, self.out_rate, reply, index, False, first_ms)
            index += 1
        if first_ms is not None:
            yield AudioChunk(np.zeros(0, np.float32), self.out_rate, reply, index, True, first_ms)


SENTENCE_END = re.compile(r"[.!?](\s|$)")
CLAUSE_END = re.compile(r",(?=\s)")


def pieces(text: str, first_piece_chars: int = 40) -> list[str]:
    """The reply as the engine is given it: whole, or, when its first sentence is longer than
    `first_piece_chars`, that sentence's first clause (up to a comma after at least 10
    characters) and then the rest. A synthesizer makes a sentence at once, so the first audio
    waits for the whole first sentence; a short first piece starts the reply sooner."""
    text = text.strip()
    end = SENTENCE_END.search(text)
    first = text[:end.start() + 1] if end else text
    if not first_piece_chars or len(first) <= first_piece_chars:
        return [text] if text else []
    m = CLAUSE_END.search(first, 10)  # a comma before a space: not the one in "$1,000"
    comma = m.start() if m else -1
    if comma < 0 or comma > len(first) - 10:  # no clause to cut, or a stub after it
        return [text]
    return [text[:comma + 1], text[comma + 1:].strip()]
