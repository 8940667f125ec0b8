"""The knowledge base: questions in callers' words answered from the domain file's `faq:`,
with the real MiniLM and the real NLU (the embedding baseline: trains in seconds)."""
import json
import subprocess
import sys

import pytest
import soundfile as sf
import yaml

from nlu.dialogue import DialoguePolicy
from nlu.domain import DEFAULT, load_domain
from nlu.orders import OrderStore
from tests.conftest import ROOT
from voicebot.bot import Bot
from voicebot.config import Config


@pytest.fixture(scope="module")
def bot():
    cfg = Config()
    cfg.nlu.model = "baseline"
    return Bot(cfg)


def ask(bot, *texts, domain=None):
    policy = bot.policy if domain is None else DialoguePolicy(domain, OrderStore("sqlite:///:memory:"))
    c = policy.new_conversation()
    return [c.respond(bot.nlu.parse(t)) for t in texts]


def test_default_domain_has_the_seed_entries():
    d = load_domain()
    ids = {e.id for e in d.faq}
    assert len(d.faq) >= 25
    assert {"service_free", "service_features", "shipping_cost", "warranty", "delivery_time", "business_account"} <= ids


@pytest.mark.parametrize("text, words", [
    ("is your service free?", ["free", "trial"]),
    ("Is your service free of charge?", ["free", "trial"]),
    ("what are the features of your service?", ["returns", "warranty", "delivery"]),
    ("tell me more about what your service offers", ["returns", "warranty"]),
    ("um how much do you charge for shipping", ["free on orders over 50 dollars"]),
    ("how long is the warranty on your stuff", ["two year warranty"]),
    ("how many days does delivery take", ["two to four business days"]),
    ("hi i'd like to open an account for my business", ["business account"]),
    ("do you guys do a free trial", ["free for the first 30 days"]),
])
def test_questions_answered_from_the_knowledge_base(bot, text, words):
    reply, = ask(bot, text)
    assert reply.answer_source == "faq", (text, reply.text, reply.faq)
    assert reply.faq["accepted"] and reply.faq["score"] >= load_domain().setting("faq_threshold", 0.6)
    for w in words:
        assert w.lower() in reply.text.lower(), (text, reply.text)


@pytest.mark.parametrize("text, source, words", [
    ("where is my order four five six seven", "intent", ["UPS"]),
    ("I want to talk to a real person", "intent", ["transferring"]),
    ("how much is the coffee maker", "intent", ["89 dollars"]),
    ("blorp fizzle wug", "reask", ["didn't catch"]),
])
def test_intents_and_reasks_keep_their_answers(bot, text, source, words):
    reply, = ask(bot, text)
    assert reply.answer_source == source, (text, reply.text, reply.faq)
    for w in words:
        assert w in reply.text


def test_an_operator_adds_an_entry_without_retraining(bot, tmp_path):
    data = yaml.safe_load(DEFAULT.read_text())
    data["faq"].append({"id": "pets", "questions": ["can i bring my dog into the store", "are pets allowed in your shops"],
                        "answer": "Dogs on a lead are welcome in all our stores.", "follow_up": "Anything else?"})
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump(data))
    before, = ask(bot, "is my dog allowed in the shop")
    after, = ask(bot, "is my dog allowed in the shop", domain=load_domain(path))
    assert "Dogs on a lead" not in before.text
    assert after.answer_source == "faq" and after.faq["id"] == "pets"
    assert after.text == "Dogs on a lead are welcome in all our stores. Anything else?"


@pytest.mark.parametrize("entry, message", [
    ({"id": "x", "questions": [], "answer": "A."}, "faq[31] (x): questions must be a list of texts"),
    ({"id": "x", "questions": ["q"]}, "faq[31] (x): answer missing"),
    ({"id": "service_free", "questions": ["q"], "answer": "A."}, "id 'service_free' used twice"),
    ({"id": "x", "questions": ["q"], "answer": "A.", "answers": "B."}, "unknown key(s) answers"),
])
def test_bad_entries_are_named(tmp_path, entry, message):
    data = yaml.safe_load(DEFAULT.read_text())
    data["faq"].append(entry)
    path = tmp_path / "domain.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=str(path)) as e:
        load_domain(path)
    assert message in str(e.value)


def test_nlu_command_shows_the_match():
    out = subprocess.run([sys.executable, "-m", "voicebot", "nlu", "--nlu-model", "baseline", "is your service free?"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
    faq = json.loads(out)["faq"]
    assert faq["id"] == "service_free" and faq["accepted"] and faq["score"] > 0.9


def test_recorded_call_transcript_names_the_answer_source(bot, tmp_path):
    import numpy as np

    from voicebot.bench.callers import speak
    from voicebot.recorded import process_calls
    pause = np.zeros(16000, np.float32)
    audio = np.concatenate([pause, speak("Hello. I wanted to ask, is your service free?", "espeak:en-gb", 130), pause, pause,
                            speak("Where is my order? It is four five six seven.", "flite:slt", 130), pause, pause])
    sf.write(tmp_path / "faq_call.wav", audio, 16000)
    process_calls(bot, [str(tmp_path / "faq_call.wav")], tmp_path / "out", progress=False)
    turns = json.loads((tmp_path / "out" / "faq_call" / "transcript.json").read_text())["turns"]
    assert turns[0]["answer_source"] == "faq" and turns[0]["faq"]["id"] == "service_free"
    assert "free" in turns[0]["reply"] and "trial" in turns[0]["reply"]
    assert turns[-1]["answer_source"] == "intent" and "UPS" in turns[-1]["reply"]
