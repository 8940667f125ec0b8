"""`voicebot test`: story files, run by text (the NLU and the dialogue) and by voice (test voices
through a live session on the simulated line), judged on what the bot did."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml

from voicebot.bot import Bot
from voicebot.config import Config
from voicebot.stories import StoryError, load_stories, run_stories
from voicebot.stories.report import junit_xml, mark_misheard
from voicebot.stories.run import STARTER
from voicebot.stories.story import Outcome, judge, parse_step

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT / "nlu" / "domain.yml"


@pytest.fixture(scope="module")
def bot():
    cfg = Config()
    cfg.asr.max_batch = 1  # as `voicebot test` runs (voicebot/stories/run.py: reproducible words)
    return Bot(cfg)


def write(tmp_path, text: str, name: str = "stories.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# ---- the file format: what a company writes, and the one-line errors it gets

def test_a_story_file_reads_as_written(tmp_path):
    path = write(tmp_path, """
        stories:
          - name: cancel
            orders: [{number: 3690, product: electric kettle, status: processing}]
            line: phone
            noise: white -50
            steps:
              - caller: Cancel order 3 6 9 0.
                intent: cancel_order
                entities: {order_number: "3690"}
                says: shall i cancel it
              - caller: Yes.
                says: [is cancelled, "3 6 9 0"]
                never_says: can't
                pause: 1.2
              - silence: 3
        """)
    (story,) = load_stories([path])
    (row,) = story.orders  # what the story leaves out has its default
    assert (row["number"], row["product"], row["status"], row["carrier"]) == ("3690", "electric kettle", "processing", "")
    assert story.line == "phone" and story.noise == "white -50"
    first, second, quiet = story.steps
    assert first.entities == (("order_number", "3690"),) and first.says == ("shall i cancel it",)
    assert second.caller == "Yes." and second.says == ("is cancelled", "3 6 9 0") and second.never_says == ("can't",)
    assert second.pause == 1.2
    assert quiet.silence == 3.0 and quiet.caller == ""


@pytest.mark.parametrize("body, words", [
    ("- name: a\n  steps: [{caller: hi, intnt: greet}]", "unknown key(s) intnt"),
    ("- name: a\n  steps: [{caller: hi, answer: kb}]", "answer is one of intent, faq, reask"),
    ("- name: a\n  steps: []", "'steps:' is a list"),
    ("- name: a\n  line: fax\n  steps: [hi]", "line is 'phone'"),
    ("- name: a\n  noise: loud\n  steps: [hi]", "noise is 'KIND LEVEL_DBFS'"),
    ("- name: a\n  steps: [{caller: hi, silence: 2}]", "either 'caller:' words or 'silence:'"),
    ("- name: a\n  orders: [{product: laptop}]\n  steps: [hi]", "each with a number"),
    ("- steps: [hi]", "needs a 'name:'"),
    ("- name: a\n  steps: [hi]\n- name: a\n  steps: [bye]", "names must differ"),
    ("- name: a\n  steps: [{caller: hi, handover: maybe}]", "handover is true or false"),
])
def test_a_bad_story_gets_one_line_naming_the_file_and_the_story(tmp_path, body, words):
    path = write(tmp_path, "stories:\n" + textwrap.indent(body, "  "))
    with pytest.raises(StoryError) as e:
        load_stories([path])
    message = str(e.value)
    assert words in message and str(path) in message and "\n" not in message


def test_files_that_are_not_stories_are_named(tmp_path):
    (tmp_path / "bad.yml").write_text("stories: [unclosed\n")
    with pytest.raises(StoryError, match=r"bad\.yml: not a YAML story file"):
        load_stories([tmp_path / "bad.yml"])
    with pytest.raises(StoryError, match="no such file"):
        load_stories([tmp_path / "missing.yml"])


def test_judge_says_what_differs():
    step = parse_step({"caller": "where is 4567", "intent": "order_status", "entities": {"order_number": "4567"},
                       "says": "on its way", "never_says": "couldn't", "handover": False}, "t")
    good = Outcome(heard="where is 4567", intent="order_status", entities=[("order_number", "4567")],
                   answer="intent", reply="Order 4 5 6 7 is on its way.")
    assert judge(step, good) == []
    bad = Outcome(heard="where is 4567", intent="update_account", entities=[], answer="reask",
                  reply="I couldn't find it.", handover=True)
    assert judge(step, bad) == ["intent update_account (expected order_status)", "no order_number=4567 (found none)",
                                "reply lacks 'on its way'", "reply says \"couldn't\"", "handed over"]
    assert judge(step, Outcome(heard=None)) == ["no turn was heard"]


# ---- by text: the starter set, and what the issue found

def test_the_starter_set_covers_the_domain():
    stories = load_stories([STARTER])
    assert len(stories) >= 40
    steps = [s for story in stories for s in story.steps]
    schema = yaml.safe_load(DOMAIN.read_text())
    missing = set(schema["responses"]) - {s.intent for s in steps}
    assert not missing, f"intents no story asks: {missing}"
    assert len({s.faq for s in steps if s.faq}) >= 10
    assert any(s.barge_in is not None for s in steps) and any(s.silence for s in steps)
    assert any(s.handover for s in steps) and any(s.hangs_up for s in steps)
    assert {story.line for story in stories} == {"phone", "wide"}


def test_the_starter_set_passes_by_text(bot):
    results = run_stories(bot, load_stories([STARTER]), "text", progress=False)
    failed = [(r["story"], i + 1, s["problems"]) for r in results for i, s in enumerate(r["steps"]) if not s["passed"]]
    assert not failed, failed


def test_the_bot_lets_a_caller_out_of_its_order_question(bot, tmp_path):
    """The loop found with `voicebot chat`: each "no" got "What's your order number?" again."""
    path = write(tmp_path, """
        stories:
          - name: loop
            steps:
              - caller: where is order 357?
                says: couldn't find
              - caller: and can I still cancel it?
                says: order number
              - caller: no, leave it as it is.
                never_says: order number
              - caller: no
                never_says: order number
              - caller: yes
                handover: false
          - name: yes yes yes
            steps:
              - caller: I want to cancel my order.
              - caller: yes
                says: order number
              - caller: yes please cancel it
                never_says: what's your order number
                says: anything else
          - name: confirm
            steps:
              - caller: cancel order 1357
                says: shall i cancel it
              - caller: yes, please cancel it.
                intent: affirm
                says: is cancelled
        """)
    results = run_stories(bot, load_stories([path]), "text", progress=False)
    assert [r["passed"] for r in results] == [True, True, True], [s["problems"] for r in results for s in r["steps"]]


def test_a_new_faq_entry_and_its_story(bot, tmp_path):
    """What the README tells a company to do: a story fails before its FAQ entry is added and
    passes after, in two phrasings."""
    story = write(tmp_path, """
        stories:
          - name: parking
            steps:
              - caller: Is there parking at your stores?
                faq: parking
                says: free parking
              - caller: Where can I leave my car when I visit the shop?
                faq: parking
        """)
    cli = [sys.executable, "-m", "voicebot", "test", str(story), "--json", str(tmp_path / "out.json")]
    before = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert before.returncode == 1, before.stdout + before.stderr
    domain = yaml.safe_load(DOMAIN.read_text())
    domain["faq"].append({"id": "parking", "questions": ["is there parking", "where can i park",
                                                         "do your stores have a car park"],
                          "answer": "Every store has free parking for two hours."})
    (tmp_path / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False))
    after = subprocess.run([*cli, "--domain", str(tmp_path / "domain.yml"), "--junit", str(tmp_path / "out.xml")],
                           capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert after.returncode == 0, after.stdout + after.stderr
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["results"][0]["passed"] and [s["faq"] for s in saved["results"][0]["steps"]] == ["parking"] * 2
    suite = ET.parse(tmp_path / "out.xml").getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "0"


def test_a_failing_story_says_what_came(bot, tmp_path):
    path = write(tmp_path, """
        stories:
          - name: wrong on purpose
            steps:
              - caller: Where is order 4 5 6 7?
                says: delivered yesterday
        """)
    out = subprocess.run([sys.executable, "-m", "voicebot", "test", str(path), "--junit", str(tmp_path / "j.xml")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert out.returncode == 1
    assert "FAIL" in out.stdout and "reply lacks 'delivered yesterday'" in out.stdout
    case = ET.parse(tmp_path / "j.xml").getroot().find("testsuite/testcase")
    assert "reply lacks 'delivered yesterday'" in case.find("failure").get("message")
    assert "on its way" in case.find("failure").text  # what came
    bad = subprocess.run([sys.executable, "-m", "voicebot", "test", str(tmp_path / "none.yml")],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "none.yml" in bad.stderr


# ---- by voice: test voices on the simulated line

@pytest.mark.slow
def test_the_starter_set_passes_by_voice(bot):
    results = run_stories(bot, load_stories([STARTER]), "voice", jobs=2, progress=False)
    failed = [(r["story"], r["voice"], i + 1, s["caller"], s["heard"], s["problems"])
              for r in results for i, s in enumerate(r["steps"]) if not s["passed"]]
    assert not failed, "\n".join(map(str, failed))


@pytest.mark.slow
def test_a_step_lost_by_voice_is_called_misheard(bot, tmp_path):
    """Under noise louder than the voice, what passes by text fails by voice: the report says
    the line was misheard and shows what was heard."""
    path = write(tmp_path, """
        stories:
          - name: drowned
            noise: white -12
            steps:
              - caller: Do you accept PayPal?
                intent: payment_methods
        """)
    results = run_stories(bot, load_stories([path]), "both", voices=["flite:slt"], progress=False)
    text, voice = results
    assert text["passed"] and not voice["passed"]
    assert voice["steps"][0].get("misheard") and "misheard: passes by text" in voice["steps"][0]["problems"][-1]
    assert "stories by voice" in junit_xml(results)
    mark_misheard(results)  # twice is harmless: marked once
