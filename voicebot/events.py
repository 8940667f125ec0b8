"""Events that flow through the pipeline.

Every stage is a callable taking an iterator of events and yielding events; it handles
the kinds it knows and passes every other event through unchanged, so stages compose in
any order a pipeline needs (the idea pipecat calls frames and processors).
Times (`start`, `end`, `t`) are seconds of call audio; `*_ms` fields are measured wall time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Entity:
    type: str   # one of nlu.schema.ENTITY_TYPES
    value: str  # normalized value ("4567", "25.00 USD", "2026-11-24")
    text: str = ""  # the words it came from
    start: int = -1  # character span in the utterance text, -1 when unknown
    end: int = -1


@dataclass(frozen=True)
class NLUResult:
    text: str
    intent: str
    confidence: float
    sentiment: str
    entities: tuple[Entity, ...] = ()
    start: float = 0.0
    end: float = 0.0
    asr_ms: float = 0.0
    nlu_ms: float = 0.0

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(float(self.confidence), 4),
            "sentiment": self.sentiment,
            "entities": [{"type": e.type, "value": e.value} for e in self.entities],
        }


@dataclass(frozen=True)
class BotReply:
    text: str
    turn: NLUResult | None = None  # the caller turn this answers; None for the greeting
    handover: bool = False  # the call goes to a human after this reply
    end_call: bool = False
    dialogue_ms: float = 0.0
    answer_source: str = "intent"  # intent / faq (the knowledge base) / reask
    faq: dict | None = None  # the knowledge base's best match for the turn: {id, score, question, accepted}


@dataclass(frozen=True)
class AudioChunk:
    """Synthesized reply audio: mono float32 in [-1, 1]."""
    samples: np.ndarray
    sample_rate: int
    reply: BotReply
    index: int = 0  # 0 for the first chunk of a reply
    last: bool = False  # the reply's end: an empty chunk after its last sentence
    first_audio_ms: float = 0.0  # reply text to its first chunk (set on every chunk)


@dataclass(frozen=True)
class Error:
    """A recoverable problem in a stage; the pipeline goes on."""
    stage: str
    message: str
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Interrupted:
    """The caller barged in: stop playing the reply now. Sent to the transport at once, beside
    the audio (never queued behind it), and to the dialogue, which learns how much was heard."""
    t: float  # call time of the caller audio that decided it
    reply: BotReply
    heard_s: float  # reply audio the transport had played
    heard_text: str = ""  # the words that fit in heard_s (an estimate)
    decided_t: float = 0.0  # call time when it was decided (t plus the time to read the words)


@dataclass(frozen=True)
class Hold:
    """Caller voice over the bot's reply: pause playback now, keeping the rest (`on`), or go on
    from where it paused (not `on`: it was a backchannel, a cough or echo after all). Words take
    Whisper a few hundred ms to read; a pause at the first voiced sound is what makes the bot
    fall silent at once. Like Interrupted, it goes straight to the transport."""
    t: float  # call time of the caller audio that decided it
    on: bool
