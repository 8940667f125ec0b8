"""Silence the personal data in a recording, as contact centres do for card numbers.

Whisper reads the audio again with word timestamps; the words that `nlu.redact.find` would
tag are replaced by silence (plus a margin either side, since word edges from cross-attention
are approximate, ~0.1-0.2 s). Used for stored call audio and by `voicebot data redact`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlu.redact import find

RATE = 16000
MARGIN_S = 0.25


@dataclass(frozen=True)
class Silenced:
    kind: str
    start: float
    end: float
    text: str


def word_times(recognizer, audio: np.ndarray) -> list[tuple[float, float, str]]:
    """(start, end, word) for 16 kHz audio, from the backend's own word timestamps."""
    model = getattr(recognizer, "model", None)
    if recognizer.name == "faster-whisper":
        segments, _ = model.transcribe(audio, language="en", beam_size=1, word_timestamps=True,
                                       vad_filter=False, condition_on_previous_text=False)
        return [(w.start, w.end, w.word) for s in segments for w in (s.words or [])]
    if recognizer.name == "openai-whisper":
        import whisper
        out = whisper.transcribe(model, audio, language="en", word_timestamps=True, fp16=False,
                                 condition_on_previous_text=False)
        return [(w["start"], w["end"], w["word"]) for s in out["segments"] for w in s.get("words", [])]
    raise ValueError(f"audio redaction needs word timestamps, which the {recognizer.name} backend does not give")


def redact_audio(recognizer, audio: np.ndarray, margin_s: float = MARGIN_S) -> tuple[np.ndarray, list[Silenced]]:
    """`audio` (16 kHz mono float32) with the spans that carried personal data silenced."""
    words = word_times(recognizer, audio)
    text, offsets = "", []
    for start, end, word in words:
        offsets.append((len(text), len(text) + len(word), start, end))
        text += word
    out, done = audio.copy(), []
    for span in find(text):
        hit = [(s, e) for a, b, s, e in offsets if a < span.end and span.start < b]
        if not hit:
            continue
        t0, t1 = max(0.0, hit[0][0] - margin_s), hit[-1][1] + margin_s
        out[int(t0 * RATE):int(t1 * RATE)] = 0.0
        done.append(Silenced(span.kind, round(t0, 2), round(min(t1, len(audio) / RATE), 2), span.text))
    return out, done
