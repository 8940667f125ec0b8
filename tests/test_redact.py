"""Redaction of personal data in transcripts, on the labelled sets in nlu/data."""
from pathlib import Path

import pytest

from nlu.redact import find, luhn, redact
from nlu.redact_eval import load, parse, score

DATA = Path(__file__).resolve().parents[1] / "nlu" / "data"


@pytest.mark.parametrize("name", ["redaction_eval.txt", "redaction_holdout.txt"])
def test_cards_emails_and_phones_are_hidden_on_the_labelled_sets(name):
    res = score(load(DATA / name))
    assert res["utterances"] >= 60
    for kind in ("card", "email", "phone"):
        assert res["kinds"][kind]["recall"] >= 0.98, (kind, res["misses"])
    assert res["overall"]["recall"] >= 0.95, res["misses"]
    assert res["overall"]["precision"] >= 0.95, res["false_alarms"]


def test_the_labelled_set_is_big_enough_and_holds_false_friends():
    items = load(DATA / "redaction_eval.txt")
    assert len(items) >= 200
    assert sum(1 for _, spans in items if not spans) >= 50  # order numbers, prices, dates that must stay


def test_a_card_read_aloud_is_hidden_and_the_order_number_stays():
    text = "order four four one two zero, and my card is four two four two four two four two four two four two four two four two"
    assert redact(text) == "order four four one two zero, and my card is [CARD]"
    assert redact("the security code is one two three") == "the security code is [CVV]"
    assert redact("my email is john dot smith at gmail dot com") == "my email is [EMAIL]"
    assert redact("my order number is 48213 and it cost $25") == "my order number is 48213 and it cost $25"


def test_luhn_and_markup():
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert parse("card {CARD|4111} ok") == ("card 4111 ok", [("card", 5, 9)])
    with pytest.raises(ValueError, match="unknown kind"):
        parse("{SECRET|x}")
    assert [s.kind for s in find("call me at 555-123-4567 or mail a@b.com")] == ["phone", "email"]


def test_a_stored_turn_keeps_what_the_dialogue_needs():
    from nlu.redact import redact_turn
    turn = {"text": "my email is ann at mail dot com and my order is 48213", "reply": "I have ann@mail.com, thanks.",
            "entities": [{"type": "email", "value": "ann@mail.com"}, {"type": "order_number", "value": "48213"}],
            "reply_cut": {"heard_s": 1.0, "heard_text": "I have ann@mail.com"}}
    out = redact_turn(turn)
    assert out["text"] == "my email is [EMAIL] and my order is 48213"
    assert out["reply"] == "I have [EMAIL], thanks."
    assert out["entities"] == [{"type": "email", "value": "[EMAIL]"}, {"type": "order_number", "value": "48213"}]
    assert out["reply_cut"]["heard_text"] == "I have [EMAIL]"
    assert turn["text"].startswith("my email is ann")  # the live dialogue's own copy is untouched
