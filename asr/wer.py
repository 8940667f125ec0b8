"""Word error rate the way Whisper's own evaluations compute it: both sides normalized by
Whisper's English normalizer (case, punctuation, spelling variants, spoken numbers)."""
from __future__ import annotations

import re
from functools import lru_cache

DIGITS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine".split())}
# one word, two spellings Whisper's normalizer leaves apart (it writes either)
SPELLINGS = {"ok": "okay"}


@lru_cache(maxsize=1)
def _normalizer():
    from whisper.normalizers import EnglishTextNormalizer
    return EnglishTextNormalizer()


def normalize(text: str) -> str:
    """Whisper's normalizer, then digit strings in one spelling.

    Whisper's normalizer joins spoken digits ("one two three four" -> "1234") but leaves
    written ones apart, and oddly ("1-2-3-4" -> "one 2 3 4"), so the same words would count
    as three errors. A run of two or more single digits becomes one number on both sides.
    """
    words = _normalizer()(re.sub(r"(?<=\d)-(?=\d)", " ", text)).split()
    out: list[str] = []
    run: list[str] = []  # the words of a run of single digits
    for word in words + [""]:
        if word in DIGITS or (len(word) == 1 and word.isdigit()):
            run.append(word)
            continue
        if len(run) > 1:
            out.append("".join(DIGITS.get(w, w) for w in run))
        else:
            out.extend(run)  # a lone digit stays as Whisper wrote it
        run = []
        if word:
            out.append(SPELLINGS.get(word, word))
    return " ".join(out)


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
