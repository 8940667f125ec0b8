"""The understanding and dialogue stages."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Iterable, Iterator

from asr.device import ctranslate2_device
from asr.events import Transcript
from nlu.baseline import EmbeddingNLU
from nlu.entities import EntityExtractor, catalogue
from nlu.events import Interrupted, NLUResult
from nlu.heads import OnnxNLU
from nlu.multitask import MultiTaskNLU


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
    """Stage: NLUResult in (passed on), then the conversation's BotReply. An Interrupted
    (live calls) tells the conversation its last reply was cut."""

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
            elif isinstance(ev, Interrupted):
                self.conversation.reply_cut(ev)


DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "nlu"


def load_nlu(model: str = "auto", device: str = "auto", domain: str | None = None):
    """"auto": the trained multi-task model at models/nlu when it is there, else the
    embedding baseline; "baseline"; or a trained model's directory. Products are those of
    the `domain` file (None: the default domain)."""
    nlu = _load_nlu(model, device)
    if domain:
        extractor = EntityExtractor(catalogue(domain))
        if hasattr(nlu, "extractor"):
            nlu.extractor = extractor
        else:
            nlu.normalizer = extractor
    return nlu


def _load_nlu(model: str, device: str):
    if model == "baseline" or (model == "auto" and not (DEFAULT_MODEL_DIR / "config.json").is_file()):
        return EmbeddingNLU.default()
    path = DEFAULT_MODEL_DIR if model == "auto" else Path(model)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path}: no trained NLU model there (run `voicebot train --model-dir {path}`)")
    onnx, weights = path / "model.onnx", path / "model.safetensors"
    if (onnx.is_file() and onnx.stat().st_mtime >= weights.stat().st_mtime
            and ctranslate2_device(device) == "cpu"):  # a GPU runs the torch model
        return OnnxNLU(path)
    return MultiTaskNLU.load(path, device=device)
