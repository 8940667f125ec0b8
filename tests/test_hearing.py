"""The suite's read-back helper (tests/hearing.py) cuts where a recording pauses, and only there."""
from __future__ import annotations

import numpy as np

from tests.conftest import tone
from tests.hearing import stretches

RATE = 16000


def test_stretches_are_cut_at_pauses_not_inside_words():
    gap = lambda s: np.zeros(int(s * RATE), np.float32)  # noqa: E731
    floor = np.random.default_rng(0).normal(0, 10 ** (-60 / 20), 8 * RATE).astype(np.float32)  # -60 dBFS
    audio = np.concatenate([gap(0.5), tone(1.0, RATE), gap(0.2), tone(0.5, RATE), gap(1.0), tone(0.8, RATE), gap(0.7)])
    audio = audio * 0.3 + floor[:len(audio)]
    got = stretches(audio)
    # the 0.2 s dip stays inside the first stretch; the 1 s pause cuts; 0.2 s of padding each side
    assert [round(len(s) / RATE, 1) for s in got] == [2.1, 1.2]
    assert stretches(np.zeros(RATE, np.float32)) == []  # silence: nothing to read
