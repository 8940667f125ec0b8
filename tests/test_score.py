"""The call scorer: turn segmentation from word alignment, WER, intents, digit strings; and
`voicebot score` end to end on noisy test calls in voices other than the bot's, beside plain
faster-whisper."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from voicebot.bench.score import Reference, align, read_reference, score_call

REF = Reference(["I want to check my order.", "The order number is four five six seven.", "Thanks, bye."],
                ["order_status", "order_status", "goodbye"])


def test_align_maps_reference_words_to_hypothesis_words():
    assert align("a b c d".split(), "a x c d".split()) == [0, 1, 2, 3]  # substitution keeps its place
    assert align("a b c d".split(), "a c d".split()) == [0, None, 1, 2]  # deletion
    assert align("a b".split(), "a q b".split()) == [0, 2]  # insertion skipped


def test_turns_right_merged_split_missed():
    right = score_call("c", REF, ["I want to check my order.", "The order number is 4567.", "Thanks, bye."],
                       ["order_status", "order_status", "goodbye"])
    assert (right.right, right.merged, right.split, right.missed, right.errors) == (3, 0, 0, 0, 0)
    assert (right.numbers, right.numbers_right, right.intents_right) == (1, 1, 3)
    merged = score_call("c", REF, ["I want to check my order. The order number is four five six seven.", "Thanks, bye."],
                        ["order_status", "goodbye"])
    assert (merged.right, merged.merged) == (1, 2) and merged.errors == 0
    split = score_call("c", REF, ["I want to check", "my order.", "The order number is 4 5 6 7.", "Thanks, bye."],
                       [None, "order_status", "order_status", "goodbye"])
    assert (split.right, split.split) == (2, 1)
    missed = score_call("c", REF, ["I want to check my order.", "Thanks, bye."], ["order_status", "goodbye"])
    assert (missed.right, missed.missed, missed.numbers_right) == (2, 1, 0)
    assert missed.errors == 5  # the whole second turn ("four five six seven" is one word: 4567)
    # one misheard word that lands in the neighbouring turn is an ASR error, not a merge
    noisy = score_call("c", REF, ["I want to check my order. and", "The order number is 4567.", "Thanks, bye."],
                       ["order_status", "order_status", "goodbye"])
    assert noisy.right == 3 and noisy.errors == 1


def test_turns_matched_by_time_when_the_reference_has_times():
    timed = Reference(REF.turns, REF.intents, [(0.5, 2.0), (3.5, 6.0), (7.5, 8.3)])
    # a noisy call, its two turns found right but misheard: the words of the second align
    # partly with the first turn's, which the word alignment takes for a split and a merge
    ref = Reference(["I forgot my password and I can't log in.", "Thanks, that was helpful."], [None, None])
    heard = ["I could drop my password and I can't login.", "And that's what helps all."]
    by_words = score_call("c", ref, heard, [None] * 2)
    assert by_words.right < 2 and not by_words.by_time
    ref.spans = [(0.5, 3.0), (4.5, 6.4)]
    by_time = score_call("c", ref, heard, [None] * 2, [(0.0, 3.03), (4.14, 6.45)])
    assert (by_time.right, by_time.by_time, by_time.errors) == (2, True, by_words.errors)
    merged = score_call("c", timed, ["I want to check my order. The order number is 4567.", "Thanks, bye."],
                        [None] * 2, [(0.0, 6.3), (7.0, 8.6)])
    assert (merged.right, merged.merged) == (1, 2)
    split = score_call("c", timed, ["I want to check", "my order.", "The order number is 4567.", "Thanks, bye."],
                       [None] * 4, [(0.0, 1.2), (1.3, 2.2), (3.0, 6.3), (7.0, 8.6)])
    assert (split.right, split.split) == (2, 1)
    # a turn that starts in the last 0.2 s of the one before it still holds only its own
    close = score_call("c", timed, REF.turns, [None] * 3, [(0.0, 3.7), (3.3, 6.3), (7.0, 8.6)])
    assert close.right == 3
    missed = score_call("c", timed, ["I want to check my order.", "Thanks, bye."], [None] * 2, [(0.0, 2.3), (7.0, 8.6)])
    assert missed.missed == 1


def test_a_turn_that_carries_an_earlier_turn_back_is_counted_as_echoed():
    """The issue's call: turn 2 heard as its own words plus turn 1's (the context came back)."""
    ref = Reference(["I would like to return the headphones I bought.", "Do you accept PayPal?"], [None] * 2)
    echo = score_call("c", ref, ["I would like to return the headphones I bought.",
                                 "Do you accept paper? I would like to return the headphones I bought."], [None] * 2,
                      [(0.0, 2.4), (3.8, 7.2)])
    assert echo.echoes == 1 and echo.detail[1]["echo"] == "i would like to return the headphones i bought"
    assert echo.detail[0]["echo"] is None
    clean = score_call("c", ref, ["I would like to return the headphones I bought.", "Do you accept paper?"],
                       [None] * 2, [(0.0, 2.4), (3.8, 5.0)])
    assert clean.echoes == 0
    # a caller who says the same words again is not an echo, nor are two shared common words
    again = Reference(["My order number is 4567.", "Yes, my order number is 4567."], [None] * 2)
    said_twice = score_call("c", again, ["My order number is 4567.", "Yes, my order number is 4567."], [None] * 2,
                            [(0.0, 2.0), (3.0, 5.0)])
    assert said_twice.echoes == 0
    short = Reference(["I want to check my order.", "I want to cancel it."], [None] * 2)
    assert score_call("c", short, short.turns, [None] * 2, [(0.0, 2.0), (3.0, 5.0)]).echoes == 0


def test_reference_file(tmp_path):
    (tmp_path / "a.txt").write_text("Hello there.\tgreet\n\nMy number is two zero two five.\n")
    ref = read_reference(tmp_path / "a.txt")
    assert ref.turns == ["Hello there.", "My number is two zero two five."] and ref.intents == ["greet", None]
    assert ref.spans is None
    (tmp_path / "b.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"b\.txt: no reference turns"):
        read_reference(tmp_path / "b.txt")
    (tmp_path / "t.txt").write_text("Hello there.\tgreet\t0.50 1.25\nMy number is two.\t\t2.75 4.10\n")
    timed = read_reference(tmp_path / "t.txt")
    assert timed.intents == ["greet", None] and timed.spans == [(0.5, 1.25), (2.75, 4.1)]
    (tmp_path / "u.txt").write_text("Hello there.\tgreet\tsoon\n")
    with pytest.raises(ValueError, match=r"u\.txt:1: the times must be"):
        read_reference(tmp_path / "u.txt")


@pytest.mark.slow
def test_score_noisy_calls_beside_plain_faster_whisper(tmp_path):
    """Two noisy test calls (espeak-ng and flite, one by phone): the default pipeline finds
    every turn, understands them, and its WER is in the plain library's range."""
    from voicebot.bench.callers import default_calls, write_call
    calls = default_calls(levels=(-50.0,))
    for i in (0, 3):  # white noise at 16 kHz (espeak en-us); white noise by phone (flite kal16)
        write_call(calls[i], tmp_path / "calls", seed=i)
    (tmp_path / "calls" / "notes.wav").write_text("not audio")  # no reference, not audio: named, skipped
    r = subprocess.run([sys.executable, "-m", "voicebot.cli", "score", str(tmp_path / "calls"), "--plain",
                        "--plain-model", "tiny.en", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "s.json"),
                        "--plot", str(tmp_path / "s.png"),
                        "-q", "--nlu-model", "baseline"], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert r.returncode == 1, r.stderr  # the file without a reference
    assert "notes.wav: no reference notes.txt beside it" in r.stderr and "Traceback" not in r.stderr
    report = json.loads((tmp_path / "s.json").read_text())
    ours = report["systems"]["voicebot"]["total"]
    plain = report["systems"]["plain faster-whisper tiny.en"]["total"]
    assert ours["turns"] == 6 and ours["right"] == 6
    assert ours["wer"] <= 0.15 and plain["wer"] is not None
    assert ours["numbers"] == 1 and ours["numbers_right"] == 1  # "four five six seven"
    assert ours["echoed_turns"] == 0 and "echoed" in r.stdout
    assert ours["intent_accuracy"] >= 0.8
    assert ours["seconds"] > 0 and plain["seconds"] > 0
    assert "voicebot" in r.stdout and "plain faster-whisper tiny.en" in r.stdout
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_the_second_set_of_test_calls_is_other_sentences_in_other_voices():
    """`make-test-calls --held-out`: the second set shares no sentence with the first but a
    goodbye or two, and no script keeps the voice it had there."""
    from voicebot.bench.callers import default_calls
    first, held = default_calls(), default_calls(held_out=True)
    assert len(held) == 14 and [c.name for c in held] == [c.name for c in first]
    said = {t for c in first for t, _ in c.turns}
    shared = said & {t for c in held for t, _ in c.turns}
    assert all(len(t.split()) <= 2 for t in shared), shared
    assert all(a.voice != b.voice for a, b in zip(first, held))
