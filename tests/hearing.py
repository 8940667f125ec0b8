"""What a recording says, heard back with the project's Whisper, one stretch of sound at a time.

A recording of a call is mostly pauses. Read in one go, Whisper sometimes leaves out its last
words: a sentence that runs past the point where the model closes its window is carried into
the next window, and a next window that holds one word and silence is judged no speech (CI lost
"Goodbye!" that way, at the end of the speaker's recording and of a phone call's channels).
Cut at the pauses, each stretch is a short utterance, read as a live turn is.
"""
from __future__ import annotations

import numpy as np

RATE = 16000
FRAME = 320  # 20 ms


def stretches(audio: np.ndarray, pause_s: float = 0.5, pad_s: float = 0.2) -> list[np.ndarray]:
    """The parts of `audio` (16 kHz) between pauses of at least `pause_s`. Quiet is 35 dB under
    the loud frames' level (and never above -50 dBFS): the recordings here are speech on
    silence, or on a faint noise floor."""
    n = len(audio) // FRAME
    if n == 0:
        return []
    rms = np.sqrt(np.mean(audio[:n * FRAME].reshape(n, FRAME).astype(np.float64) ** 2, axis=1)) + 1e-9
    db = 20 * np.log10(rms)
    loud = db > max(np.percentile(db, 95) - 35, -50)
    runs, start, quiet = [], None, 0
    for i, on in enumerate(loud):
        if on:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet * FRAME >= pause_s * RATE:
                runs.append((start, i - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        runs.append((start, n - quiet))
    pad = int(pad_s * RATE)
    return [audio[max(0, a * FRAME - pad):b * FRAME + pad] for a, b in runs if (b - a) * FRAME >= 0.15 * RATE]


def heard(recognizer, audio: np.ndarray) -> str:
    """The words in `audio` (16 kHz), lower case, each stretch transcribed alone."""
    tail = np.zeros(RATE // 2, np.float32)
    parts = [recognizer.transcribe(np.concatenate([s.astype(np.float32), tail])).text.strip()
             for s in stretches(np.asarray(audio, np.float32))]
    return " ".join(p for p in parts if p).lower()
