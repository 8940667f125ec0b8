"""One decoder queue for many calls: utterances that end together are transcribed as a batch.

Calls at once share one Whisper model, which works on one request at a time anyway
(CTranslate2 runs a model's requests in turn). Here the requests go through one queue and one
thread instead; when it is free it takes every request waiting (up to `max_batch`) and, with a
recognizer that can (`transcribe_many`: faster-whisper), encodes and decodes them together.
On a CPU a batch of four costs well under four single decodes (the decoder's steps are mostly
overhead at this size), so under load the queue drains faster. A lone request is decoded
alone, as before. docs/benchmarks.md, "Phone calls at once", has what it measured.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from asr.base import Context, Recognition

log = logging.getLogger("voicebot.asr")
SLOW_S = 2.0  # a batch this slow holds every call up: said in the log


class BatchingRecognizer:
    def __init__(self, recognizer, max_batch: int = 8):
        self.recognizer = recognizer
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="asr-batch", daemon=True)
        self._thread.start()

    def __getattr__(self, name):  # name, model_name, retries... are the recognizer's
        return getattr(self.recognizer, name)

    def transcribe(self, audio: np.ndarray, context: Context | None = None) -> Recognition:
        job: Future = Future()
        self._queue.put((audio, context, job))
        return job.result()

    def _run(self) -> None:
        many = getattr(self.recognizer, "transcribe_many", None)
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < self.max_batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            t0 = time.perf_counter()
            try:
                if len(jobs) > 1 and many is not None:
                    results = many([(a, c) for a, c, _ in jobs])
                else:
                    results = [self.recognizer.transcribe(a, c) for a, c, _ in jobs]
            except Exception as e:  # each caller gets the engine's error, the queue goes on
                for *_, job in jobs:
                    job.set_exception(e)
                continue
            took = time.perf_counter() - t0
            if took > SLOW_S:
                log.warning("ASR: %d utterance(s) of %s s took %.1f s: the calls waited", len(jobs),
                            "/".join(f"{len(a) / 16000:.1f}" for a, _, _ in jobs), took)
            for (*_, job), r in zip(jobs, results):
                job.set_result(r)
