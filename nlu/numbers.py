"""Numbers as callers say them and as Whisper writes them.

"four five six seven", "forty five sixty seven", "45 67" and "4,567" are all order 4567;
"twenty five dollars" is 25 and "one hundred and fifty" is 150. Everything works on tokens
that keep their character offsets, so entity spans point back into the original text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
REPEATS = {"double": 2, "triple": 3}
NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | set(SCALES) | set(REPEATS)

TOKEN = re.compile(r"[A-Za-z]+|\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Token:
    text: str  # lowercased
    start: int
    end: int

    @property
    def is_digits(self) -> bool:
        return self.text[0].isdigit()

    @property
    def is_number(self) -> bool:
        return self.is_digits or self.text in NUMBER_WORDS


def tokens(text: str) -> list[Token]:
    return [Token(m.group().lower(), m.start(), m.end()) for m in TOKEN.finditer(text)]


def words_to_digits(text: str) -> str:
    """A digit string as read out: "four five six seven" -> "4567", "double five" -> "55",
    "forty five sixty seven" -> "4567", "twelve thirty four" -> "1234". Non-number words are skipped."""
    return _digits([t.text for t in tokens(text) if t.is_number or t.text in ("and", "a")])


def _digits(words: list[str]) -> str:
    out, i = "", 0

    def small(j: int) -> tuple[int | None, int]:
        """10-99 said as one number ("forty five", "twelve") starting at j."""
        if j < len(words) and words[j] in TENS:
            if j + 1 < len(words) and words[j + 1] in UNITS and UNITS[words[j + 1]] > 0:
                return TENS[words[j]] + UNITS[words[j + 1]], j + 2
            return TENS[words[j]], j + 1
        if j < len(words) and words[j] in TEENS:
            return TEENS[words[j]], j + 1
        return None, j

    while i < len(words):
        w = words[i]
        if w[0].isdigit():
            out += re.sub(r"\D", "", w)
            i += 1
        elif w in REPEATS and i + 1 < len(words) and words[i + 1] in UNITS:
            out += str(UNITS[words[i + 1]]) * REPEATS[w]
            i += 2
        elif w in UNITS and i + 1 < len(words) and words[i + 1] == "hundred":
            # "four hundred fifty six" -> 456, "four hundred and one" -> 401, "four hundred" -> 400
            j = i + 3 if i + 2 < len(words) and words[i + 2] == "and" else i + 2
            rest, k = small(j)
            if rest is None and j < len(words) and words[j] in UNITS and words[j] not in ("oh", "o"):
                rest, k = UNITS[words[j]], j + 1
            out += str(UNITS[w] * 100 + (rest or 0))
            i = k if rest is not None else i + 2
        elif w in UNITS:
            out += str(UNITS[w])
            i += 1
        else:
            value, k = small(i)
            if value is not None:
                out += str(value)
                i = k
            elif w == "thousand" and out:
                out += "000"
                i += 1
            else:
                i += 1  # "and", "a"
    return out


def parse_number(text: str) -> float | None:
    """A quantity: "twenty five" -> 25, "one hundred and fifty" -> 150, "3.5" -> 3.5, "1,200" -> 1200."""
    words = [t.text for t in tokens(text)]
    if not words:
        return None
    if len(words) == 1 and words[0][0].isdigit():
        w = words[0]
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", w):
            w = w.replace(",", "")
        return float(w.replace(",", "."))
    total = current = 0
    seen = False
    for w in words:
        if w in ("and", "a") and seen or w == "a":
            continue
        if w in UNITS:
            current += UNITS[w]
        elif w in TEENS:
            current += TEENS[w]
        elif w in TENS:
            current += TENS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        elif w in SCALES:
            total += (current or 1) * SCALES[w]
            current = 0
        elif w[0].isdigit():
            current += float(w.replace(",", ""))
        else:
            return None
        seen = True
    return float(total + current) if seen else None


@dataclass(frozen=True)
class NumberRun:
    start: int
    end: int
    words: tuple[str, ...]

    @property
    def digits(self) -> str:
        return _digits(list(self.words))

    @property
    def value(self) -> float | None:
        return parse_number(" ".join(self.words))


# words Whisper writes for a digit it heard in a run of digits ("to zero to five five five")
HOMOPHONES = {"to": "two", "too": "two", "for": "four", "fore": "four", "won": "one", "ate": "eight"}


def _read_homophones(toks: list[Token]) -> list[Token]:
    """A homophone is a digit inside a spoken digit string of four or more digits (order and
    phone numbers): "my number is to zero to five five five" reads 2 0 2 5 5 5, while "five
    to seven" and "two for five dollars" stay as they are."""
    def digit(t: Token) -> bool:
        return t.text in UNITS or (t.is_digits and len(t.text) == 1)
    out = list(toks)
    for _ in range(2):  # a homophone next to another ("to zero to") is read on the second pass
        for i, t in enumerate(out):
            if t.text in HOMOPHONES and ((i > 0 and digit(out[i - 1])) or (i + 1 < len(out) and digit(out[i + 1]))):
                trial = out[:i] + [Token(HOMOPHONES[t.text], t.start, t.end)] + out[i + 1:]
                lo = hi = i
                while lo > 0 and digit(trial[lo - 1]):
                    lo -= 1
                while hi + 1 < len(trial) and digit(trial[hi + 1]):
                    hi += 1
                if hi - lo + 1 >= 4:
                    out = trial
    return out


def number_runs(text: str) -> list[NumberRun]:
    """Maximal runs of number tokens ("four five six seven", "45 67", "1-2-3-4") with char spans.
    "oh"/"o" and "a"/"and" only count inside a run, never at its start."""
    toks = _read_homophones(tokens(text))
    runs, i = [], 0
    while i < len(toks):
        t = toks[i]
        if not t.is_number or t.text in ("o", "oh") or t.text in SCALES:
            i += 1
            continue
        j = i + 1
        while j < len(toks):
            gap = text[toks[j - 1].end:toks[j].start]
            if gap.strip(" ,-.") or len(gap) > 3:  # other characters between: the run ends
                break
            nxt = toks[j]
            if nxt.is_number or nxt.text in ("oh", "o"):
                j += 1
            elif nxt.text == "and" and j + 1 < len(toks) and toks[j + 1].is_number and toks[j - 1].text == "hundred":
                j += 1
            else:
                break
        run = toks[i:j]
        runs.append(NumberRun(run[0].start, run[-1].end, tuple(x.text for x in run)))
        i = j
    return runs
