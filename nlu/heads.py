"""What every runtime of the multi-task model shares: labels, decoding, entities.

`Heads.parse_batch` turns a runtime's raw scores (intent and sentiment probabilities, a tag
per word piece with its character offsets) into NLUResults. Two runtimes: `MultiTaskNLU`
(torch, nlu/multitask.py: training and GPUs) and `OnnxNLU` below (onnxruntime and the
`tokenizers` library: no torch or transformers import, the default on a CPU).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from asr.device import onnx_options
from nlu.entities import EntityExtractor
from nlu.events import Entity, NLUResult

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# said as dates, but mostly not meant as one ("that's all for today"): added only when tagged
IDIOMS = {"today", "tonight"}


NUMBERS = {"order_number", "phone_number"}


def decode_spans(offsets: list[tuple[int, int]], tags: list[str], text: str = "") -> list[tuple[int, int, str]]:
    """Contiguous B/I pieces of one type become one (start, end, type) character span. One word
    is one entity whatever its pieces were tagged ("4567" as order "45" and phone "67" was two),
    and so is one run of digits (`text` given): "four five six seven", "4 5 6 7"; such a span
    takes the type that covers most of it."""
    spans: list[list] = []
    for (s, e), tag in zip(offsets, tags):
        if s == e or tag == "O":
            continue
        kind, etype = tag.split("-", 1)
        if spans and s == spans[-1][1]:  # glued to the span before, inside one word
            spans[-1][1] = e
            spans[-1][3][etype] = spans[-1][3].get(etype, 0) + e - s
        elif spans and spans[-1][2] == etype and kind == "I":
            spans[-1][1] = e
        elif (spans and etype in NUMBERS and spans[-1][2] in NUMBERS and text
              and not text[spans[-1][1]:s].strip(" -")):  # the next digits of one number
            spans[-1][1] = e
            spans[-1][3][etype] = spans[-1][3].get(etype, 0) + e - s
        else:
            spans.append([s, e, etype, {etype: e - s}])
    # the type that covers most of the span (the first, when even)
    return [(a, b, max(cover, key=lambda k: (cover[k], k == first))) for a, b, first, cover in spans]


class Heads:
    def __init__(self, labels: dict, info: dict | None = None):
        self.intents, self.sentiments, self.tags = labels["intents"], labels["sentiments"], labels["tags"]
        self.info = info or {}
        self.normalizer = EntityExtractor()

    def scores(self, texts: list[str]):
        """(intent probabilities, sentiment probabilities, tag ids per piece, piece offsets)."""
        raise NotImplementedError

    def parse_batch(self, texts: list[str]) -> list[NLUResult]:
        texts = [t.strip() for t in texts]
        out: list[NLUResult | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t]
        for i in set(range(len(texts))) - set(todo):
            out[i] = NLUResult(texts[i], "out_of_scope", 0.0, "neutral")
        if todo:
            t0 = time.perf_counter()
            ip, sp, tag_ids, offsets = self.scores([texts[i] for i in todo])
            ms = (time.perf_counter() - t0) * 1000 / len(todo)
            for row, i in enumerate(todo):
                spans = decode_spans([tuple(o) for o in offsets[row]], [self.tags[t] for t in tag_ids[row]], texts[i])
                intent = self.intents[int(ip[row].argmax())]
                ents = self.entities(texts[i], spans, intent)
                out[i] = NLUResult(texts[i], intent, float(ip[row].max()),
                                   self.sentiments[int(sp[row].argmax())], ents, nlu_ms=ms)
        return out

    def parse(self, text: str) -> NLUResult:
        return self.parse_batch([text])[0]

    def entities(self, text: str, spans: list[tuple[int, int, str]], intent: str | None = None) -> tuple[Entity, ...]:
        """Tagged spans with normalized values. Dates get help from the rules, which see the
        whole sentence: a tagged piece of a date ("fifth" of "december the fifth", "tomorrow"
        of "the day after tomorrow") becomes the date around it, and a date the tagger
        missed is added when the rules resolve it to a day, forward or back as the turn implies
        (`intent` and its words: nlu.entities.date_direction)."""
        dates = [e for e in self.normalizer.extract(text, intent) if e.type == "date"]
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


class OnnxNLU(Heads):
    """The exported model (model.onnx beside the weights) run by onnxruntime."""

    def __init__(self, model_dir: str | Path, threads: int = 0):
        import onnxruntime
        from tokenizers import Tokenizer
        d = Path(model_dir)
        config = json.loads((d / "config.json").read_text())
        super().__init__(config["labels"], config)
        self.tokenizer = Tokenizer.from_file(str(d / "tokenizer" / "tokenizer.json"))
        self.tokenizer.enable_truncation(config.get("max_tokens", 64))
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        opts = onnx_options(threads)
        self.session = onnxruntime.InferenceSession(str(d / "model.onnx"), opts, providers=["CPUExecutionProvider"])

    def scores(self, texts: list[str]):
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.int64)
        intent, sentiment, tags = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return _softmax(intent), _softmax(sentiment), tags.argmax(-1), [e.offsets for e in enc]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)
