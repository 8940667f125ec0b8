"""The understanding and dialogue stages."""
from __future__ import annotations

import dataclasses
import time
from typing import Iterable, Iterator

from voicebot.events import NLUResult, Transcript


class NLUStage:
    """Stage: Transcript in, NLUResult out (timings of both carried); other events pass."""

    def __init__(self, model):
        self.model = model

    def __call__(self, events: Iterable) -> Iterator:
        for ev in events:
            if not isinstance(ev, Transcript):
                yield ev
                continue
            t0 = time.perf_counter()
            r = self.model.parse(ev.text)
            ms = (time.perf_counter() - t0) * 1000
            yield dataclasses.replace(r, start=ev.start, end=ev.end, asr_ms=ev.asr_ms, nlu_ms=ms)


class DialogueStage:
    """Stage: NLUResult in (passed on), then the conversation's BotReply."""

    def __init__(self, conversation, greet: bool = False):
        self.conversation = conversation
        self.greet = greet

    def __call__(self, events: Iterable) -> Iterator:
        if self.greet:
            yield self.conversation.greeting()
        for ev in events:
            yield ev
            if isinstance(ev, NLUResult):
                yield self.conversation.respond(ev)


def load_nlu(model_dir: str | None = None, device: str = "auto"):
    """The trained multi-task model when there is one, else the embedding baseline."""
    from pathlib import Path
    if model_dir and (Path(model_dir) / "config.json").is_file():
        from nlu.multitask import MultiTaskNLU
        return MultiTaskNLU.load(model_dir, device=device)
    if model_dir:
        raise FileNotFoundError(f"{model_dir}: no trained NLU model there (run `voicebot train`)")
    from nlu.baseline import EmbeddingNLU
    return EmbeddingNLU.default()
