"""Digit strings as the caller said them (issue 28).

Whisper base writes a spoken digit string as a number of its own making: "five eight two one
three" came out "58213A", "four four one two zero" as "414120" (plain faster-whisper:
"4-4-1-2-0"), "nine zero zero one seven" as "0017". With every token holding a digit
suppressed in the decode (asr.faster's `numerals`, WhisperX's `suppress_numerals`) Whisper
writes the digits as words, one by one as they were said, and `digits_as_said` joins them:
"four four one two zero" -> "44120". `prefer_words` tells when such a decode should replace
Whisper's own (asr.faster, numerals="check").

A run is three digits or more ("oh" as zero inside a run, "double five" as 55, "to" and
"for" as 2 and 4 between two digits of it, or first right after "number is", "order", "at"...),
separated by spaces, hyphens or commas; shorter runs stay words ("one more thing", "two or
three"). A phone number said in groups ("five five five, two one nine, eight eight four zero":
groups of two digits or more, set apart by commas) keeps its groups: "555-219-8840", the way
the NLU's phone pattern and Whisper's own numbers write it. Digits already written one by one
("4-4-1-2-0") join the same way; a number Whisper wrote whole ("414120") is left as it is.
"""
from __future__ import annotations

import re
from dataclasses import replace

__all__ = ["MIN_RUN", "as_said", "digit_runs", "digits_as_said", "prefer_words", "spell_digits"]

DIGIT_WORDS = {w: str(i) for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])}
ZERO_LETTERS = {"oh", "o"}  # zero, only next to another digit of the run
REPEATS = {"double": 2, "triple": 3}
# words Whisper writes for a digit it heard ("for for one to zero"): a digit between two digits
# of a run, and first in one only right after words that announce a number ("the order number
# is for five six seven", "orders for four one two zero"; "calling for one two three" keeps
# its "for"), and only before three digits said as digits
SOUNDS_LIKE = {"to": "2", "too": "2", "for": "4", "won": "1", "ate": "8"}
CUE = re.compile(r"(?:\b(?:order|orders|number|is|at|on)|'s)[\s,]*$", re.IGNORECASE)
MIN_RUN = 3  # digits a run needs to be joined

# an order number's first digit heard as its sound-alike and the rest written whole: "Where is my
# order for 567?" (festival:slt_hts, ked and flite on the phone line: "4 5 6 7"), only a
# three-digit rest that ends the sentence ("an order for 200 dollars" stays); "numbers" is Whisper's
# "number is" ("The order numbers for 567.": bench calls' espeak-ng and flite callers, every run)
_ALIKE_LEAD = re.compile(r"(\b(?:order|numbers?|is)[\s,]*|'s[\s,]*)\b(for|to|too|won|ate)[\s,?.-]*(\d{3})(?=[\s]*[?.!]?[\s]*$)",
                         re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z]+|\d")  # words, and lone digits ("4-4-1-2-0")
_INSIDE = re.compile(r"[\s,-]*")  # what may stand between two digits of one run
_TIGHT = re.compile(r"[\s-]*")  # ... between "oh" and the digit after it, when it starts a run


def digits_as_said(text: str) -> str:
    """Runs of spoken single digits in `text` joined into digit strings."""
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    # drop digits glued into bigger numbers or words ("414120", "A4")
    tokens = [(a, b, t) for a, b, t in tokens
              if not (t.isdigit() and ((a and text[a - 1].isalnum()) or (b < len(text) and text[b].isalnum())))]
    out, pos, i = [], 0, 0
    while i < len(tokens):
        run = _run(text, tokens, i)
        if run is None and tokens[i][2].lower() in SOUNDS_LIKE and CUE.search(text[:tokens[i][0]]):
            run = _run(text, tokens, i, lead=True)  # "is for five six seven"
            if run is not None and sum(c.isdigit() for c in "".join(
                    _digit(t) or "" for _, _, t in tokens[i:run[0]])) < MIN_RUN:
                run = None  # the sound-alikes lead at least three digits said as digits
        if run is None:
            i += 1
            continue
        j, groups = run
        if sum(len(g) for g in groups) >= MIN_RUN:
            a, b = tokens[i][0], tokens[j - 1][1]
            out += [text[pos:a], _join(groups)]
            pos = b
        i = j
    out.append(text[pos:])
    return _ALIKE_LEAD.sub(lambda m: m.group(1) + SOUNDS_LIKE[m.group(2).lower()] + m.group(3), "".join(out))


def as_said(r):
    """A recognizer's result (asr.base.Recognition) with the runs of spoken digits of its text
    and segments joined: every backend gives its text this way, so the stages need not."""
    if r is None or not r.text:
        return r
    return replace(r, text=digits_as_said(r.text), segments=[(a, b, digits_as_said(t)) for a, b, t in r.segments])


