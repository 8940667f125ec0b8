"""Echoed context: a decode that carries an earlier turn's words back into a new turn.

Whisper given the turns before as context (live: the previous turn as an already decoded
segment; recorded calls: the turns of one window decoded together, after the text before it)
sometimes writes an earlier turn again after the new one: "Do you accept paper? I would like to
return the headphones I bought." for a caller who only asked about PayPal (issue 28). The ASR
stages look for such a run in each turn and decode the turn again alone; only when that decode
says the same run too did the caller say it twice.
"""
from __future__ import annotations

import re
from typing import Iterable

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped ("I'd" stays one word)."""
    return _WORD.findall(text.lower())


def echo(text: str, earlier: Iterable[str]) -> str | None:
    """The longest run of words that `text` shares with one of the `earlier` turns' texts, when
    it is at least min(4, that turn's length) words long and two at the least (a lone "yes" or
    "thanks" comes back on its own often enough); None when there is none."""
    return " ".join(shared_run(words(text), [words(prev) for prev in earlier])) or None


def shared_run(heard: list[str], earlier: Iterable[list[str]], keep=None) -> list[str]:
    """`echo` on words: the longest run of `heard` that one of the `earlier` word lists holds,
    at least min(4, its length) words and two at the least, and that `keep(run)` accepts when
    given (the scorer keeps a run the reference turn lacks); [] when there is none."""
    best: list[str] = []
    for before in earlier:
        need = max(2, min(4, len(before)))
        for a in range(len(heard)):
            for b in range(len(before)):
                k = 0
                while a + k < len(heard) and b + k < len(before) and heard[a + k] == before[b + k]:
                    k += 1
                if k >= need and k > len(best) and (keep is None or keep(heard[a:a + k])):
                    best = heard[a:a + k]
    return best
