"""The recognizer protocol and the ASR stage."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from asr.events import SpeechEnded, Transcript
from asr.repeats import echo

RATE = 16000
WINDOW_S = 30.0  # Whisper's window: what it was trained on, and the most its encoder takes


@dataclass
class Recognition:
    text: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    segments: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """The caller's previous turns: their audio and what was heard. Put before a new turn in
    the encoder's window, with their text as the decoder's prefix, they let Whisper hear the
    new turn in the light of the same voice and the same line (measured per utterance on
    noisy calls in other voices: greedy WER 26.4 % -> 22.8 %, beam 5 22.8 % -> 20.6 %, for
    about twice the encoder's work: docs/benchmarks.md, "Noisy calls")."""
    audio: np.ndarray
    text: str


class Recognizer(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, context: Context | None = None) -> Recognition:
        """16 kHz mono float32 in, text out."""


def is_silence(r: Recognition, no_speech_threshold: float = 0.6, logprob_threshold: float = -1.0) -> bool:
    """Whisper's own rule: likely no speech AND an unsure decode means nothing was said."""
    return not r.text.strip() or (r.no_speech_prob > no_speech_threshold and r.avg_logprob < logprob_threshold)


class Hearing:
    """An utterance being decoded (ASRStage.hear_later)."""

    def __init__(self, finish: Callable[[], tuple[Transcript | None, Context | None]], job=None):
        self._finish, self._job = finish, job

    def result(self) -> tuple[Transcript | None, Context | None]:
        return self._finish()

    def cancel(self) -> None:
        """Not wanted: dropped if its decode has not begun."""
        if self._job is not None:
            self._job.cancel()


class ASRStage:
    """Stage: SpeechEnded in, Transcript out (nothing for silence); other events pass."""

    def __init__(self, recognizer: Recognizer, no_speech_threshold: float = 0.6, context_s: float = 10.0):
        self.recognizer = recognizer
        self.no_speech_threshold = no_speech_threshold
        self.context_s = context_s  # earlier turns up to this long are a turn's context; 0: none

    def __call__(self, events: Iterable) -> Iterator:
        heard: list[Context] = []  # one stage per call: the context never crosses calls
        for ev in events:
            if not isinstance(ev, SpeechEnded):
                yield ev
                continue
            transcript, context = self.hear(ev, heard)
            if context is not None:
                heard.append(context)
            if transcript is not None:
                yield transcript

    def hear(self, ev: SpeechEnded, heard: list[Context]) -> tuple[Transcript | None, Context | None]:
        """One utterance, decoded after the turns in `heard`: its Transcript (None: silence) and
        what it adds to the context of the next (None: words the model was unsure of)."""
        return self.hear_later(ev, heard).result()

    def hear_later(self, ev: SpeechEnded, heard: list[Context]) -> Hearing:
        """`hear`, begun now where the recognizer can decode in the background (`submit`: the
        decoder queue of asr.batching); `result()` waits for it. Else it all runs in `result()`."""
        t0 = time.perf_counter()
        context = self._context(heard)
        submit = getattr(self.recognizer, "submit", None)
        job = submit(ev.samples, context) if callable(submit) else None
        done: list[float] = []  # when the decode ended: asr_ms is its own time, not the wait for result()
        if job is not None:
            job.add_done_callback(lambda _: done.append(time.perf_counter()))
        return Hearing(lambda: self._heard(ev, job.result() if job else self.recognizer.transcribe(ev.samples, context),
                                           t0, done, context), job)

    def _heard(self, ev: SpeechEnded, r: Recognition, t0: float, done: list[float],
               context: Context | None = None) -> tuple[Transcript | None, Context | None]:
        if context is not None and echo(r.text, [context.text]) is not None:
            # the context's words came back as new ones (asr.repeats): heard again without it,
            # unless that decode says them too
            alone = self.recognizer.transcribe(ev.samples, None)
            if echo(alone.text, [context.text]) is None:
                r, done = alone, []
        ms = ((done[0] if done else time.perf_counter()) - t0) * 1000
        if is_silence(r, self.no_speech_threshold):
            return None, None
        # only a turn the model was fairly sure of is worth hearing the next one by
        context = Context(ev.samples, r.text.strip()) if r.avg_logprob > -1.0 else None
        return Transcript(r.text.strip(), ev.start, ev.end, ms, r.no_speech_prob), context

    def _context(self, heard: list[Context]) -> Context | None:
        """The latest whole turns that fit in context_s seconds, as one context."""
        take, total = [], 0.0
        for c in reversed(heard):
            total += len(c.audio) / RATE
            if total > self.context_s:
                break
            take.insert(0, c)
        if not take:
            return None
        return Context(np.concatenate([c.audio for c in take]), " ".join(c.text for c in take))
