"""Recorded calls: the caller's turns decoded together, as plain Whisper decodes a file.

A live bot must read each turn as it ends. A recorded call is all there, so its turns (as the
VAD found them) are put one after another, 0.5 s of silence between them, into windows (up to
20 s, see below), and each window is decoded with beam search; each turn gets the words timed
inside its own stretch. Whisper then hears every turn with the ones around it, later ones
included, and the window is encoded at its own length (the short context of asr.faster), so
the cost stays below one decode per turn. On two sets of 28 noisy calls in other voices
(docs/benchmarks.md, "Noisy calls") this brought WER from 15.9 to 13.0 % and from 24.1 to
19.8 %, against plain faster-whisper's 12.8 and 23.0 %, in less Whisper time than turn by turn.

A window whose decode loops, and a turn it leaves without a word, are decoded turn by turn
instead (asr.base.ASRStage's way), so nothing is lost to the batch decode. A turn whose words
carry an earlier turn's back (a window once wrote the turn before again after "Do you accept
paper?": asr.repeats) is decoded alone, and keeps that decode unless it says the same.

With `two_readings` (voicebot's default for recorded calls) a window is read a second time, with
its margin run out to Whisper's 30 s as plain Whisper reads a file, when the first reading (at
its own length) failed, left a turn without a word or was unsure (SURE_LOGPROB). Neither reading
is better everywhere: on ten sets of noisy test calls in other voices the 30 s window alone was
better on five, worse on five. The reading kept is the one that leaves fewer of the window's turns
without a word, then the one Whisper is surer of (mean log-probability per token): 442 -> 412
word errors over the ten sets (picking the better one each time, knowing the answer: 391);
archives 3.2 -> 1.6 % WER (docs/benchmarks.md, "Fourth pass").

An archive call has two tracks (agent and customer): `WholeCallASR.tracks` decodes their
windows together. Each step of the beam search reads all of Whisper's output layer, whatever
the number of rows it scores, so a batch of windows costs much less than as many decodes
(bench-archive, 192 calls: pairs 27.4x -> 30.0x real time, WER 6.5 % both; docs/benchmarks.md).
For the same reason, and because the encoder's cost grows faster than its input (one window:
126 ms at 10 s, 323 ms at 20 s, 824 ms at 30 s), windows hold up to 20 s, not 30 s, and a long
track's windows go into one batch, up to four windows a batch: a 22 s mono call is two 11 s
windows decoded at once, not one after the other. A track's windows of one batch share one
prompt, the text before the first of them (on 2.5-minute calls, 5.0 % WER against 6.1 % with
the company's name alone for the later windows: docs/benchmarks.md, "Call archives").
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Iterable, Iterator

import numpy as np

from asr.base import RATE, WINDOW_S, is_silence
from asr.digits import digits_as_said
from asr.events import SpeechEnded, Transcript
from asr.repeats import echo

GAP_S = 0.5  # silence between turns: 0.3 and 1.0 s scored no better (benchmarks.md)
MARGIN_S = 2.0  # padding after a window's audio (asr.whole_call_margin_s; 1 s: 13.5 % against 12.8 %)
WINDOW_CAP_S = 20.0  # the turns of one window, at most (asr.whole_call_window_s)
BATCH = 4  # windows decoded together, at most (asr.whole_call_batch)
ECHO_TURNS = 8  # a turn's words are checked against this many turns before it (asr.repeats)
# a window's first reading this sure of itself is kept without a second: on the ten sets of test
# calls the second reading bettered no window read at -0.30 or above (31 of 126; docs/benchmarks.md)
SURE_LOGPROB = -0.3


class WholeCallASR:
    """Stage: SpeechEnded in, Transcript out (nothing for silence), every other event passed on
    in its order; events wait until the window holding their turn is decoded. It holds at most
    one batch's turns (the VAD before it has taken the audio frames), however long the call.

    `tracks` does the same for the tracks of one call (agent and customer) side by side: each
    batch takes the next `batch // tracks` windows of every track (at least one), since a decode
    of several windows costs much less than as many decodes (asr.faster's `transcribe_windows`).
    A track's windows stay in their order; the text of its last window in a batch (its last 200
    characters) is the prompt of its windows in the next."""

    def __init__(self, recognizer, no_speech_threshold: float = 0.6, beam_size: int = 5,
                 margin_s: float = MARGIN_S, window_s: float = WINDOW_CAP_S, batch: int = BATCH,
                 prompt: str = "", two_readings: bool = False):
        self.recognizer = recognizer
        # each window read twice, at its own length and in Whisper's 30 s (see the module's doc)
        self.two_readings = two_readings and callable(getattr(recognizer, "transcribe_windows", None))
        self.prompt = prompt  # Whisper's previous text before a mono call's windows (`tracks`: prompts)
        self.no_speech_threshold = no_speech_threshold
        self.beam_size = beam_size
        self.margin_s = margin_s
        self.window_s = window_s
        self.batch = batch

    def __call__(self, events: Iterable) -> Iterator:
        return (ev for _, ev in self.tracks([events], [self.prompt] if self.prompt else None))

    def tracks(self, streams: list[Iterable], prompts: list[str] | None = None) -> Iterator[tuple[int, object]]:
        """(track index, event) for the events of each stream, as `__call__` gives them for one.
        `prompts`: text that goes before each track's every window as Whisper's previous text
        (an agent's track: the company's name, said in every greeting)."""
        per_track = max(1, self.batch // max(1, len(streams)))
        active = {i: _windows(s, self.margin_s, self.window_s, per_track) for i, s in enumerate(streams)}
        prompts = [p.strip() for p in prompts] if prompts else [""] * len(streams)
        previous = {i: prompts[i] for i in active}  # Whisper's previous text for a track's next window
        heard: dict[int, list[str]] = {i: [] for i in active}  # each track's turns so far, for echoes
        while active:
            batch: list[tuple[int, _Window]] = []
            for i, items in list(active.items()):
                n = 0
                for item in items:
                    if isinstance(item, _Window):
                        batch.append((i, item))
                        n += 1
                        if n == per_track:
                            break
                    else:
                        yield i, item  # an event outside any window
                else:
                    del active[i]
            if not batch:
                continue
            # a track's windows in one batch all get the text before the first of them
            texts = self._decode([(w.turns, previous[i]) for i, w in batch])
            for (i, w), got in zip(batch, texts):
                for ev in w.held:
                    out = got[id(ev)] if isinstance(ev, SpeechEnded) else ev
                    if isinstance(out, Transcript):
                        out = self._no_echo(ev, out, heard[i])
                        heard[i].append(out.text)
                    if out is not None:
                        yield i, out
                said = " ".join(t.text for t in got.values() if t is not None)[-200:]
                previous[i] = f"{prompts[i]} {said}".strip()

    def _no_echo(self, ev: SpeechEnded, heard: Transcript, earlier: list[str]) -> Transcript:
        """`heard`, unless its words carry an earlier turn's back (asr.repeats): then the turn
        decoded alone, if that decode does not say the same run too (the caller repeated it)."""
        if echo(heard.text, earlier[-ECHO_TURNS:]) is None:
            return heard
        t0 = time.perf_counter()
        # as its window was decoded (beam, margin), without the text and the turns around it
        got = self.recognizer.transcribe_words(ev.samples, self.beam_size, self.margin_s, "")
        r = got[0] if got is not None else self.recognizer.transcribe(ev.samples)
        ms = heard.asr_ms + (time.perf_counter() - t0) * 1000
        text = "" if is_silence(r, self.no_speech_threshold) else digits_as_said(r.text.strip())
        if not text or echo(text, earlier[-ECHO_TURNS:]) is not None:
            return replace(heard, asr_ms=ms)
        return replace(heard, text=text, asr_ms=ms, no_speech_prob=r.no_speech_prob)

    def _decode(self, windows: list[tuple[list[SpeechEnded], str]]) -> list[dict[int, Transcript | None]]:
        """For each window (its turns, the text before it): each turn's Transcript (None:
        silence), keyed by the turn's id."""
        plans = []
        for turns, previous in windows:
            spans, pieces, t = [], [], 0.0
            for ev in turns:
                n = len(ev.samples) / RATE
                spans.append((t, t + n))
                pieces += [ev.samples, np.zeros(int(GAP_S * RATE), np.float32)]
                t += n + GAP_S
            margin = min(self.margin_s, WINDOW_S - 0.1 - _length(turns) - GAP_S)
            plans.append((turns, spans, np.concatenate(pieces), margin, previous))
        # one turn near 30 s leaves no room for a margin: decoded alone below
        todo = [k for k, p in enumerate(plans) if p[3] >= 0.5]
        t0 = time.perf_counter()
        got = [None] * len(plans)
        windows = [plans[k][2:] for k in todo]
        readings = self._transcribe(windows)
        # the second reading, for the windows the first read unsure or left a turn without words
        unsure = [i for i, (k, r) in enumerate(zip(todo, readings)) if _unsure(r, plans[k][1])] if self.two_readings else []
        if unsure:
            again = self.recognizer.transcribe_windows([windows[i] for i in unsure], self.beam_size, full=True)
            for i, r in zip(unsure, again):
                readings[i] = better(readings[i], r, plans[todo[i]][1])
        for k, r in zip(todo, readings):
            got[k] = r
        ms = (time.perf_counter() - t0) * 1000
        total = sum(b - a for k in todo for a, b in plans[k][1]) or 1.0  # the batch's audio
        return [self._split(turns, spans, g, ms / total if k in todo else 0.0)
                for k, ((turns, spans, *_), g) in enumerate(zip(plans, got))]

    def _transcribe(self, windows: list[tuple]) -> list:
        if len(windows) > 1 and callable(getattr(self.recognizer, "transcribe_windows", None)):
            return self.recognizer.transcribe_windows(windows, self.beam_size)
        return [self.recognizer.transcribe_words(a, self.beam_size, m, p) for a, m, p in windows]

    def _split(self, turns: list[SpeechEnded], spans: list[tuple[float, float]], got,
               ms_per_s: float) -> dict[int, Transcript | None]:
        """The window's words shared out to its turns (by time); a turn left without one is
        decoded alone."""
        words: list[list[str]] = [[] for _ in turns]
        if got is not None:
            for start, end, word in got[1]:
                words[nearest(spans, (start + end) / 2)].append(word)
        out: dict[int, Transcript | None] = {}
        for ev, (a, b), w in zip(turns, spans, words):
            share = ms_per_s * (b - a)  # the batch's decode time, shared by length
            text = digits_as_said("".join(w).strip())
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


