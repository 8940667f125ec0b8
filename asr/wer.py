"""Word error rate the way Whisper's own evaluations compute it: both sides normalized by
Whisper's English normalizer (case, punctuation, spelling variants, spoken numbers)."""
from __future__ import annotations

import re
from functools import lru_cache

from asr.digits import DIGIT_WORDS as DIGITS

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
    as three errors; a phone number comes as "555-219-8840", "555.219.8840" or spoken digit by
    digit. A run of two or more digits or digit groups (up to four digits each) becomes one
    number on both sides.
    """
    # digit groups written apart are one digit string: 1-2-3-4, 555-219-8840, 555.219.8840
    # (two dots or more: not a decimal)
    text = re.sub(r"\b\d+(?:\.\d+){2,}\b", lambda m: m.group().replace(".", " "), text)
    # Whisper's normalizer drops a leading zero ("0143" -> "143"): a number written with one
    # is a digit string, so its digits go in one by one
    text = re.sub(r"(?<![\d.,])0\d+\b", lambda m: " ".join(m.group()), text)
    words = _normalizer()(re.sub(r"(?<=\d)-(?=\d)", " ", text)).split()
    out: list[str] = []
    run: list[str] = []  # the words of a run of digits and digit groups
    for word in words + [""]:
        if word in DIGITS or (word.isdigit() and len(word) <= 4):  # a digit, or a group of a written number
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
