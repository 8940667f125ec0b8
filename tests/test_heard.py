"""NLU data as Whisper hears it (issue 28): voicebot.bench.heard and its use in nlu.train.
Real voices and a real Whisper; no mocks."""
from __future__ import annotations

import json

import pytest
import torch

from nlu.multitask import MultiTaskNLU
from nlu.train import TrainConfig, _ce, batches, load_heard, similarity, training_data
from nlu.validate import check_example, load_examples
from tests.conftest import ROOT
from voicebot.bench import heard

DATA = ROOT / "nlu" / "data"


def test_entity_spans_are_found_again_in_the_heard_words():
    typed = "cancel order four five six seven for john smith"
    ents = [{"start": 13, "end": 32, "type": "order_number", "value": "4567"},
            {"start": 37, "end": 47, "type": "person_name", "value": "John Smith"}]
    # by the value where Whisper wrote digits, by the words (case aside) where it kept them
    got = heard.relocate(ents, typed, "Cancel order 4567 for John Smith.")
    assert [(e["start"], e["end"], e["type"], e["value"]) for e in got] == [
        (13, 17, "order_number", "4567"), (22, 32, "person_name", "John Smith")]
    assert heard.relocate(ents, typed, "Cancel order 4567 for Joan Smit.") is None  # a name misheard
    assert heard.relocate(ents[:1], typed, "Cancel order 45678.") is None  # only whole words
    assert heard.relocate([], typed, "anything") == []


def test_test_lines_get_other_voices_than_training_lines():
    assert not any(v.startswith(heard.RESERVED) for v in heard.VOICES)  # kept for a final untouched check
    assert heard.voice_for(0, "train") != heard.voice_for(0, "test")
    said = {"yes please": heard.voice_for(5, "test")}
    assert heard.voice_for(5, "test", "Yes  please", said) != said["yes please"]
    used = heard.voices_used(DATA / "train.jsonl", every=2)
    first = load_examples(DATA / "train.jsonl")[0]["text"]
    assert used[" ".join(first.lower().split())] == heard.VOICES[0]


def test_two_lines_heard_by_whisper_keep_their_gold_labels(tmp_path):
    examples = load_examples(DATA / "train.jsonl")
    lines = [next(ex for ex in examples if ex["intent"] == "payment_methods" and not ex["entities"]),
             next(ex for ex in examples if any(e["type"] == "person_name" for e in ex["entities"]))]
    src = tmp_path / "two.jsonl"
    src.write_text("".join(json.dumps(ex) + "\n" for ex in lines))
    out = tmp_path / "heard_two.jsonl"
    result = heard.generate(src, out, "train", model="tiny.en", progress=False)
    assert result["lines"] == 2 and result["records"] + result["unheard"] == 2
    assert not (tmp_path / "heard_two.jsonl.partial").exists()  # finished: the partial file is gone
    records = load_heard(out)
    assert len(records) == result["records"] >= 1
    by_typed = {ex["text"]: ex for ex in lines}
    for r in records:
        gold = by_typed[r["typed"]]
        assert r["text"].strip() and r["voice"] in heard.VOICES and r["line"] in (1, 2)
        assert (r["intent"], r["sentiment"]) == (gold["intent"], gold["sentiment"])
        assert not check_example({k: r[k] for k in ("text", "intent", "sentiment")} | {"entities": r["entities"] or []})
        for e in r["entities"] or []:  # re-found spans cover the entity's words in the heard text
            assert r["text"][e["start"]:e["end"]].lower() in (gold["text"].lower(), e["value"].lower()) or \
                r["text"][e["start"]:e["end"]].lower() in gold["text"].lower()
    # a second run finds the file's lines done in a partial file and hears nothing again
    (tmp_path / "heard_two.jsonl.partial").write_text("".join(json.dumps(r) + "\n" for r in records))
    if result["unheard"] == 0:
        again = heard.generate(src, out, "train", model="tiny.en", progress=False)
        assert again["heard_now"] == 0 and load_heard(out) == records


def test_training_reads_heard_records_beside_the_typed_ones(tmp_path):
    typed = load_examples(DATA / "train.jsonl")[:3]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(ex) + "\n" for ex in typed))
    base = {"voice": "flite:slt", "noise": "clean"}
    rows = [{**typed[0], "typed": typed[0]["text"], "text": typed[0]["text"].upper() + ".", "line": 1, **base},
            {**typed[1], "typed": typed[1]["text"], "entities": None, "line": 2, **base},  # spans lost
            {**typed[2], "typed": typed[2]["text"], "text": "the air comes from the ground in the sea",
             "entities": [], "line": 3, **base}]  # nothing like what was said: not trained on
    (tmp_path / "heard_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples, info = training_data(tmp_path, heard_sentiment=False)
    assert len(examples) == 5 and info["heard"] == {**info["heard"], "examples": 2, "too_unlike": 1, "intent_only": 1}
    assert similarity("Cancel my order.", "cancel my order") == 1.0
    assert len(training_data(tmp_path, heard=False)[0]) == 3 and len(training_data(tmp_path, limit=1)[0]) == 2
    assert not TrainConfig().heard  # off unless the config turns it on (it cost on unheard voices)
    # heard records teach intents, the tags of spans found again, and sentiment unless told not to
    nlu = MultiTaskNLU.new("cpu")
    (_, yi, ys, yt), = batches(nlu, examples[3:5], 8)
    assert (yt[1] == -100).all() and (yt[0] != -100).any()
    assert yi.tolist() == [nlu.intents.index(ex["intent"]) for ex in examples[3:5]] and ys.tolist() == [-100, -100]
    assert TrainConfig().heard_sentiment  # the gold labels kept, by default
    with_sentiment = training_data(tmp_path)[0][3:5]
    assert [ex["sentiment"] for ex in with_sentiment] == [typed[0]["sentiment"], typed[1]["sentiment"]]
    # a batch with nothing to learn for a task adds 0 to the loss, not NaN
    inputs = next(batches(nlu, examples[3:5], 8))[0]
    _, ls, _ = nlu.model(inputs["input_ids"], inputs["attention_mask"])
    assert _ce(torch.nn.CrossEntropyLoss(ignore_index=-100), ls, ys).item() == 0.0


def test_bad_heard_records_are_named(tmp_path):
    path = tmp_path / "heard_train.jsonl"
    path.write_text(json.dumps({"text": "hi", "intent": "nope", "sentiment": "neutral", "entities": [],
                                "typed": "hi", "voice": "flite:slt", "noise": "clean", "line": 1}) + "\n"
                    + json.dumps({"text": "hi", "intent": "greet", "sentiment": "neutral", "entities": []}) + "\n")
    with pytest.raises(ValueError, match=r"heard_train.jsonl:1: unknown intent(.|\n)*:2: a heard record needs"):
        load_heard(path)