@dataclass
class _Window:
    held: list  # the events from its first turn on, in order
    turns: list[SpeechEnded]


def _windows(events: Iterable, margin_s: float, window_s: float, group: int) -> Iterator:
    """A track's events, those inside windows gathered: turns (with GAP_S between them and
    `margin_s` after) up to `window_s` and Whisper's 30 s, each with the events from its first
    turn on. Windows are filled one after another, then every `group` of them evened out."""
    cap = min(window_s, WINDOW_S - GAP_S - margin_s)
    held: list = []
    turns: list[SpeechEnded] = []
    k = 0  # windows the turns held fill
    last: list[SpeechEnded] = []  # the turns of the last of them
    for ev in events:
        if isinstance(ev, SpeechEnded) and (not last or _length(last + [ev]) > cap):
            if k == group:
                yield from _even(held, turns, k)
                held, turns, k = [], [], 0
            k, last = k + 1, []
        if isinstance(ev, SpeechEnded):
            turns.append(ev)
            last.append(ev)
        if turns:
            held.append(ev)
        else:
            yield ev
    if turns:
        yield from _even(held, turns, k)


def _even(held: list, turns: list[SpeechEnded], k: int) -> Iterator["_Window"]:
    """The turns cut into k windows in their order, the longest as short as can be (a batch is
    padded to its longest); each with the events from its first turn on."""
    n = len(turns)
    k = max(1, min(k, n))
    ends = np.cumsum([0] + [len(e.samples) for e in turns])

    def span(a: int, b: int) -> float:  # _length(turns[a:b]), each in O(1)
        return _seconds(int(ends[b] - ends[a]), b - a)
    # best[j][i]: the longest window when the first i turns fill j windows (and where the last begins)
    best = [[(np.inf, 0)] * (n + 1) for _ in range(k + 1)]
    best[0][0] = (0.0, 0)
    for j in range(1, k + 1):
        for i in range(j, n + 1):
            best[j][i] = min((max(best[j - 1][m][0], span(m, i)), m) for m in range(j - 1, i))
    cuts, i = [], n
    for j in range(k, 0, -1):
        i = best[j][i][1]
        cuts.append(i)
    first = {id(turns[c]) for c in cuts}
    window = None
    for ev in held:
        if isinstance(ev, SpeechEnded) and id(ev) in first:
            if window is not None:
                yield window
            window = _Window([], [])
        if isinstance(ev, SpeechEnded):
            window.turns.append(ev)
        window.held.append(ev)
    if window is not None:
        yield window


