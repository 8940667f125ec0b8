"""Spoken numbers, entity rules, the training data and its validator, the embedding baseline."""
import datetime as dt
import json

import pytest

from nlu.domain import load_domain
from nlu.entities import EntityExtractor
from nlu.numbers import number_runs, parse_number, words_to_digits
from nlu.schema import ENTITY_TYPES, INTENTS
from nlu.validate import load_examples, validate_file
from nlu.validate import main as validate_main
from tests.conftest import ROOT

DATA = ROOT / "nlu" / "data"
TODAY = dt.date(2026, 11, 24)  # a Tuesday


@pytest.mark.parametrize("spoken, digits", [
    ("four five six seven", "4567"), ("forty five sixty seven", "4567"), ("45 67", "4567"), ("4,567", "4567"),
    ("twelve thirty four", "1234"), ("double five one two", "5512"), ("one two three oh", "1230"),
    ("four hundred fifty six", "456"), ("nine oh one two", "9012"), ("1-2-3-4", "1234"),
])
def test_words_to_digits(spoken, digits):
    assert words_to_digits(spoken) == digits


@pytest.mark.parametrize("spoken, value", [
    ("twenty five", 25), ("one hundred and fifty", 150), ("3.5", 3.5), ("1,200", 1200), ("a hundred", 100),
    ("two thousand three hundred", 2300), ("ninety nine", 99), ("banana", None),
])
def test_parse_number(spoken, value):
    assert parse_number(spoken) == value


@pytest.mark.parametrize("heard, digits", [
    # Whisper writes homophones for digits it hears inside a spoken number
    ("my phone number is to zero to five five five zero one four three", ["2025550143"]),
    ("order for five six seven", ["4567"]),
    ("it's nine won two three", ["9123"]),
    # ... but not elsewhere: a short run is a time or a price, "to"/"for" stay words
    ("I need it by five to seven", ["5", "7"]),
    ("give me two for five dollars", ["2", "5"]),
    ("I want to go for five minutes", ["5"]),
])
def test_digit_homophones_inside_long_numbers(heard, digits):
    assert [r.digits for r in number_runs(heard)] == digits


def test_number_runs_keep_offsets():
    text = "order four five six seven, it cost 25 dollars"
    runs = number_runs(text)
    assert [text[r.start:r.end] for r in runs] == ["four five six seven", "25"]


@pytest.fixture(scope="module")
def ex():
    return EntityExtractor(today=TODAY)


@pytest.mark.parametrize("text, expected", [
    ("The order number is 4567.", [("order_number", "4567", "4567")]),
    ("um it's four five six seven", [("order_number", "4567", "four five six seven")]),
    ("Please cancel order number 1-2-3-4.", [("order_number", "1234", "1-2-3-4")]),
    ("order #123456 please", [("order_number", "123456", "#123456")]),
    ("i was charged $25.50 twice", [("amount", "25.50 USD", "$25.50")]),
    ("it cost twenty five dollars", [("amount", "25.00 USD", "twenty five dollars")]),
    ("twenty dollars and fifty cents", [("amount", "20.50 USD", "twenty dollars and fifty cents")]),
    ("ten euros", [("amount", "10.00 EUR", "ten euros")]),
    ("5 pounds", [("amount", "5.00 GBP", "5 pounds")]),
    ("it broke yesterday", [("date", "2026-11-23", "yesterday")]),
    ("can it come the day after tomorrow", [("date", "2026-11-26", "the day after tomorrow")]),
    ("i ordered it this morning", [("date", "2026-11-24", "this morning")]),
    ("since last friday", [("date", "2026-11-20", "last friday")]),
    ("on the 5th of june", [("date", "2026-06-05", "the 5th of june")]),
    ("I bought it on 11/02", [("date", "2026-11-02", "11/02")]),
    ("my email is john dot smith at gmail dot com", [("email", "john.smith@gmail.com", "john dot smith at gmail dot com")]),
    ("send it to Jane.Doe@example.com", [("email", "jane.doe@example.com", "Jane.Doe@example.com")]),
    ("call me at 555-123-4567", [("phone_number", "5551234567", "555-123-4567")]),
    ("my phone number is five five five one two three four five six seven",
     [("phone_number", "5551234567", "five five five one two three four five six seven")]),
    ("hi this is sarah jones", [("person_name", "Sarah Jones", "sarah jones")]),
    ("my name is Bob", [("person_name", "Bob", "Bob")]),
    ("my headphones and the Wi-Fi router", [("product", "wireless headphones", "headphones"), ("product", "wifi router", "Wi-Fi router")]),
])
def test_entities(ex, text, expected):
    got = ex.extract(text)
    assert [(e.type, e.value, e.text) for e in got] == expected
    for e in got:
        assert text[e.start:e.end] == e.text


