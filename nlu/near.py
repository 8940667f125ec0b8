"""Near misses: a catalogue name or a weekday as the recognizer misheard it.

Whisper base writes a word it does not expect as the nearest words it knows: "vacuum cleaner"
as "Macume Cleaner", "wifi router" as "wife I router", "router" as "Ritter" (issue 28). The
entity rules (nlu.entities) map such a span back to the catalogue's name before it becomes an
entity, in calls and in archives, strictly enough that no line of the training and test data
and no recognized turn of the test calls maps falsely (tests/test_entities.py).
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import pairwise

WEEKDAYS = {d: i for i, d in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])}


# Whisper base writes a word it does not expect as the nearest words it knows: "vacuum cleaner"
# as "Macume Cleaner", "wifi router" as "wife I router", "router" as "Ritter". A span of heard
# words maps to a catalogue name when its letters are close (edit similarity) AND it sounds
# alike (the consonant key below), and it is not ordinary English standing on its own: a name
# of two words needs one of its words heard exactly ("cleaner"), one of one word the same
# sound key, a similarity of at least 0.65 and a heard word that is not a common word.
def _words(text: str) -> set[str]:
    return set(text.split())


NEAR_MULTI = 0.8  # letters of a span against a name of two or more words
NEAR_KEY = 0.75  # their sound keys
NEAR_SINGLE = 0.65  # a one-word name ("router"): and the same sound key
NEAR_SPAN = 0.7  # a span the tagger already calls a product (normalize): no exact word needed
# ordinary English words a one-word name's sound key shares (those of a 20,000-word English vocabulary
# that map, less "ritter" and "rudder": Whisper's "router"), never a product
COMMON = _words("""writer writers reader readers rider riders rather rotor order orders outer water later letter
litter ladder leader latter lighter better butter bitter waiter waters tutor tablets table tables
cabinet leaflet watched watching washer wished watches which catch kettles cattle little title total
tattle speakers spoke spoken sticker stickers chargers charged charges church larger longer
ranger danger manger merger notes noted needed nodded vacuumed hoovered moderate modest models model
model's modern medium madam however witch rotary""")
STOP = _words("""a an the and or but so to of in on at for with my your our their his her its it is was be i
me we you they he she this that there here not no yes um uh like just please thanks thank""")


