"""The multi-task understanding model: one shared MiniLM encoder, three heads.

intent (softmax over the mean-pooled sentence), sentiment (likewise), and entities as BIO
tags on the word pieces. Sharing the encoder means one forward pass per utterance serves all
three tasks, and what the encoder learns about a task helps the others (an angry complaint
and a negative sentiment read the same words).
"""
from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

from asr.device import torch_device
from asr.files import atomic_path, atomic_write_text
from nlu.encoder import encoder_path, quiet_transformers
from nlu.heads import Heads, decode_spans  # noqa: F401 (decode_spans: part of this module's API)
from nlu.schema import ENTITY_TYPES, INTENTS, SENTIMENTS

TAGS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
MAX_TOKENS = 64


def multitask_model(encoder, n_intents: int, n_sentiments: int, n_tags: int, dropout: float = 0.1):
    """The torch module: the encoder and three linear heads (its class is made on first use,
    so importing this module does not import torch)."""
    return _model_class()(encoder, n_intents, n_sentiments, n_tags, dropout)


@cache
def _model_class():
    from torch import nn

    class MultiTaskModel(nn.Module):
        def __init__(self, encoder: nn.Module, n_intents: int, n_sentiments: int, n_tags: int, dropout: float):
            super().__init__()
            self.encoder = encoder
            hidden = encoder.config.hidden_size
            self.dropout = nn.Dropout(dropout)
            self.intent = nn.Linear(hidden, n_intents)
            self.sentiment = nn.Linear(hidden, n_sentiments)
            self.tagger = nn.Linear(hidden, n_tags)

        def forward(self, input_ids, attention_mask):
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            pooled = self.dropout(pooled)
            return self.intent(pooled), self.sentiment(pooled), self.tagger(self.dropout(states))

    return MultiTaskModel


def bio_labels(offsets: list[tuple[int, int]], entities: list[dict]) -> list[int]:
    """A tag id per word piece from character spans; special tokens get -100 (ignored)."""
    labels = []
    for s, e in offsets:
        if s == e:  # [CLS], [SEP], padding
            labels.append(-100)
            continue
        tag = "O"
        for ent in entities:
            if s < ent["end"] and e > ent["start"]:  # the piece overlaps the entity
                tag = ("B-" if s <= ent["start"] else "I-") + ent["type"]
                break
        labels.append(TAGS.index(tag))
    return labels


class MultiTaskNLU(Heads):
    """Loading, prediction and saving around the torch model (`multitask_model`: training, GPUs)."""

    def __init__(self, model, tokenizer, labels: dict, device: str = "cpu", info: dict | None = None):
        super().__init__(labels, info)
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device

    @classmethod
    def new(cls, device: str = "cpu", dropout: float = 0.1) -> "MultiTaskNLU":
        from transformers import AutoModel, AutoTokenizer
        quiet_transformers()
        path = encoder_path()
        encoder = AutoModel.from_pretrained(path, local_files_only=True)
        model = multitask_model(encoder, len(INTENTS), len(SENTIMENTS), len(TAGS), dropout)
        labels = {"intents": list(INTENTS), "sentiments": list(SENTIMENTS), "tags": list(TAGS)}
        return cls(model, AutoTokenizer.from_pretrained(path, local_files_only=True), labels, device)

    def encode(self, texts: list[str]):
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS,
                               return_offsets_mapping=True, return_tensors="pt")
        offsets = batch.pop("offset_mapping").tolist()
        return {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}, offsets

    def scores(self, texts: list[str]):
        import torch
        with torch.inference_mode():
            inputs, offsets = self.encode(texts)
            intent, sentiment, tags = self.model(inputs["input_ids"], inputs["attention_mask"])
            return (intent.softmax(-1).cpu().numpy(), sentiment.softmax(-1).cpu().numpy(),
                    tags.argmax(-1).cpu().numpy(), offsets)

    def save(self, model_dir: str | Path, info: dict | None = None) -> None:
        """Weights, tokenizer and labels; config.json last, so a half-written dir never loads."""
        from safetensors.torch import save_file
        d = Path(model_dir)
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").unlink(missing_ok=True)
        state = {k: v.contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(d / "model.safetensors"))
        self.tokenizer.save_pretrained(str(d / "tokenizer"))
        self.model.encoder.config.save_pretrained(str(d / "encoder"))
        config = {"labels": {"intents": self.intents, "sentiments": self.sentiments, "tags": self.tags},
                  "max_tokens": MAX_TOKENS, **(info or self.info)}
        (d / "model.onnx").unlink(missing_ok=True)  # an export of other weights: training exports anew
        atomic_write_text(d / "config.json", json.dumps(config, indent=2) + "\n")

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "auto") -> "MultiTaskNLU":
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        quiet_transformers()
        d = Path(model_dir)
        config = json.loads((d / "config.json").read_text())
        labels = config["labels"]
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(d / "encoder"), local_files_only=True))
        model = multitask_model(encoder, len(labels["intents"]), len(labels["sentiments"]), len(labels["tags"]))
        model.load_state_dict(load_file(str(d / "model.safetensors")))
        tokenizer = AutoTokenizer.from_pretrained(str(d / "tokenizer"), local_files_only=True)
        return cls(model, tokenizer, labels, torch_device(device), config)


def export_onnx(nlu: MultiTaskNLU, path: str | Path) -> None:
    """The model as ONNX for onnxruntime: serving it needs neither torch nor transformers,
    which cut the NLU's start from ~3.7 s to ~0.4 s (docs/benchmarks.md, start-up)."""
    import torch
    model = nlu.model.to("cpu").eval()
    inputs, _ = nlu.encode(["where is order four five six seven"])
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "intent": {0: "batch"}, "sentiment": {0: "batch"}, "tags": {0: "batch", 1: "tokens"}}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing; the graph is checked by the tests
        torch.onnx.export(model, (inputs["input_ids"].cpu(), inputs["attention_mask"].cpu()), tmp, dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["intent", "sentiment", "tags"],
                          dynamic_axes=axes, opset_version=17)
    nlu.model.to(nlu.device)
