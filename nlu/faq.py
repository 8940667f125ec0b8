"""The knowledge base: questions callers ask and the one spoken answer to each.

Entries come from the domain file's `faq:` section; each has a few example questions. At
start the examples are embedded once with the bundled MiniLM (the sentence encoder, not the
fine-tuned NLU model: the fine-tuned one groups sentences by intent, which is not what
"same question" means); a caller's turn is matched by cosine similarity to the nearest
example. An operator adds an entry and it is matched on the next start, with no retraining.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nlu.onnx_encoder import OnnxSentenceEncoder


@dataclass(frozen=True)
class FAQEntry:
    id: str
    questions: tuple[str, ...]
    answer: str
    follow_up: str = ""

    def spoken(self) -> str:
        return f"{self.answer} {self.follow_up}".strip()


@dataclass(frozen=True)
class FAQMatch:
    entry: FAQEntry
    score: float     # cosine similarity to the nearest example question
    question: str    # that example
    accepted: bool   # score at or above the knowledge base's threshold

    def to_dict(self) -> dict:
        return {"id": self.entry.id, "score": round(self.score, 4), "question": self.question,
                "accepted": self.accepted}


def parse_entries(raw, where: str = "faq") -> list[FAQEntry]:
    """The domain file's `faq:` list, checked; a bad entry is named with its position."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"{where}: must be a list of entries")
    entries, seen = [], set()
    for i, item in enumerate(raw):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{here}: must be a mapping with id, questions and answer")
        unknown = set(item) - {"id", "questions", "answer", "follow_up"}
        if unknown:
            raise ValueError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}")
        fid, questions, answer = item.get("id"), item.get("questions"), item.get("answer")
        if not isinstance(fid, str) or not fid:
            raise ValueError(f"{here}: id missing")
        if fid in seen:
            raise ValueError(f"{here}: id {fid!r} used twice")
        seen.add(fid)
        if (not isinstance(questions, list) or not questions
                or not all(isinstance(q, str) and q.strip() for q in questions)):
            raise ValueError(f"{here} ({fid}): questions must be a list of texts")
        if not isinstance(answer, str) or not answer.strip():
            raise ValueError(f"{here} ({fid}): answer missing")
        follow = item.get("follow_up") or ""
        if not isinstance(follow, str):
            raise ValueError(f"{here} ({fid}): follow_up must be a text")
        entries.append(FAQEntry(fid, tuple(q.strip() for q in questions), answer.strip(), follow.strip()))
    return entries


@lru_cache(maxsize=1)
def _encoder():
    return OnnxSentenceEncoder()  # one sentence per turn: a CPU, and no torch to import at start


class KnowledgeBase:
    def __init__(self, entries: list[FAQEntry], threshold: float = 0.6, encoder=None):
        self.entries = entries
        self.threshold = threshold
        self.encoder = encoder
        self._owner = [i for i, e in enumerate(entries) for _ in e.questions]
        self._questions = [q for e in entries for q in e.questions]
        self._matrix = None

    def _embed(self, texts: list[str]) -> np.ndarray:
        return (self.encoder or _encoder()).encode(texts)

    def load(self) -> "KnowledgeBase":
        """Embed the example questions (once; at start, so no caller waits for it)."""
        if self._matrix is None:
            self._matrix = self._embed(self._questions) if self._questions else np.zeros((0, 384), np.float32)
        return self

    def match(self, text: str) -> FAQMatch | None:
        return self.match_batch([text])[0]

    def match_batch(self, texts: list[str]) -> list[FAQMatch | None]:
        self.load()
        out: list[FAQMatch | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo or not len(self._matrix):
            return out
        sims = self._embed([texts[i].strip() for i in todo]) @ self._matrix.T
        for row, i in enumerate(todo):
            best = int(sims[row].argmax())
            score = float(sims[row, best])
            out[i] = FAQMatch(self.entries[self._owner[best]], score, self._questions[best], score >= self.threshold)
        return out