@lru_cache(maxsize=4096)
def sound_key(word: str) -> str:
    """A small metaphone-like key: consonant sounds, voiced and unvoiced alike, vowels dropped
    after the first letter ("vacuum" and "macume" -> FKM and MKM, "router" and "ritter" -> RTR)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return ""
    for a, b in (("ph", "f"), ("ck", "k"), ("sch", "sk"), ("sh", "s"), ("ch", "k"), ("th", "t"), ("gh", "g"),
                 ("qu", "k"), ("wh", "w"), ("x", "ks")):
        w = w.replace(a, b)
    w = re.sub(r"c(?=[eiy])", "s", w)
    w = w.translate(str.maketrans("cqvzbdg", "kkfspt" + "k"))
    head, rest = w[0], re.sub(r"[aeiouyhw]", "", w[1:])
    head = "A" if head in "aeiou" else head.upper()
    out = head
    for ch in rest.upper():
        if ch != out[-1]:
            out += ch
    return out


def similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


class NearMatcher:
    """Near misses of catalogue names (lowercase name -> canonical value) in lowercase text."""

    def __init__(self, names: dict[str, str]):
        self.terms = []
        for name, canon in names.items():
            words = re.findall(r"[a-z]+", name.lower())
            if words:
                joined = "".join(words)
                self.terms.append((words, joined, sound_key(joined), canon))
        self.known = {w for words, *_ in self.terms for w in words}
        self.exact = {joined for _, joined, _, _ in self.terms}
        self.by_key: dict[str, list] = {}  # one-word names by sound key; longer ones by first and last word
        self.by_end: dict[str, list] = {}
        for term in self.terms:
            if len(term[0]) == 1:
                self.by_key.setdefault(term[2], []).append(term)
            else:
                for w in {term[0][0], term[0][-1]}:
                    self.by_end.setdefault(w, []).append(term)

    def _score(self, heard: list[str], term) -> float:
        words, joined, key, _ = term
        seen = "".join(heard)
        if seen == joined:
            return 0.0  # the exact name: found by the catalogue's pattern
        if len(words) == 1:
            if len(heard) == 1:
                w = heard[0]
                if (len(joined) < 5 or len(w) < 4 or abs(len(w) - len(joined)) > 3 or w in COMMON or w in STOP
                        or w in self.known or sound_key(w) != key):
                    return 0.0
                score = similar(w, joined)
                return score if score >= NEAR_SINGLE else 0.0
            return 0.0
        if heard[0] != words[0] and heard[-1] != words[-1]:
            return 0.0  # one of its words heard right: "cleaner" of "Macume Cleaner"
        if heard[0] in STOP or heard[-1] in STOP:
            return 0.0
        if any("".join(heard[i:j]) in self.exact for i in range(len(heard)) for j in range(i + 1, len(heard) + 1)):
            return 0.0  # holds a name heard right ("air fryer more", "wife I router"): that one counts
        score = similar(seen, joined)
        if score < NEAR_MULTI or similar(sound_key(seen), key) < NEAR_KEY:
            return 0.0
        return score

    def find(self, low: str):
        """(start, end, value) of the near misses in `low`, best first where they overlap."""
        tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[a-z]+", low)]
        cands = []
        for i in range(len(tokens)):
            terms = {id(t): t for t in self.by_key.get(sound_key(tokens[i][2]), [])}
            for j in range(i, min(i + 4, len(tokens))):
                terms.update((id(t), t) for t in self.by_end.get(tokens[j][2], []))
            for term in terms.values():
                n = len(term[0])
                for k in ([1] if n == 1 else [n, n + 1]):
                    if i + k > len(tokens):
                        continue
                    window = tokens[i:i + k]
                    if any(re.search(r"[^a-z\s'-]", low[a[1]:b[0]]) for a, b in pairwise(window)):
                        continue  # not across punctuation
                    score = self._score([t[2] for t in window], term)
                    if score:
                        cands.append((score, window[0][0], window[-1][1], term[3]))
        taken: list[tuple[int, int, str]] = []
        for score, start, end, canon in sorted(cands, key=lambda c: (-c[0], c[1])):
            if not any(start < e and s < end for s, e, _ in taken):
                taken.append((start, end, canon))
        return sorted(taken)

    def value(self, words: str) -> str | None:
        """The catalogue's value of a span already taken for a product, when it is a near miss."""
        heard = re.findall(r"[a-z]+", words.lower())
        if not heard:
            return None
        best, value = 0.0, None
        seen = "".join(heard)
        for term in self.terms:
            score = self._score(heard, term) if len(heard) <= len(term[0]) + 1 else 0.0
            if not score and len(seen) >= 5:
                s = similar(seen, term[1])
                if s >= NEAR_SPAN and similar(sound_key(seen), term[2]) >= NEAR_KEY and seen not in COMMON:
                    score = s
            if score > best:
                best, value = score, term[3]
        return value


WEEKDAY_KEYS = {d: sound_key(d) for d in WEEKDAYS}
NOT_WEEKDAYS = {"today", "yesterday", "someday", "birthday", "holiday", "payday", "everyday", "midday", "weekday",
                "doomsday", "heyday", "mayday", "noonday", "workday", "days", "day"}


def near_weekdays(low: str):
    """(start, end, weekday) of weekdays heard in pieces ("satur day") or nearly ("wensday")."""
    for m in re.finditer(r"\b([a-z]+)(\s+|-)?(day|days)\b", low):
        word = (m.group(1) + m.group(3)).removesuffix("s") if m.group(3) == "days" else m.group(1) + m.group(3)
        if m.group(0) in WEEKDAYS or word in NOT_WEEKDAYS or (m.group(2) is None and word in WEEKDAYS):
            continue
        if m.group(2):  # in two pieces: only as the weekday's own ("satur day"), never "sunny day"
            if word in WEEKDAYS and m.group(3) == "day":
                yield m.start(), m.end(), word
            continue
        best = max(WEEKDAYS, key=lambda d: similar(word, d))
        if similar(word, best) >= 0.8 and similar(sound_key(word), WEEKDAY_KEYS[best]) >= 0.75:
            yield m.start(), m.end(), best