def _length(turns: list[SpeechEnded]) -> float:
    return _seconds(sum(len(e.samples) for e in turns), len(turns))


def _seconds(samples: int, turns: int) -> float:
    """A window's length: its turns' samples with GAP_S between them."""
    return samples / RATE + GAP_S * (turns - 1)


def nearest(spans: list[tuple[float, float]], t: float) -> int:
    """The turn a word at time t belongs to: the one holding it, else the closest."""
    return min(range(len(spans)), key=lambda i: 0.0 if spans[i][0] <= t <= spans[i][1]
               else min(abs(t - spans[i][0]), abs(t - spans[i][1])))


def better(first, second, spans: list[tuple[float, float]]):
    """Of two readings of one window (transcribe_words' results, None for a decode that failed),
    the one that leaves fewer of its turns (`spans`) without a word; between two that leave as
    few, the one Whisper is surer of (the higher mean log-probability per token); the first on a tie."""
    def score(reading) -> tuple[int, float]:
        return (-1, 0.0) if reading is None else (_turns_said(reading, spans), reading[0].avg_logprob)
    return second if score(second) > score(first) else first


def _unsure(reading, spans: list[tuple[float, float]]) -> bool:
    """Whether a window's first reading needs the second: it failed, left a turn without a word,
    or Whisper was unsure of it (mean log-probability per token under SURE_LOGPROB)."""
    return reading is None or reading[0].avg_logprob < SURE_LOGPROB or _turns_said(reading, spans) < len(spans)


def _turns_said(reading, spans: list[tuple[float, float]]) -> int:
    """How many of the window's turns a reading gives a word (a "." is none)."""
    return len({nearest(spans, (start + end) / 2) for start, end, word in reading[1] if any(c.isalnum() for c in word)})


def supports(recognizer) -> bool:
    """Whether `recognizer` can decode a window into timed words (faster-whisper can)."""
    return callable(getattr(recognizer, "transcribe_words", None))

