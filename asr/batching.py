"""One decoder queue for many calls: utterances that end together are transcribed as a batch.

Calls at once share one Whisper engine, whose model copy works on one request at a time
anyway (CTranslate2 runs a copy's requests in turn). Here the requests go through one queue
and one thread instead; when it is free it takes every request waiting (up to `max_batch`)
and, with a recognizer that can (`first_tries`: faster-whisper), encodes and decodes them
together. On a CPU a batch of four costs well under four single decodes (the decoder's steps
are mostly overhead at this size), so under load the queue drains faster. A lone request is
decoded alone, as before. docs/benchmarks.md, "Phone calls at once", has what it measured.

Only first tries go through that queue. An utterance whose first decode does not close (a
fragment Whisper loops on, a context that misleads it) is decoded again, and in the end with
the 30 s window and its temperature ladder: 6-12 s for a word said twenty times, 3.2-3.7 s
for some 0.5-0.8 s fragments on a busy machine, and every call's turn waited behind it. Those
later tries go to a second thread, on a second copy of the model (`FasterWhisper(workers=2)`),
so the queue goes on with the other calls' turns; only the call that said it waits for it.

Guesses (`submit(..., guess=True)`: a live turn decoded where the caller's voice paused, before
anyone knows that the turn has ended; live.decode_priority) wait behind every other request: a
batch takes them only when no other request waits (a guess would pad a turn's batch with its
length), and when more of them wait than a batch takes the oldest are dropped (cancelled).

`decoders` threads take batches from the queue (asr.decoders): with 2, two calls' turns that end
apart are decoded at once on two cores (the model's two copies: `FasterWhisper(workers=2)`; a
retry then waits for a free copy) instead of the second waiting for the first.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future

import numpy as np

from asr.base import Context, Recognition

log = logging.getLogger("voicebot.asr")
SLOW_S = 2.0  # a batch this slow holds every call up: said in the log


class BatchingRecognizer:
    def __init__(self, recognizer, max_batch: int = 8, decoders: int = 1):
        self.recognizer = recognizer
        self.max_batch = max_batch
        self._queue: deque = deque()  # (audio, context, job): first tries, in turn
        self._guesses: deque = deque()  # ... and guesses, behind them
        self._pending = 0  # requests submitted and not yet done (retries included), for idle()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._retries: queue.SimpleQueue = queue.SimpleQueue()
        for i in range(decoders):
            threading.Thread(target=self._run, name=f"asr-batch-{i}", daemon=True).start()
        if callable(getattr(recognizer, "first_tries", None)):
            threading.Thread(target=self._run_retries, name="asr-retry", daemon=True).start()

    def __getattr__(self, name):  # name, model_name, retries... are the recognizer's
        return getattr(self.recognizer, name)

    def transcribe(self, audio: np.ndarray, context: Context | None = None) -> Recognition:
        return self.submit(audio, context).result()

    def submit(self, audio: np.ndarray, context: Context | None = None, guess: bool = False) -> Future:
        """The decode, queued; its Future (cancel it to drop the decode if it has not begun).
        A `guess` goes behind the rest and may be dropped (its Future cancelled) if many wait."""
        job: Future = Future()
        job.add_done_callback(self._done)  # a result, an error or a cancel
        dropped = None
        with self._ready:
            self._pending += 1
            (self._guesses if guess else self._queue).append((audio, context, job))
            if len(self._guesses) > self.max_batch:
                dropped = self._guesses.popleft()[2]
            self._ready.notify()
        if dropped is not None:
            dropped.cancel()
        return job

    def guesses(self) -> Guesses:
        """This queue, as a recognizer whose requests are guesses (for an ASRStage)."""
        return Guesses(self)

    def _done(self, _: Future) -> None:
        with self._lock:
            self._pending -= 1

    def _take(self) -> list:
        """The next batch: the first tries waiting, else the guesses waiting."""
        with self._ready:
            while not self._queue and not self._guesses:
                self._ready.wait()
            if self._queue:
                n = min(len(self._queue), self.max_batch)
                return [self._queue.popleft() for _ in range(n)]
            jobs = list(self._guesses)  # no more than a batch: submit drops the rest
            self._guesses.clear()
            return jobs

    def idle(self) -> bool:
        """Nothing being decoded nor waiting: a guess decoded now delays no one."""
        with self._lock:
            return self._pending == 0

    def _run(self) -> None:
        first = getattr(self.recognizer, "first_tries", None)
        while True:
            jobs = [j for j in self._take() if j[2].set_running_or_notify_cancel()]  # a guess dropped meanwhile
            if not jobs:
                continue
            t0 = time.perf_counter()
            try:
                if first is not None:  # alone or batched; what does not close goes on to the retry thread
                    results = first([(a, c) for a, c, _ in jobs])
                else:  # a recognizer that cannot batch (openai-whisper): one at a time
                    results = [self.recognizer.transcribe(a, c) for a, c, _ in jobs]
            except Exception as e:  # each caller gets the engine's error, the queue goes on
                for *_, job in jobs:
                    job.set_exception(e)
                continue
            _slow(time.perf_counter() - t0, jobs, "the calls waited")
            for (audio, context, job), r in zip(jobs, results):
                if r is None:
                    self._retries.put((audio, context, job))
                else:
                    job.set_result(r)

    def _run_retries(self) -> None:
        while True:
            audio, context, job = self._retries.get()
            t0 = time.perf_counter()
            try:
                job.set_result(self.recognizer.finish(audio, context))
            except Exception as e:
                job.set_exception(e)
            _slow(time.perf_counter() - t0, [(audio,)], "only its call waited")


class Guesses:
    """A BatchingRecognizer whose submits are guesses; the rest is the queue's."""

    def __init__(self, batching: BatchingRecognizer):
        self.batching = batching

    def __getattr__(self, name):
        return getattr(self.batching, name)

    def submit(self, audio: np.ndarray, context: Context | None = None) -> Future:
        return self.batching.submit(audio, context, guess=True)


def _slow(took: float, jobs: list, who: str) -> None:
    if took > SLOW_S:
        log.warning("ASR: %d utterance(s) of %s s took %.1f s: %s", len(jobs),
                    "/".join(f"{len(j[0]) / 16000:.1f}" for j in jobs), took, who)
