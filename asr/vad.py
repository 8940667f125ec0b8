"""Voice activity detection: turns a stream of audio frames into utterances.

An engine scores fixed windows of 16 kHz audio (its own native size); the `Segmenter`
turns those scores into utterances with pre-roll padding, an end-of-speech hangover and
a minimum length, so every engine gets the same, tested endpointing.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol

import numpy as np

from voicebot.events import AudioFrame, SpeechEnded, SpeechStarted

RATE = 16000


class VADEngine(Protocol):
    window: int  # samples per decision at 16 kHz

    def speech_prob(self, window: np.ndarray) -> float: ...

    def reset(self) -> None: ...


@dataclass
class VADSettings:
    engine: str = "webrtc"  # webrtc | silero
    aggressiveness: int = 2  # webrtc 0-3
    threshold: float = 0.5  # silero speech probability that starts speech
    release: float = 0.15  # speech goes on while the probability stays above threshold - release
    pre_roll_ms: int = 300  # audio kept before the detected start (soft onsets)
    hangover_ms: int = 500  # silence that ends an utterance
    start_ms: int = 90  # speech needed to start one (ignores clicks)
    min_speech_ms: int = 250  # shorter utterances are dropped
    max_utterance_s: float = 28.0  # cut here: Whisper's window is 30 s


def make_engine(settings: VADSettings) -> VADEngine:
    if settings.engine == "webrtc":
        from asr.vad_webrtc import WebRTCVAD
        return WebRTCVAD(settings.aggressiveness)
    if settings.engine == "silero":
        from asr.vad_silero import SileroVAD
        return SileroVAD()
    raise ValueError(f"unknown VAD engine {settings.engine!r} (webrtc, silero)")


class Segmenter:
    """Stage: AudioFrame events in, SpeechStarted/SpeechEnded out; other events pass."""

    def __init__(self, settings: VADSettings | None = None, engine: VADEngine | None = None):
        self.settings = settings or VADSettings()
        self.engine = engine or make_engine(self.settings)

    def __call__(self, events: Iterable) -> Iterator:
        s, eng = self.settings, self.engine
        eng.reset()
        win = eng.window
        win_s = win / RATE
        start_wins = max(1, round(s.start_ms / 1000 / win_s))
        end_wins = max(1, round(s.hangover_ms / 1000 / win_s))
        pre_roll = deque(maxlen=max(1, round(s.pre_roll_ms / 1000 / win_s)) + start_wins)
        max_wins = int(s.max_utterance_s / win_s)
        buf = np.zeros(0, np.float32)
        t = 0.0  # call time of buf[0]
        voiced_run = silent_run = 0
        speech: list[np.ndarray] | None = None
        seg_start = 0.0

        def close(end_wins_trailing: int):
            nonlocal speech
            audio = np.concatenate(speech)
            seg_end = seg_start + len(audio) / RATE - end_wins_trailing * win_s
            speech = None
            if seg_end - seg_start - s.pre_roll_ms / 1000 >= s.min_speech_ms / 1000:
                return SpeechEnded(round(seg_start, 3), round(seg_end, 3), audio, RATE)
            return None

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
                voiced = prob >= (s.threshold if speech is None else s.threshold - s.release)
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
                    if silent_run >= end_wins:
                        # keep a little of the trailing silence: Whisper likes a soft end
                        keep = min(silent_run, max(1, end_wins // 3))
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
