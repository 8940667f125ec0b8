"""Recorded calls: the caller's turns decoded together, as plain Whisper decodes a file.

A live bot must read each turn as it ends. A recorded call is all there, so its turns (as the
VAD found them) are put one after another, 0.5 s of silence between them, into windows of up
to 30 s, and each window is decoded once with beam search; each turn gets the words timed
inside its own stretch. Whisper then hears every turn with the ones around it, later ones
included, and the window is encoded at its own length (the short context of asr.faster), so
the cost stays below one decode per turn. On two sets of 28 noisy calls in other voices
(docs/benchmarks.md, "Noisy calls") this brought WER from 15.9 to 13.0 % and from 24.1 to
19.8 %, against plain faster-whisper's 12.8 and 23.0 %, in less Whisper time than turn by turn.

A window whose decode loops, and a turn it leaves without a word, are decoded turn by turn
instead (asr.base.ASRStage's way), so nothing is lost to the batch decode.
"""
from __future__ import annotations

import time
from typing import Iterable, Iterator

import numpy as np

from asr.base import RATE, WINDOW_S, is_silence
from voicebot.events import SpeechEnded, Transcript

GAP_S = 0.5  # silence between turns: 0.3 and 1.0 s scored no better (benchmarks.md)
MARGIN_S = 3.0  # padding after a window's audio (1 s: 13.5 % against 12.8 %)


class WholeCallASR:
    """Stage: SpeechEnded in, Transcript out (nothing for silence), every other event passed on
    in its order; events wait until the window holding their turn is decoded. It holds at most
    one window's turns (the VAD before it has taken the audio frames), however long the call."""

    def __init__(self, recognizer, no_speech_threshold: float = 0.6, beam_size: int = 5):
        self.recognizer = recognizer
        self.no_speech_threshold = no_speech_threshold
        self.beam_size = beam_size

    def __call__(self, events: Iterable) -> Iterator:
        held: list = []  # events since the window's first turn
        turns: list[SpeechEnded] = []
        previous = ""  # the last window's text: Whisper's prompt for the next
        for ev in events:
            if turns and isinstance(ev, SpeechEnded) and _length(turns + [ev]) + GAP_S + MARGIN_S > WINDOW_S:
                previous = yield from self._flush(held, turns, previous)
                held, turns = [], []
            if isinstance(ev, SpeechEnded):
                turns.append(ev)
            if turns:
                held.append(ev)
            else:
                yield ev
        if turns:
            yield from self._flush(held, turns, previous)

    def _flush(self, held: list, turns: list[SpeechEnded], previous: str):
        texts = self._decode(turns, previous)
        for ev in held:
            if isinstance(ev, SpeechEnded):
                t = texts.get(id(ev))
                if t is not None:
                    yield t
            else:
                yield ev
        return " ".join(t.text for t in texts.values() if t is not None)[-200:]

    def _decode(self, turns: list[SpeechEnded], previous: str) -> dict[int, Transcript | None]:
        """Each turn's Transcript (None: silence), keyed by the turn's id."""
        spans, pieces, t = [], [], 0.0
        for ev in turns:
            n = len(ev.samples) / RATE
            spans.append((t, t + n))
            pieces += [ev.samples, np.zeros(int(GAP_S * RATE), np.float32)]
            t += n + GAP_S
        t0 = time.perf_counter()
        margin = min(MARGIN_S, WINDOW_S - 0.1 - _length(turns) - GAP_S)
        got = None  # one turn near 30 s leaves no room for a margin: decoded alone below
        if margin >= 0.5:
            got = self.recognizer.transcribe_words(np.concatenate(pieces), self.beam_size, margin, previous)
        ms = (time.perf_counter() - t0) * 1000
        words: list[list[str]] = [[] for _ in turns]
        if got is not None:
            for start, end, word in got[1]:
                words[nearest(spans, (start + end) / 2)].append(word)
        total = sum(b - a for a, b in spans) or 1.0
        out: dict[int, Transcript | None] = {}
        for ev, (a, b), w in zip(turns, spans, words):
            share = ms * (b - a) / total  # the window's decode time, shared by length
            text = "".join(w).strip()
            if got is None or not any(c.isalnum() for c in text):  # a loop, or a turn the window passed over: alone
                t1 = time.perf_counter()
                r = self.recognizer.transcribe(ev.samples)
                share += (time.perf_counter() - t1) * 1000
                text = "" if is_silence(r, self.no_speech_threshold) else r.text.strip()
                no_speech = r.no_speech_prob
            else:
                no_speech = got[0].no_speech_prob
            out[id(ev)] = Transcript(text, ev.start, ev.end, share, no_speech) if text else None
        return out


def _length(turns: list[SpeechEnded]) -> float:
    return sum(len(e.samples) for e in turns) / RATE + GAP_S * (len(turns) - 1)


def nearest(spans: list[tuple[float, float]], t: float) -> int:
    """The turn a word at time t belongs to: the one holding it, else the closest."""
    return min(range(len(spans)), key=lambda i: 0.0 if spans[i][0] <= t <= spans[i][1]
               else min(abs(t - spans[i][0]), abs(t - spans[i][1])))


def supports(recognizer) -> bool:
    """Whether `recognizer` can decode a window into timed words (faster-whisper can)."""
    return callable(getattr(recognizer, "transcribe_words", None))