def _digit(word: str) -> str | None:
    return word if word.isdigit() else DIGIT_WORDS.get(word.lower())


def _digit_ahead(text: str, tokens: list, j: int) -> bool:
    """Whether sound-alikes from token j on ("for, for, one") lead to a digit of the same run."""
    while j + 1 < len(tokens) and _INSIDE.fullmatch(text[tokens[j][1]:tokens[j + 1][0]]):
        j += 1
        if _digit(tokens[j][2]) is not None:
            return True
        if tokens[j][2].lower() not in SOUNDS_LIKE:
            return False
    return False


def _run(text: str, tokens: list, i: int, lead: bool = False) -> tuple[int, list[str]] | None:
    """The run of digits starting at token i: (the token after it, its digits in groups as the
    commas set them apart), or None when none starts there. `lead`: it may start with
    sound-alikes ("is for five six seven")."""
    groups: list[str] = [""]
    j = i
    real = alike = 0  # digits said as digits, and sound-alikes taken for digits
    while j < len(tokens):
        a, _, word = tokens[j]
        if j > i:
            gap = text[tokens[j - 1][1]:a]
            if not _INSIDE.fullmatch(gap):
                break
            if "," in gap and groups[-1]:
                groups.append("")
        low = word.lower()
        d = _digit(word)
        if d is not None:
            groups[-1] += d
            real += 1
            j += 1
            continue
        if low in REPEATS and j + 1 < len(tokens):  # "double five"
            nxt = tokens[j + 1]
            d = _digit(nxt[2])
            if d is not None and _TIGHT.fullmatch(text[tokens[j][1]:nxt[0]]):
                groups[-1] += d * REPEATS[low]
                j += 2
                continue
        if low in SOUNDS_LIKE and (any(groups) or lead) and _digit_ahead(text, tokens, j):
            groups[-1] += SOUNDS_LIKE[low]
            alike += 1
            j += 1
            continue
        if low in ZERO_LETTERS:
            after = j + 1 < len(tokens) and _digit(tokens[j + 1][2]) is not None \
                and _TIGHT.fullmatch(text[tokens[j][1]:tokens[j + 1][0]])
            if groups[-1] or (j > i and any(groups)) or after:
                groups[-1] += "0"
                j += 1
                continue
        break
    groups = [g for g in groups if g]
    if alike and real < MIN_RUN:
        return None  # "open from nine to five", "two to three days": a range, not a number
    return (j, groups) if j > i and groups else None


def _join(groups: list[str]) -> str:
    """Groups of two digits or more ("555, 219, 8840") keep their grouping, with hyphens;
    anything else is one string."""
    if len(groups) > 1 and all(len(g) >= 2 for g in groups):
        return "-".join(groups)
    return "".join(groups)


def spell_digits(text: str) -> str:
    """Digits as words, one by one ("44120" -> "four four one two zero"): a decoder that may
    not write digits is given its earlier text this way."""
    names = {v: k for k, v in DIGIT_WORDS.items()}
    return re.sub(r"\d+", lambda m: " ".join(names[c] for c in m.group()), text)


def digit_runs(text: str) -> list[str]:
    """The digit strings of three digits or more in `text`, after `digits_as_said`, their
    groups joined ("617-402-9918", "2 0 5 9 1", "6-0-427": one string each)."""
    found = (re.sub(r"\D", "", m) for m in re.findall(r"\d+(?:[-. ]\d+)*", digits_as_said(text)))
    return [d for d in found if len(d) >= MIN_RUN]


def prefer_words(with_digits: str, with_words: str) -> bool:
    """Whether a decode with numerals suppressed (`with_words`) should replace Whisper's own
    (`with_digits`): both hold the same number of digit strings, and each of the second is the
    first's, or the first's with one digit more or less. Whisper base writing its own numbers
    adds or drops a digit ("four four one two zero" -> "414120", "nine zero zero one seven" ->
    "0017"); with numerals suppressed it writes each digit said, but on a bad line it garbles the
    words around them: a decode that differs more is not the same reading of the line."""
    first, second = digit_runs(with_digits), digit_runs(with_words)
    return bool(first) and len(first) == len(second) and first != second \
        and all(a == b or _one_apart(a, b) for a, b in zip(first, second))


def _one_apart(a: str, b: str) -> bool:
    """b is a with one digit added or dropped."""
    long, short = (a, b) if len(a) > len(b) else (b, a)
    return len(long) == len(short) + 1 and any(long[:i] + long[i + 1:] == short for i in range(len(long)))