@pytest.mark.parametrize("text", ["this is ridiculous", "i'm so annoyed", "in 2024 i ordered", "it costs 4500 dollars",
                                  "call me at five five five one two three four five six seven"])
def test_no_false_names_years_or_orders(ex, text):
    types = [e.type for e in ex.extract(text)]
    assert "person_name" not in types and "order_number" not in types


def test_normalize_for_tagged_spans(ex):
    assert ex.normalize("order_number", "forty five sixty seven") == "4567"
    assert ex.normalize("amount", "twenty five dollars") == "25.00 USD"
    assert ex.normalize("product", "Earbuds") == "wireless headphones"
    assert ex.normalize("person_name", "sarah jones") == "Sarah Jones"
    assert ex.normalize("date", "yesterday") == "2026-11-23"


def test_shipped_data_is_valid_and_big_enough():
    train, test = load_examples(DATA / "train.jsonl"), load_examples(DATA / "test.jsonl")
    for split, minimum in ((train, 60), (test, 15)):
        counts = {i: sum(e["intent"] == i for e in split) for i in INTENTS}
        assert min(counts.values()) >= minimum, counts
    assert not {e["text"].lower() for e in train} & {e["text"].lower() for e in test}
    ents = {t: sum(x["type"] == t for e in train for x in e["entities"]) for t in ENTITY_TYPES}
    assert min(ents.values()) >= 40, ents
    sentiments = {s: sum(e["sentiment"] == s for e in train) / len(train) for s in ("negative", "positive")}
    assert sentiments["negative"] >= 0.2 and sentiments["positive"] >= 0.1


def test_generator_is_deterministic(tmp_path):
    from nlu.data.generate import main
    main(tmp_path)
    assert (tmp_path / "train.jsonl").read_bytes() == (DATA / "train.jsonl").read_bytes()
    assert (tmp_path / "test.jsonl").read_bytes() == (DATA / "test.jsonl").read_bytes()


GOOD = {"text": "where is order 4567", "intent": "order_status", "sentiment": "neutral",
        "entities": [{"start": 15, "end": 19, "type": "order_number", "value": "4567"}]}


@pytest.mark.parametrize("line, message", [
    ("{not json", "invalid JSON"),
    (json.dumps({**GOOD, "intent": "chit_chat"}), "unknown intent 'chit_chat'"),
    (json.dumps({**GOOD, "entities": [{"start": 15, "end": 40, "type": "order_number", "value": "4567"}]}), "outside the text"),
    (json.dumps({**GOOD, "entities": [{"start": 14, "end": 19, "type": "order_number", "value": "4567"}]}), "whitespace"),
    (json.dumps({**GOOD, "entities": [{"start": 6, "end": 14, "type": "product", "value": "x"},
                                      {"start": 9, "end": 19, "type": "order_number", "value": "4567"}]}), "overlaps"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "sentiment"}), "missing key(s): sentiment"),
])
def test_validator_names_the_bad_line(tmp_path, line, message):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    errors = validate_file(path)
    assert errors and errors[0].startswith(f"{path}:2: ") and message in errors[0]
    with pytest.raises(ValueError, match=":2: "):
        load_examples(path)
    assert validate_main([str(path)]) == 1


@pytest.fixture(scope="module")
def baseline():
    from nlu.baseline import EmbeddingNLU
    return EmbeddingNLU.default()  # the test run's cache: trained once for every test that needs it


