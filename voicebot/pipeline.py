"""Composing stages: `Pipeline(vad, asr, nlu, dialogue, tts)(frames)`.

A stage is any callable from an iterator of events to an iterator of events. Plain
composition runs the whole chain lazily on one thread (recorded calls: no queues, no
copies). For live audio, `in_thread` moves a stage onto its own thread behind a bounded
queue, so a slow Whisper decode never stalls the frame reader, without changing the stage.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, Iterator

Stage = Callable[[Iterable], Iterator]
_END = object()


class Pipeline:
    def __init__(self, *stages: Stage):
        self.stages = stages

    def __call__(self, events: Iterable) -> Iterator:
        for stage in self.stages:
            events = stage(events)
        return iter(events)


def in_thread(stage: Stage, maxsize: int = 64) -> Stage:
    """Run `stage` on a worker thread; its output reaches the caller through a bounded queue."""

    def run(events: Iterable) -> Iterator:
        q: queue.Queue = queue.Queue(maxsize)
        stop = threading.Event()

        def work():
            try:
                for ev in stage(events):
                    while not stop.is_set():
                        try:
                            q.put(ev, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                q.put(_END)
            except BaseException as e:  # hand the error to the consuming thread
                q.put(e)

        worker = threading.Thread(target=work, daemon=True, name=f"stage-{getattr(stage, '__name__', type(stage).__name__)}")
        worker.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    return run
