"""Taking the bot's own voice out of the microphone before the VAD hears it.

The transport tells the session what it played and when (`LiveSession.played`), so the
played audio is known on the microphone's timeline. For each microphone frame we look for
that reference within the echo path's possible delays, take the best-matching lag and gain
(a least-squares fit of one delayed, scaled copy) and subtract it. What is left is the caller.
The echo path's delay and gain hardly change, so they are learned from frames the fit
explains almost wholly (the bot alone) and used as they are while the caller talks too
(there a fresh fit would be pulled off by the caller's voice: measured, 6.6 dB of caller
to error with a per-frame fit, far better with the learned one).
One tap handles a delay and a level (a phone network's line echo, a loopback, the simulated
device); a room's reverberation needs a full adaptive filter, which this is not.
"""
from __future__ import annotations

import threading
from collections import deque

import numpy as np

RATE = 16000


class EchoCanceller:
    def __init__(self, max_delay_ms: int = 400, keep_s: float = 30.0):
        self.max_lag = int(max_delay_ms * RATE / 1000)
        self.size = int(keep_s * RATE)
        self.ref = np.zeros(self.size, np.float32)  # ring buffer, indexed by microphone sample
        self.ref_end = 0  # microphone sample index just past the newest reference sample
        self.lock = threading.Lock()
        self.energy_in = self.energy_out = 0.0  # over frames that had a reference: the suppression
        self.lags: deque[int] = deque(maxlen=15)  # lags of frames that were echo alone
        self.gain: float | None = None

    def add_reference(self, samples: np.ndarray, at: int) -> None:
        """`samples` (16 kHz) left the speaker at microphone sample index `at`."""
        with self.lock:
            n = min(len(samples), self.size)
            idx = (at + np.arange(n)) % self.size
            self.ref[idx] = samples[-n:] if n else samples[:0]
            self.ref_end = max(self.ref_end, at + n)

    def _reference(self, start: int, n: int) -> np.ndarray:
        with self.lock:
            if start + n <= self.ref_end - self.size or start >= self.ref_end:
                return np.zeros(n, np.float32)
            idx = np.arange(start, start + n)
            out = self.ref[idx % self.size].copy()
            out[(idx < 0) | (idx >= self.ref_end) | (idx < self.ref_end - self.size)] = 0
            return out

    def process(self, x: np.ndarray, at: int) -> np.ndarray:
        """The microphone frame `x` starting at sample `at`, with the echo taken out."""
        seg = self._reference(at - self.max_lag, self.max_lag + len(x))
        if not seg.any():
            return x
        # correlation of the frame with every lag of the reference, and each lag's energy
        corr = np.correlate(seg, x, "valid")[::-1]  # corr[L]: reference delayed by L samples
        sq = np.concatenate([[0.0], np.cumsum(seg.astype(np.float64) ** 2)])
        n = len(x)
        energy = (sq[n:] - sq[:-n])[::-1]  # energy[L] of seg[max_lag - L : max_lag - L + n]
        ok = energy > 1e-6 * n
        if not ok.any():
            return x
        score = np.where(ok, corr ** 2 / np.maximum(energy, 1e-12), -1.0)
        lag = int(np.argmax(score))
        xx = float(np.dot(x, x)) + 1e-12
        if score[lag] > 0.8 * xx:  # the bot alone: learn the path
            self.lags.append(lag)
            g = corr[lag] / energy[lag]
            self.gain = g if self.gain is None else 0.8 * self.gain + 0.2 * g
        if self.gain is not None and len(self.lags) >= 3:
            lag = int(np.median(self.lags))
            near = range(max(0, lag - 4), min(self.max_lag, lag + 4) + 1)  # a little drift
            lag = max((L for L in near if ok[L]), key=lambda L: score[L], default=lag)
            gain = self.gain
        elif score[lag] > 0.8 * xx:
            gain = corr[lag] / energy[lag]
        else:  # no echo path known (yet, or none at all): a fit would only take bits of the caller's voice
            return x
        r = seg[self.max_lag - lag:self.max_lag - lag + n]
        y = (x - gain * r).astype(np.float32)
        self.energy_in += float(np.dot(x, x))
        self.energy_out += float(np.dot(y, y))
        return y

    def suppression_db(self) -> float | None:
        """How much quieter the microphone was after cancelling, over frames with a reference."""
        if self.energy_in <= 0:
            return None
        return round(10 * np.log10(self.energy_in / max(self.energy_out, 1e-12)), 1)
