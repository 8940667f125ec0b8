"""The first NLU model: logistic regression on MiniLM sentence embeddings, entities by rule.

Cheap to train (seconds) and a fair yardstick for the trained multi-task model.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from asr.files import atomic_path, atomic_write_text
from nlu.encoder import SentenceEncoder
from nlu.entities import EntityExtractor
from nlu.events import NLUResult
from nlu.validate import load_examples

DATA = Path(__file__).resolve().parent / "data" / "train.jsonl"


class EmbeddingNLU:
    def __init__(self, intent_clf, sentiment_clf, encoder: SentenceEncoder | None = None,
                 extractor: EntityExtractor | None = None):
        self.intent_clf = intent_clf
        self.sentiment_clf = sentiment_clf
        self.encoder = encoder or SentenceEncoder()
        self.extractor = extractor or EntityExtractor()

    @classmethod
    def train(cls, examples: list[dict], encoder: SentenceEncoder | None = None) -> "EmbeddingNLU":
        from sklearn.linear_model import LogisticRegression
        encoder = encoder or SentenceEncoder()
        x = encoder.encode([ex["text"] for ex in examples])
        # C well above the default: the embeddings are unit length, so the margins are small
        intent = LogisticRegression(C=20.0, max_iter=2000).fit(x, [ex["intent"] for ex in examples])
        sentiment = LogisticRegression(C=20.0, max_iter=2000).fit(x, [ex["sentiment"] for ex in examples])
        return cls(intent, sentiment, encoder)

    def save(self, directory: str | Path, data_sha256: str = "") -> None:
        import joblib

        d = Path(directory)
        # temporary files of their own: the workers of `voicebot analyze` may all train the
        # default baseline at once into one cache (a shared name once killed one mid-rename)
        with atomic_path(d / "classifiers.joblib") as tmp:
            joblib.dump({"intent": self.intent_clf, "sentiment": self.sentiment_clf}, tmp)
        atomic_write_text(d / "meta.json", json.dumps({"data_sha256": data_sha256, "intents": list(self.intent_clf.classes_),
                                                       "sentiments": list(self.sentiment_clf.classes_)}))

    @classmethod
    def load(cls, directory: str | Path) -> "EmbeddingNLU":
        import joblib
        clfs = joblib.load(Path(directory) / "classifiers.joblib")
        return cls(clfs["intent"], clfs["sentiment"])

    @classmethod
    def default(cls, cache_dir: str | Path | None = None, data: Path = DATA) -> "EmbeddingNLU":
        """Trained on the bundled data (or `data`) once, then loaded from the cache while the data
        is unchanged. Other data has a cache of its own: evaluating on it leaves the bot's be."""
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        name = "nlu-baseline" if Path(data).resolve() == DATA else f"nlu-baseline-{digest[:12]}"
        cache = Path(cache_dir or Path(os.environ.get("VOICEBOT_CACHE", Path.home() / ".cache" / "voicebot")) / name)
        try:
            if json.loads((cache / "meta.json").read_text())["data_sha256"] == digest:
                return cls.load(cache)
        except (OSError, ValueError, KeyError):
            pass
        model = cls.train(load_examples(data))
        model.save(cache, digest)
        return model

    def parse_batch(self, texts: list[str]) -> list[NLUResult]:
        texts = [t.strip() for t in texts]
        out = [NLUResult(t, "out_of_scope", 0.0, "neutral") for t in texts]
        todo = [i for i, t in enumerate(texts) if t]
        if todo:
            t0 = time.perf_counter()
            x = self.encoder.encode([texts[i] for i in todo])
            ip, sp = self.intent_clf.predict_proba(x), self.sentiment_clf.predict_proba(x)
            for row, i in enumerate(todo):
                out[i] = NLUResult(texts[i], str(self.intent_clf.classes_[ip[row].argmax()]), float(ip[row].max()),
                                   str(self.sentiment_clf.classes_[sp[row].argmax()]),
                                   tuple(self.extractor.extract(texts[i], str(self.intent_clf.classes_[ip[row].argmax()]))))
            ms = (time.perf_counter() - t0) * 1000 / len(todo)
            out = [NLUResult(**{**r.__dict__, "nlu_ms": ms}) if r.text else r for r in out]
        return out

    def parse(self, text: str) -> NLUResult:
        return self.parse_batch([text])[0]
