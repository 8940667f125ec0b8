"""Voice activity detection: turns a stream of audio frames into utterances.

An engine scores fixed windows of 16 kHz audio (its own native size); the `Segmenter`
turns those scores into utterances with pre-roll padding, an end-of-speech hangover and
a minimum length, so every engine gets the same, tested endpointing.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

import numpy as np

from asr.events import AudioFrame, SpeechEnded, SpeechPaused, SpeechStarted
from asr.vad_silero import SileroVAD
from asr.vad_webrtc import WebRTCVAD

RATE = 16000
# within vad.resume_ms of an utterance, a window this close to its loudest is the caller going
# on, whatever the engine says: Silero scored flite rms on a phone line 0.30-0.37 at -18 dBFS
# right after a 0.1 s pause inside "What time do your | stores open on Sunday?"
RESUME_DB = 12.0


class VADEngine(Protocol):
    window: int  # samples per decision at 16 kHz

    def speech_prob(self, window: np.ndarray) -> float: ...

    def reset(self) -> None: ...


@dataclass
class VADSettings:
    engine: str = "webrtc"  # webrtc | silero
    aggressiveness: int = 1  # webrtc 0-3 (2 and 3 split quiet callers on noisy lines: measured)
    threshold: float = 0.5  # silero speech probability that starts speech
    release: float = 0.15  # speech goes on while the probability stays above threshold - release
    pre_roll_ms: int = 500  # audio kept before the detected start (soft onsets under noise)
    hangover_ms: int = 500  # silence that ends an utterance
    start_ms: int = 90  # speech needed to start one (ignores clicks)
    min_speech_ms: int = 250  # shorter utterances are dropped
    max_utterance_s: float = 28.0  # cut here: Whisper's window is 30 s
    # sound that comes back this soon after an utterance's end is speech again at the going-on
    # threshold (threshold - release), or when it is as loud as that utterance (RESUME_DB): a
    # pause inside a sentence is no new start. 0: off (live calls set it: voicebot.live)
    resume_ms: int = 0
    # level gates (dB); 0 turns one off. A window is the caller's speech only if the engine
    # says speech AND it stands snr_db above the tracked noise floor AND, once the caller's
    # level is known, it is no more than drop_db under it (background talk is quieter)
    snr_db: float = 3.0
    drop_db: float = 20.0


def make_engine(settings: VADSettings) -> VADEngine:
    if settings.engine == "webrtc":
        return WebRTCVAD(settings.aggressiveness)
    if settings.engine == "silero":
        return SileroVAD(quiet=settings.threshold - settings.release)
    raise ValueError(f"unknown VAD engine {settings.engine!r} (webrtc, silero)")


class LevelGate:
    """Tracks the noise floor and the caller's speech level from window energies.

    The floor follows the quietest windows: down at once, up slowly (3 dB/s), so speech
    never lifts it but a louder room does. The caller's level is the loudest window of each
    utterance (averaged over the call's utterances): background voices, a TV or babble that
    a VAD rightly calls speech stand well under it.
    """

    def __init__(self, snr_db: float, drop_db: float, win_s: float):
        self.snr_db, self.drop_db, self.win_s = snr_db, drop_db, win_s
        self.floor: float | None = None
        self.levels: list[float] = []  # loudest window of each past utterance
        self.peak = -120.0  # loudest window of the current one
        self.recent: deque = deque(maxlen=max(1, round(0.15 / win_s)))  # powers of the last 150 ms

    # plain floats and math, not numpy reductions: these run on every 30 ms window, and numpy's
    # per-call overhead made the VAD ~4 % of an archive worker's time (24 archive calls: 1.5 s, now 0.65 s)
    @staticmethod
    def energy_db(w: np.ndarray) -> float:
        x = w.astype(np.float64)
        return 10 * math.log10(float(np.dot(x, x)) / max(len(x), 1) + 1e-12)

    def loud_enough(self, e: float, starting: bool = False) -> bool:
        self.recent.append(10 ** (e / 10))
        smooth = 10 * math.log10(sum(self.recent) / len(self.recent))
        if self.floor is None:
            self.floor = e
        elif e < self.floor:
            self.floor = e
        else:
            self.floor = min(e, self.floor + 3.0 * self.win_s)
        if self.snr_db and e < max(self.floor, -75.0) + self.snr_db:
            return False
        level = max([self.peak, *self.levels[-5:]]) if self.levels else self.peak
        # starting takes more than going on (15 dB under the caller's level, not 20): babble
        # 15-20 dB under the caller opened turns early and took the caller's words with it
        drop = self.drop_db * (0.75 if starting else 1.0)
        return not (self.drop_db and level > -100 and smooth < level - drop)

    def voiced(self, e: float) -> None:
        self.peak = max(self.peak, e)

    def utterance_ended(self, kept: bool) -> None:
        if kept and self.peak > -100:
            self.levels.append(self.peak)
        self.peak = -120.0


class Segmenter:
    """Stage: AudioFrame events in, SpeechStarted/SpeechEnded out; other events pass."""

    def __init__(self, settings: VADSettings | None = None, engine: VADEngine | None = None,
                 pauses: bool = False):
        self.settings = settings or VADSettings()
        self.engine = engine or make_engine(self.settings)
        self.pauses = pauses  # say SpeechPaused where the voice stops, before the hangover

    def __call__(self, events: Iterable) -> Iterator:
        s, eng = self.settings, self.engine
        eng.reset()
        win = eng.window
        win_s = win / RATE
        gate = LevelGate(s.snr_db, s.drop_db, win_s)
        start_wins = max(1, round(s.start_ms / 1000 / win_s))
        end_wins = max(1, round(s.hangover_ms / 1000 / win_s))
        pre_roll = deque(maxlen=max(1, round(s.pre_roll_ms / 1000 / win_s)) + start_wins)
        max_wins = int(s.max_utterance_s / win_s)
        buf = np.zeros(0, np.float32)
        t = 0.0  # call time of buf[0]
        voiced_run = silent_run = 0
        speech: list[np.ndarray] | None = None
        seg_start = 0.0
        last_end, last_peak = -1e9, 0.0  # where the last utterance ended; its loudest window (dB)

        def close(end_wins_trailing: int):
            nonlocal speech, last_end, last_peak
            audio = np.concatenate(speech)
            seg_end = seg_start + len(audio) / RATE - end_wins_trailing * win_s
            speech, last_end, last_peak = None, seg_end, gate.peak
            kept = seg_end - seg_start - s.pre_roll_ms / 1000 >= s.min_speech_ms / 1000
            gate.utterance_ended(kept)
            return SpeechEnded(round(seg_start, 3), round(seg_end, 3), audio, RATE) if kept else None

        for ev in events:
            if not isinstance(ev, AudioFrame):
                yield ev
                continue
            if len(buf) == 0:
                t = ev.t
            buf = np.concatenate([buf, ev.samples]) if len(buf) else ev.samples
            while len(buf) >= win:
                w, buf, t0 = buf[:win], buf[win:], t
                t += win_s
                prob = eng.speech_prob(w)
                # hysteresis (as Silero's own iterator does): harder to start than to go on
                resuming = speech is None and t0 - last_end < s.resume_ms / 1000
                voiced = prob >= (s.threshold - s.release if speech is not None or resuming else s.threshold)
                energy = gate.energy_db(w)
                voiced = voiced or (resuming and energy >= last_peak - RESUME_DB)
                voiced = gate.loud_enough(energy, speech is None) and voiced
                if voiced:
                    gate.voiced(energy)
                if speech is None:
                    pre_roll.append((t0, w))
                    voiced_run = voiced_run + 1 if voiced else 0
                    if voiced_run >= start_wins:
                        seg_start = pre_roll[0][0]
                        speech = [x for _, x in pre_roll]
                        pre_roll.clear()
                        silent_run = voiced_run = 0
                        yield SpeechStarted(round(t0 - (start_wins - 1) * win_s, 3))
                else:
                    speech.append(w)
                    silent_run = 0 if voiced else silent_run + 1
                    if silent_run == 1 and self.pauses:  # the end a SpeechEnded would have, said now
                        yield SpeechPaused(round(seg_start, 3), round(t0, 3))
                    if silent_run >= end_wins:
                        # keep 300 ms of what followed the last loud window: Whisper likes a
                        # soft end, and a word's quiet tail ("thanks") may lie under the gates
                        keep = min(silent_run, max(1, round(0.3 / win_s)))
                        drop = silent_run - keep
                        speech = speech[:len(speech) - drop] if drop else speech
                        out = close(keep)
                        if out:
                            yield out
                    elif len(speech) >= max_wins:
                        out = close(0)
                        if out:
                            yield out
        if speech:  # the call ended mid-utterance
            out = close(0)
            if out:
                yield out
