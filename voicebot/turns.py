"""Turn-taking for live calls: when the caller has finished, and when they cut in.

`TurnTaker` is a stage after the VAD's `Segmenter`, which runs with a short hangover
(`live.short_pause_ms`), so every short pause ends a segment. At each one the words so far
are transcribed and understood speculatively; from them the stage decides how much silence
ends the turn: `complete_ms` for a complete, confident request, `silence_ms` when unsure or
short, `incomplete_ms` after a filler or an unfinished phrase ("my order number is"). The
transcript is ready by then, so a confident turn is answered as soon as its silence is up.
If the caller speaks again before that, the speculative result is dropped and the next
segment is heard together with the earlier ones.

While the bot is talking, caller speech is a barge-in candidate: once it has lasted
`min_voiced_ms` its words are looked at, and only words that are not a backchannel
("uh-huh", "okay", "right"), not the bot's own reply coming back, and not nothing (a cough)
interrupt. A candidate that ends without interrupting is dropped, not answered.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from asr.base import ASRStage
from nlu.stage import NLUStage
from voicebot.events import AudioFrame, BotReply, Interrupted, NLUResult, SpeechEnded, SpeechStarted, Transcript

BACKCHANNEL = set("uh-huh uh huh mm mhm mm-hmm hmm um okay ok right yeah yes yep sure alright all i see got it "
                  "oh ah aha good great fine cool thank thanks you".split())
FILLERS = set("um uh er erm hmm mm like so well".split())
# a request does not end on these words
UNFINISHED = set("a an the to of for and or but because with my your our is are was am it's i'm about from on "
                 "in at by if that this it number".split()) - {"it"}
WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def digits(w: list[str]) -> list[str]:
    """"4567" -> "4", "5", "6", "7": the bot reads numbers digit by digit, Whisper writes them whole."""
    return [d for x in w for d in (list(x) if x.isdigit() else [x])]


def end_wait_s(nlu: NLUResult, cfg) -> float:
    """Silence after the last word that ends this turn, from what the words say."""
    w = words(nlu.text)
    if not w or w[-1] in FILLERS or w[-1] in UNFINISHED or nlu.text.rstrip().endswith((",", "...", "…", "-")):
        return cfg.incomplete_ms / 1000
    if nlu.confidence >= cfg.confident and nlu.intent != "out_of_scope" and len(w) >= 3:
        return cfg.complete_ms / 1000
    return cfg.silence_ms / 1000


def interrupts(text: str, reply: BotReply | None, cautious: bool = False) -> bool:
    """Words heard over the bot's voice that mean the caller wants the floor."""
    w = words(text)
    content = [x for x in w if not all(part in BACKCHANNEL for part in x.split("-"))]  # uh-huh, uh-uh, mm-hmm
    if not content:
        return False  # a backchannel, or nothing (a cough, a click)
    if reply is not None:  # the bot's own words coming back through the microphone
        said, w = set(digits(words(reply.text))), digits(w)
        if sum(x in said for x in w) >= 0.8 * len(w):
            return False
    return len(content) >= (2 if cautious else 1)


@dataclass(frozen=True)
class Heard:
    """A microphone frame that has passed the VAD: the stage's clock and its audio."""
    frame: AudioFrame


def tag_frames(events: Iterable) -> Iterator:
    """Stage before the Segmenter: each frame goes on to it and is also seen after it."""
    for ev in events:
        yield ev
        if isinstance(ev, AudioFrame):
            yield Heard(ev)


class TurnTaker:
    """Stage: SpeechStarted/SpeechEnded/Heard in; Transcript + NLUResult per caller turn and
    Interrupted (reply left to the session to fill in) out."""

    def __init__(self, recognizer, nlu, cfg, now_playing: Callable[[], BotReply | None],
                 no_speech_threshold: float = 0.6, keep_s: float = 30.0):
        self.asr = ASRStage(recognizer, no_speech_threshold)
        self.nlu = NLUStage(nlu)
        self.cfg = cfg
        self.now_playing = now_playing
        self.frames: deque[AudioFrame] = deque(maxlen=int(keep_s / 0.01))

    def understand(self, start: float, end: float) -> NLUResult | None:
        audio = [f.samples for f in self.frames if f.t + len(f.samples) / f.sample_rate > start and f.t < end]
        if not audio:
            return None
        ev = SpeechEnded(start, end, np.concatenate(audio), self.frames[0].sample_rate)
        return next((r for r in self.nlu(self.asr([ev])) if isinstance(r, NLUResult)), None)

    def __call__(self, events: Iterable) -> Iterator:
        cfg = self.cfg
        mode = cfg.barge_in
        if mode not in ("on", "off", "cautious"):
            raise ValueError(f"live.barge_in must be on, off or cautious, not {mode!r}")
        first_check = (cfg.cautious_voiced_ms if mode == "cautious" else cfg.min_voiced_ms) / 1000
        turn_start = turn_end = None  # the turn being heard: its first segment's start, its last's end
        spec: NLUResult | None = None  # the speculative understanding of it, and the silence that ends it
        wait = 0.0
        burst: float | None = None  # start of the caller speech now going on
        over_bot = False  # ... which began or went on while the bot was talking
        interrupted = False
        next_check = 0.0
        now = 0.0
        for ev in events:
            if isinstance(ev, Heard):
                self.frames.append(ev.frame)
                now = ev.frame.t + len(ev.frame.samples) / ev.frame.sample_rate
                reply = self.now_playing()
                if burst is not None and reply is not None and not interrupted:
                    over_bot = True
                    if mode != "off" and now - burst >= next_check:
                        heard = self.understand(burst - 0.2, now)
                        if heard and interrupts(heard.text, reply, mode == "cautious"):
                            interrupted = True
                            yield Interrupted(round(now, 3), reply, 0.0)
                        next_check = now - burst + 0.3
                if spec is not None and burst is None and now - turn_end >= wait:
                    yield from self._release(spec)
                    turn_start = spec = None
            elif isinstance(ev, SpeechStarted):
                burst, interrupted, next_check = ev.t, False, first_check
                over_bot = self.now_playing() is not None
                spec = None  # the caller goes on: what we guessed is void
            elif isinstance(ev, SpeechEnded):
                voiced, burst = ev.end - (burst if burst is not None else ev.start), None
                if over_bot and not interrupted:
                    over_bot = False
                    playing = self.now_playing()
                    heard = self.understand(ev.start, ev.end) if voiced >= first_check else None
                    if heard is None or not interrupts(heard.text, playing, mode == "cautious"):
                        continue  # a click, a cough, a backchannel or echo: not a turn
                    if mode != "off" and playing is not None:
                        yield Interrupted(round(now, 3), playing, 0.0)
                over_bot = interrupted = False
                turn_start = ev.start if turn_start is None else turn_start
                turn_end = ev.end
                spec = self.understand(turn_start, turn_end)
                if spec is None:  # no words at all: noise
                    turn_start = None
                    continue
                wait = end_wait_s(spec, cfg)
                if now - turn_end >= wait:
                    yield from self._release(spec)
                    turn_start = spec = None
            else:
                yield ev
        if spec is not None:
            yield from self._release(spec)

    @staticmethod
    def _release(nlu: NLUResult) -> Iterator:
        yield Transcript(nlu.text, nlu.start, nlu.end, nlu.asr_ms)
        yield nlu
