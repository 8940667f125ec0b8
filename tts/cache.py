"""Replies spoken before are not synthesized again.

A phone line says the same things all day: every call opens with the greeting and most end
with the same goodbye, and many replies are fixed lines ("Is there anything else I can help
you with?"). With calls at once, each of those was a fresh synthesis on the same cores that
transcribe the callers. The cache keeps the audio of the pieces the TTS stage asks for (the
reply, or its first clause and the rest), least recently used out first, up to `max_s`
seconds of audio. Piper samples noise, so each rendition of a line differs a little and a hit
replays one of them to every caller: that is why it is off by default (tts.cache_s: 0).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterator

import numpy as np


class CachedSynthesizer:
    """Wraps a Synthesizer; everything but `synthesize` is the engine's own."""

    def __init__(self, engine, max_s: float = 300.0):
        self.engine = engine
        self.max_samples = int(max_s * engine.sample_rate)
        self._audio: OrderedDict[str, tuple[np.ndarray, ...]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # sessions of many calls share one cache
        self.hits = self.misses = 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        with self._lock:
            chunks = self._audio.get(text)
            if chunks is not None:
                self._audio.move_to_end(text)
                self.hits += 1
            else:
                self.misses += 1
        if chunks is not None:
            for c in chunks:
                yield c.copy()  # a consumer may scale or write into what it gets
            return
        made = []
        for c in self.engine.synthesize(text):  # streamed as made; kept only if made to the end
            made.append(np.array(c, np.float32))
            yield c
        self._keep(text, tuple(made))

    def _keep(self, text: str, chunks: tuple[np.ndarray, ...]) -> None:
        size = sum(len(c) for c in chunks)
        if size > self.max_samples // 2:  # a long one-off reply would push out many common lines
            return
        with self._lock:
            if text in self._audio:
                return
            self._audio[text] = chunks
            self._size += size
            while self._size > self.max_samples:
                _, old = self._audio.popitem(last=False)
                self._size -= sum(len(c) for c in old)
