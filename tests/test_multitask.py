"""The multi-task NLU model: training end to end, saving, loading, predicting, evaluating."""
import json

import pytest

from nlu.multitask import TAGS, MultiTaskNLU, bio_labels, decode_spans
from nlu.train import TrainConfig, split_validation, train
from nlu.validate import load_examples
from tests.conftest import ROOT

DATA = ROOT / "nlu" / "data"


def test_bio_labels_and_decoding_roundtrip():
    offsets = [(0, 0), (0, 6), (7, 12), (13, 17), (18, 22), (23, 26), (27, 32), (0, 0)]
    ents = [{"start": 13, "end": 32, "type": "order_number", "value": "4567"}]
    labels = bio_labels(offsets, ents)
    assert [TAGS[i] if i >= 0 else None for i in labels] == [
        None, "O", "O", "B-order_number", "I-order_number", "I-order_number", "I-order_number", None]
    assert decode_spans(offsets, [TAGS[i] if i >= 0 else "O" for i in labels]) == [(13, 32, "order_number")]


def test_validation_split_is_stratified():
    examples = load_examples(DATA / "train.jsonl")
    tr, val = split_validation(examples, 0.1, 1)
    assert len(tr) + len(val) == len(examples)
    assert {e["intent"] for e in val} == {e["intent"] for e in examples}


def test_train_config_rejects_unknown_keys(tmp_path):
    (tmp_path / "c.yml").write_text("epochs: 2\nlearning_rat: 1\n")
    with pytest.raises(ValueError, match="unknown key"):
        TrainConfig.load(tmp_path / "c.yml")
    assert TrainConfig.load(ROOT / "nlu" / "train_config.yml").loss_weights["intent"] == 1.0


