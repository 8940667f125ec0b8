"""The recognizer protocol and the ASR stage."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

import numpy as np

from voicebot.events import SpeechEnded, Transcript


@dataclass
class Recognition:
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    segments: list[tuple[float, float, str]] = field(default_factory=list)


class Recognizer(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray) -> Recognition:
        """16 kHz mono float32 in, text out."""


def is_silence(r: Recognition, no_speech_threshold: float = 0.6, logprob_threshold: float = -1.0) -> bool:
    """Whisper's own rule: likely no speech AND an unsure decode means nothing was said."""
    return not r.text.strip() or (r.no_speech_prob > no_speech_threshold and r.avg_logprob < logprob_threshold)


class ASRStage:
    """Stage: SpeechEnded in, Transcript out (nothing for silence); other events pass."""

    def __init__(self, recognizer: Recognizer, no_speech_threshold: float = 0.6):
        self.recognizer = recognizer
        self.no_speech_threshold = no_speech_threshold

    def __call__(self, events: Iterable) -> Iterator:
        for ev in events:
            if not isinstance(ev, SpeechEnded):
                yield ev
                continue
            t0 = time.perf_counter()
            r = self.recognizer.transcribe(ev.samples)
            ms = (time.perf_counter() - t0) * 1000
            if is_silence(r, self.no_speech_threshold):
                continue
            yield Transcript(r.text.strip(), ev.start, ev.end, ms, r.no_speech_prob)