@pytest.mark.parametrize("text, intent, sentiment", [
    ("where is my order", "order_status", None), ("i want to speak to a real person", "human_agent", None),
    ("this is the worst service ever", "complaint", "negative"), ("thank you so much", "thanks", "positive"),
    ("do you take paypal", "payment_methods", None), ("how much does the kettle cost", "pricing", None),
])
def test_baseline_predicts(baseline, text, intent, sentiment):
    r = baseline.parse(text)
    assert r.intent == intent and 0 < r.confidence <= 1
    assert sentiment is None or r.sentiment == sentiment


def test_baseline_cache_roundtrip(baseline, tmp_path):
    from nlu.baseline import EmbeddingNLU
    baseline.save(tmp_path, "x")
    again = EmbeddingNLU.load(tmp_path)
    texts = ["cancel order 1234", "hello", "my kettle won't turn on"]
    assert [r.to_dict() for r in again.parse_batch(texts)] == [r.to_dict() for r in baseline.parse_batch(texts)]


def test_baseline_empty_text(baseline):
    r = baseline.parse("   ")
    assert (r.intent, r.confidence, r.sentiment) == ("out_of_scope", 0.0, "neutral")


@pytest.mark.parametrize("text, intent, value", [  # TODAY is a Tuesday
    ("are you open on sunday", "store_hours", "2026-11-29"),
    ("are you open sunday", None, "2026-11-29"),
    ("what time do you close on tuesday", "store_hours", "2026-11-24"),
    ("can it be delivered by friday", "order_status", "2026-11-27"),
    ("i was charged on monday", "billing_problem", "2026-11-23"),
    ("i ordered it on friday", "order_status", "2026-11-20"),
    ("it was supposed to arrive on friday", "order_status", "2026-11-20"),
    ("next monday", None, "2026-11-30"),
    ("last sunday", "store_hours", "2026-11-22"),
])
def test_relative_dates_point_the_way_the_turn_does(ex, text, intent, value):
    dates = [e.value for e in ex.extract(text, intent) if e.type == "date"]
    assert dates == [value]


def test_one_catalogue_the_domain_file(tmp_path):
    import yaml

    from nlu.domain import DEFAULT
    from nlu.stage import load_nlu
    assert EntityExtractor().products == load_domain().product_aliases()
    data = yaml.safe_load(DEFAULT.read_text())
    data["products"]["robot lawn mower"] = {"aliases": ["mower", "lawnmower"], "price": 599.0, "features": "It mows."}
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump(data))
    text = "my mower stopped working"
    assert not [e for e in EntityExtractor().extract(text) if e.type == "product"]
    nlu = load_nlu("baseline", "cpu", str(path))  # the real baseline, with the operator's catalogue
    assert [(e.type, e.value, e.text) for e in nlu.parse(text).entities] == [("product", "robot lawn mower", "mower")]


def test_callers_split_is_hand_written_and_complete():
    from nlu.evaluate import load_callers
    callers = load_callers(DATA / "callers.tsv")
    assert len(callers) >= 300 and {e["intent"] for e in callers} == set(INTENTS)
    assert not {e["text"] for e in callers} & {e["text"] for e in load_examples(DATA / "test.jsonl")}


def test_callers_split_names_a_bad_line(tmp_path):
    from nlu.evaluate import load_callers
    path = tmp_path / "c.tsv"
    path.write_text("# comment\nhello\tgreet\tneutral\nbye\tfarewell\tneutral\n")
    with pytest.raises(ValueError, match=r"c.tsv:3: want text<TAB>intent<TAB>sentiment"):
        load_callers(path)


def test_workers_saving_the_baseline_at_once_share_one_cache(tmp_path):
    """`voicebot analyze --workers 2` on a fresh machine: both workers train the default
    baseline and save it into the same cache at the same moment; neither may die of the other's
    files (a shared temporary name once killed a worker mid-rename)."""
    import threading

    from nlu.baseline import EmbeddingNLU
    from nlu.validate import load_examples
    examples = load_examples(ROOT / "nlu" / "data" / "train.jsonl")[::40]
    model = EmbeddingNLU.train(examples)
    errors = []

    def work():
        try:
            for _ in range(30):
                model.save(tmp_path, "digest")
        except Exception as e:  # noqa: BLE001 (the test reports it)
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classifiers.joblib", "meta.json"]
    assert EmbeddingNLU.load(tmp_path).intent_clf.classes_.tolist() == model.intent_clf.classes_.tolist()
