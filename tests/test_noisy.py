"""Noisy training copies (nlu/noisy.py): slips a recognizer makes, from the text alone."""
import random
from pathlib import Path

from nlu.noisy import noisy, noisy_copies, sound_slip
from nlu.validate import load_examples

DATA = Path(__file__).resolve().parents[1] / "nlu" / "data"


def test_a_sound_slip_swaps_a_like_sound():
    rng = random.Random(1)
    slips = {sound_slip("thanks", rng) for _ in range(40)}
    assert "thanks" not in slips and {"sanks", "fanks", "danks"} & slips


def test_each_copy_keeps_the_intent_and_trains_nothing_else():
    examples = load_examples(DATA / "train.jsonl")[:300]
    copies = noisy_copies(examples, seed=13)
    assert len(copies) > 0.9 * len(examples)
    texts = {ex["text"] for ex in examples}
    assert sum(c["text"] in texts for c in copies) < 0.05 * len(copies)  # a slip may land on another line
    for c in copies:
        assert c["text"].strip() and c["sentiment"] is None and c["entities"] is None
    assert {c["intent"] for c in copies} == {ex["intent"] for ex in examples}
    assert noisy_copies(examples, seed=13) == copies  # the same data for the same seed


def test_most_words_survive():
    rng = random.Random(5)
    line = "i ordered a blender last week and it still has not arrived at my house"
    kept = [len(set(noisy(line, rng, ["parcel", "window"]).split()) & set(line.split())) for _ in range(200)]
    assert sum(kept) / len(kept) > 0.75 * len(set(line.split()))
