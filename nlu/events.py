"""What understanding and the dialogue produce: the turn's meaning, the bot's reply, and the
control events that stop or pause a reply on its way to the caller."""
from __future__ import annotations

from dataclasses import dataclass


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
    # the intent the conversation took the turn for, where not the classifier's ("It's order
    # 27551." after a cancel request: cancel_order, the order number the slot waited for)
    taken_as: str = ""


class Control:
    """A control event: it changes what the caller hears now, so transports act on it at once,
    ahead of any reply audio still queued (never behind it). `apply` tells an audio output (the
    AudioOutput interface of voicebot.live.output) what to do, handing itself over as the cause."""
    drops_audio = False  # the reply audio not yet played is gone for good (an output's ledger closes it)

    def apply(self, output) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Interrupted(Control):
    """The caller barged in: stop playing the reply now. Sent to the transport at once, beside
    the audio (never queued behind it), and to the dialogue, which learns how much was heard."""
    t: float  # call time of the caller audio that decided it
    reply: BotReply
    heard_s: float  # reply audio the transport had played
    heard_text: str = ""  # the words that fit in heard_s (an estimate)
    decided_t: float = 0.0  # call time when it was decided (t plus the time to read the words)

    drops_audio = True

    def apply(self, output) -> None:
        output.clear(self)  # what has not been played is never played


@dataclass(frozen=True)
class Hold(Control):
    """Caller voice over the bot's reply: pause playback now, keeping the rest (`on`), or go on
    from where it paused (not `on`: it was a backchannel, a cough or echo after all). Words take
    Whisper a few hundred ms to read; a pause at the first voiced sound is what makes the bot
    fall silent at once. Like Interrupted, it goes straight to the transport."""
    t: float  # call time of the caller audio that decided it
    on: bool

    def apply(self, output) -> None:
        if self.on:
            output.pause(self)
        else:
            output.resume(self)