def test_tiny_training_run_writes_a_loadable_model(tmp_path):
    examples = load_examples(DATA / "train.jsonl")[::25]  # 60 examples, 1 epoch
    result = train(examples, tmp_path / "m", TrainConfig(epochs=1, batch_size=16), device="cpu", progress=False)
    assert result["best_epoch"] == 1 and len(result["history"]) == 1
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["labels"]["tags"] == list(TAGS) and config["train_config"]["epochs"] == 1
    model = MultiTaskNLU.load(tmp_path / "m", device="cpu")
    r = model.parse("where is my order")
    assert (tmp_path / "m" / "model.onnx").stat().st_size > 1_000_000  # exported for serving
    assert r.intent in config["labels"]["intents"] and 0 <= r.confidence <= 1
    # trained beside the model dir, moved into place at the end: nothing else left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    (tmp_path / "m" / "stale").write_text("from the previous model")
    train(examples[:20], tmp_path / "m", TrainConfig(epochs=1, batch_size=16), device="cpu", progress=False)
    assert not (tmp_path / "m" / "stale").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The product's model, as `make` trains it for `make demo` and `make test` (six epochs,
    models/nlu, retrained when its data or config change): these tests check what users get.
    Without it (pytest run alone), a model trained here on the full split for four epochs."""
    from nlu.stage import DEFAULT_MODEL_DIR
    built = DEFAULT_MODEL_DIR / "config.json"
    sources = [DATA / "train.jsonl", DATA / "heard_train.jsonl", ROOT / "nlu" / "train_config.yml",
               ROOT / "nlu" / "noisy.py"]
    if built.is_file() and all(built.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return DEFAULT_MODEL_DIR
    out = tmp_path_factory.mktemp("nlu") / "model"
    train(load_examples(DATA / "train.jsonl"), out, TrainConfig(epochs=4), device="cpu", progress=False)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("text, intent, entities", [
    ("hi i want to check on order four five six seven", "order_status", [("order_number", "4567")]),
    ("please cancel my order it's 1234", "cancel_order", [("order_number", "1234")]),
    ("my earbuds stopped working", "technical_support", [("product", "wireless headphones")]),
    ("i was charged $49.99 twice", "billing_problem", [("amount", "49.99 USD")]),
    ("let me talk to a human", "human_agent", []),
    ("change my email to sarah.jones@gmail.com", "update_account", [("email", "sarah.jones@gmail.com")]),
    # short turns, and a request after a greeting, thanks or a complaint takes the request's intent
    ("operator", "human_agent", []),
    ("agent", "human_agent", []),
    ("billing", "billing_problem", []),
    ("yes please", "affirm", []),
    ("nope", "deny", []),
    ("hello good morning i was charged twice for the same thing", "billing_problem", []),
    ("thanks so much and where is my order four five six seven", "order_status", [("order_number", "4567")]),
    ("this is ridiculous i want to cancel order 1234", "cancel_order", [("order_number", "1234")]),
    # a product the catalogue lacks keeps the caller's words
    ("the shoes don't fit can i send them back", "return_refund", [("product", "shoes")]),
    ("the app crashes every time i open it", "technical_support", [("product", "app")]),
])
def test_trained_model_predicts(trained, text, intent, entities):
    r = MultiTaskNLU.load(trained, device="cpu").parse(text)
    assert r.intent == intent
    assert [(e.type, e.value) for e in r.entities] == entities
    for e in r.entities:
        assert text[e.start:e.end] == e.text


@pytest.mark.slow
def test_evaluation_report(trained, tmp_path):
    from nlu.evaluate import evaluate
    report = evaluate(trained, DATA, tmp_path, baseline=True, device="cpu")
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    assert (tmp_path / "confusion_matrix.png").stat().st_size > 10_000
    for model in ("multitask", "baseline"):
        r = saved[model]
        assert r["examples"] == len(load_examples(DATA / "test.jsonl"))
        assert 0 <= r["intent"]["accuracy"] <= 1 and 0 <= r["intent"]["macro_f1"] <= 1
        assert 0 <= r["sentiment"]["accuracy"] <= 1
        assert set(r["entities"]) >= {"precision", "recall", "f1", "per_type"}
        assert len(r["confusion"]) == 21 and r["latency_ms"]["p50"] > 0
    assert report["multitask"]["intent"]["accuracy"] > 0.85  # (four epochs already pass this)
    callers = saved["callers"]  # the hand-written split, beside the templates' one
    for model in ("multitask", "baseline"):
        assert callers[model]["examples"] >= 300 and "entities" not in callers[model]
        assert 0 <= callers[model]["intent"]["accuracy"] <= 1 and 0 <= callers[model]["sentiment"]["accuracy"] <= 1
    assert callers["multitask"]["intent"]["accuracy"] > 0.85
    assert saved["faq"]["right"] > 0.7 and saved["faq"]["matched_others"] < 0.2


def test_tagged_date_pieces_become_whole_dates(trained):
    from nlu.entities import EntityExtractor
    from tests.test_nlu import TODAY
    nlu = MultiTaskNLU.load(trained, device="cpu")
    nlu.normalizer = EntityExtractor(today=TODAY)
    text = "i ordered it on december the fifth and it should come the day after tomorrow"
    # the tagger's spans, as it sometimes marks them: pieces of the dates
    spans = [(16, 24, "date"), (29, 34, "date"), (68, 76, "date")]
    assert [text[s:e] for s, e, _ in spans] == ["december", "fifth", "tomorrow"]
    got = nlu.entities(text, spans)
    assert [(e.value, e.text) for e in got] == [("2026-12-05", "december the fifth"),
                                                ("2026-11-26", "the day after tomorrow")]
    # a date the tagger missed is added when the rules resolve it; "today" alone is not
    assert [e.value for e in nlu.entities("it arrives tomorrow", [])] == ["2026-11-25"]
    assert nlu.entities("that's all for today", []) == ()


def test_pipeline_uses_the_trained_model_when_asked(trained, tmp_path):
    """On a CPU the trained model is served from its ONNX export (no torch at start-up), and
    it understands exactly what the torch model does."""
    from nlu.heads import OnnxNLU
    from nlu.stage import load_nlu
    served = load_nlu(str(trained), "cpu")
    assert isinstance(served, OnnxNLU)
    texts = ["where is order four five six seven", "I was charged twice on December the fifth for 25 dollars",
             "", "uh hi", "the coffee maker arrived broken and I want my money back"]
    torch_model = MultiTaskNLU.load(trained, device="cpu")
    for a, b in zip(served.parse_batch(texts), torch_model.parse_batch(texts)):
        assert (a.intent, a.sentiment, a.entities) == (b.intent, b.sentiment, b.entities)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-4)
    # weights saved after the export: the export is stale, the torch model serves
    torch_model.save(tmp_path / "copy")
    assert isinstance(load_nlu(str(tmp_path / "copy"), "cpu"), MultiTaskNLU)
    with pytest.raises(FileNotFoundError, match="no trained NLU model"):
        load_nlu("/no/such/model")


def test_one_word_or_one_run_of_digits_is_one_entity():
    # "4567" cut into pieces tagged order and phone read as order "45" and phone "67"
    assert decode_spans([(0, 2), (2, 4), (4, 5)], ["B-order_number", "B-phone_number", "O"], "4567.") == [
        (0, 4, "order_number")]
    text = "four five six seven"  # spoken digits: one number, of the type that covers most of it
    assert decode_spans([(0, 4), (5, 9), (10, 13), (14, 19)],
                        ["B-order_number", "B-phone_number", "I-phone_number", "I-phone_number"], text) == [
        (0, 19, "phone_number")]
    # two numbers apart stay apart
    text = "order 4567 phone 5552198840"
    assert decode_spans([(6, 10), (17, 27)], ["B-order_number", "B-phone_number"], text) == [
        (6, 10, "order_number"), (17, 27, "phone_number")]
