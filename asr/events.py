"""What the ear produces: caller audio frames, the VAD's speech boundaries, and transcripts.

Every stage of the pipeline is a callable from an iterator of events to events; it handles
the kinds it knows and passes the rest on. Each engine owns the events it makes (nlu.events,
tts.events). Times (`start`, `end`, `t`) are seconds of call audio; `*_ms` fields are measured
wall time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AudioFrame:
    """A short piece of caller audio: mono float32 in [-1, 1]."""
    samples: np.ndarray
    sample_rate: int
    t: float  # start time of the frame in the call


@dataclass(frozen=True)
class SpeechStarted:
    t: float


@dataclass(frozen=True)
class SpeechPaused:
    """The voice of the utterance begun at `start` stopped at `end`: if it stays quiet for the
    VAD's hangover, a SpeechEnded with the same start and end follows (live calls only)."""
    start: float
    end: float


@dataclass(frozen=True)
class SpeechEnded:
    """One utterance found by the VAD, with its audio (pre-roll included)."""
    start: float
    end: float
    samples: np.ndarray
    sample_rate: int


@dataclass(frozen=True)
class Transcript:
    text: str
    start: float
    end: float
    asr_ms: float = 0.0
    no_speech_prob: float = 0.0
