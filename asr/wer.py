"""Word error rate the way Whisper's own evaluations compute it: both sides normalized by
Whisper's English normalizer (case, punctuation, spelling variants, spoken numbers)."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _normalizer():
    from whisper.normalizers import EnglishTextNormalizer
    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    return " ".join(_normalizer()(text).split())


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER: total edits over total reference words (an empty pair counts as no error)."""
    import jiwer
    pairs = [(normalize(r), normalize(h)) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [(r, h) for r, h in pairs if r or h]
    if not pairs:
        return 0.0
    refs, hyps = zip(*pairs)
    if not any(refs):
        return float(sum(len(h.split()) for h in hyps))
    out = jiwer.process_words([r or "<empty>" for r in refs], [h or "" for h in hyps])
    return out.wer
