"""A yardstick printed beside benchmark figures: one fixed Whisper job, timed on this machine now.

A benchmark's figures move with the machine as much as with the code. On this project's 2-core
VM the same four archive calls ran at 13.7x real time in one hour and at 1.5-2.0x the next
(2026-11-26), while a pure-Python loop kept its usual speed: something on the host took the
memory or the vector units away. A throughput alone cannot tell that from a slower commit, so
`bench archive` and `bench calls` time this job at their start and at their end and report it
with their results: compare runs only at a like yardstick (docs/benchmarks.md, "The yardstick").

    python -m voicebot.bench.yardstick        # prints the median in ms
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from asr.audio import load_audio
from asr.faster import FasterWhisper

# a bundled caller utterance (3.3 s, 16 kHz mono), decoded the way a live turn is
CLIP = Path(__file__).resolve().parents[2] / "audio_samples" / "utterances" / "billing_complaint_stereo_8k_1.flac"


def yardstick_ms(repeats: int = 5) -> float:
    """Median milliseconds of Whisper base (int8, one thread, short context) on CLIP."""
    model = FasterWhisper("base", threads=1)
    clip = load_audio(CLIP)
    model.transcribe(clip)  # the first decode pays for lazy set-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.transcribe(clip)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


if __name__ == "__main__":
    print(yardstick_ms())
