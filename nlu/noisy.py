"""Training lines as a recognizer might mishear them, made from the text alone.

Heard lines (nlu/data/heard_train.jsonl) taught the classifier the slips of the voices they were
spoken in and lost on others (docs/benchmarks.md, "Misheard words understood"). These slips
belong to no voice: a sound swapped at a word's start or inside it ("thanks" -> "sanks",
"pay" -> "bay"), a word lost, two run together or one cut in two, a word from elsewhere in
its place. A noisy copy trains the intent only: its sentiment and entity spans are not kept.
"""
from __future__ import annotations

import random
import re

# sounds Whisper confuses on a phone line, each way round
SWAPS = [("th", "s"), ("th", "f"), ("th", "d"), ("b", "p"), ("d", "t"), ("g", "k"), ("v", "f"), ("s", "z"),
         ("m", "n"), ("r", "l"), ("w", "v"), ("ch", "sh"), ("j", "ch"), ("ee", "i"), ("a", "e"), ("o", "u"),
         ("er", "a"), ("ing", "in"), ("c", "k"), ("ph", "f")]
PAIRS = SWAPS + [(b, a) for a, b in SWAPS]


def sound_slip(word: str, rng: random.Random) -> str:
    """One sound of `word` swapped for a like one, or a letter lost at its end."""
    options = [(a, b) for a, b in PAIRS if a in word]
    if options and rng.random() < 0.8:
        a, b = rng.choice(options)
        spots = [m.start() for m in re.finditer(re.escape(a), word)]
        i = rng.choice(spots)
        return word[:i] + b + word[i + len(a):]
    return word[:-1] if len(word) > 3 else word


def noisy(text: str, rng: random.Random, vocabulary: list[str], rate: float = 0.15) -> str:
    """`text` with about `rate` of its words slipped (at least one word is picked; a slip can
    leave a short word as it was)."""
    words = text.split()
    if not words:
        return text
    picked = {i for i in range(len(words)) if rng.random() < rate} or {rng.randrange(len(words))}
    out: list[str] = []
    for i, w in enumerate(words):
        if i not in picked:
            out.append(w)
            continue
        r = rng.random()
        if r < 0.45:
            out.append(sound_slip(w, rng))
        elif r < 0.6 and len(words) > 2:
            continue  # lost
        elif r < 0.75:
            out.append(rng.choice(vocabulary))  # another word in its place
        elif r < 0.85 and out:
            out[-1] = out[-1] + w  # run together with the word before
        elif len(w) > 5:
            k = rng.randrange(2, len(w) - 2)
            out += [w[:k], w[k:]]  # cut in two
        else:
            out.append(sound_slip(w, rng))
    return " ".join(out) or text


def noisy_copies(examples: list[dict], seed: int, rate: float = 0.15) -> list[dict]:
    """One noisy copy of each example: intent kept, sentiment and entities not trained on."""
    rng = random.Random(seed)
    vocabulary = sorted({w for ex in examples for w in ex["text"].split() if w.isalpha()})
    copies = []
    for ex in examples:
        text = noisy(ex["text"], rng, vocabulary, rate)
        if text != ex["text"]:
            copies.append({"text": text, "intent": ex["intent"], "sentiment": None, "entities": None})
    return copies
