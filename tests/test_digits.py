"""Digit strings as the caller said them (issue 28): asr.digits, and Whisper base with numerals
suppressed on a telephone line."""
import pytest

from asr.digits import digit_runs, digits_as_said, prefer_words, spell_digits


@pytest.mark.parametrize("text, want", [
    ("The order number is five eight two one three.", "The order number is 58213."),
    ("I'd like to cancel order four four one two zero.", "I'd like to cancel order 44120."),
    ("Nine zero zero one seven", "90017"),  # its zeros stay, leading or not
    ("zero zero seven", "007"),
    ("five, eight, two, one, three.", "58213."),  # a comma after every digit is no grouping
    ("4-4-1-2-0", "44120"),  # digits written one by one
])
def test_runs_of_digits_join(text, want):
    assert digits_as_said(text) == want


@pytest.mark.parametrize("text, want", [
    ("two one oh five", "2105"),  # "oh" inside a run is zero
    ("seven oh oh one", "7001"),
    ("one two three oh", "1230"),  # ... and at its end
    ("oh two one five", "0215"),  # ... and first, right before a digit
    ("Oh, one two three four.", "Oh, 1234."),  # "Oh," before a run stays a word
    ("Oh I see.", "Oh I see."),
    ("double five one two", "5512"),
    ("one triple seven", "1777"),
    ("for four one to zero", "for 4120"),  # "to" between two digits is 2; "for" before a run stays
    ("send it to one two three", "send it to 123"),
    ("The order number is for five six seven.", "The order number is 4567."),  # ... unless a number is announced
    ("My phone number is to zero to five five five zero one four three", "My phone number is 2025550143"),
    ("I'm calling for one two three four", "I'm calling for 1234"),
    ("Where is my order for 567?", "Where is my order 4567?"),  # the rest written whole, at the end
    ("Where is my order for? 567.", "Where is my order 4567."),
    ("The number is to 345", "The number is 2345"),
    ("The order numbers for 567.", "The order numbers 4567."),  # Whisper's "number is"
    ("I paid for an order for 200 dollars.", "I paid for an order for 200 dollars."),  # a unit after: stays
    ("I'm calling for 567 people", "I'm calling for 567 people"),
])
def test_oh_double_and_sound_alikes(text, want):
    assert digits_as_said(text) == want


@pytest.mark.parametrize("text", [
    "One more thing, can I change the address?",
    "I'd like one or two of them.",
    "It is one two.",  # two digits: too short to be a number
    "Give me two, three days.",
    "Four people, two cars, one dog.",
    "O'Brien, one moment please.",
    # ranges: "to" between two digits is no digit unless three are said as digits around it
    "Is it open from nine to five?",
    "Delivery takes three to five days.",
    "We were two to one down.",
])
def test_words_that_are_not_digit_strings_stay(text):
    assert digits_as_said(text) == text


def test_phone_numbers_keep_their_groups():
    assert digits_as_said("Please call me back at five five five, two one nine, eight eight four zero.") \
        == "Please call me back at 555-219-8840."
    assert digits_as_said("My number is two zero two five five five zero one four three") \
        == "My number is 2025550143"  # said in one breath: one string
    assert digits_as_said("It's five five five, two one nine, eight eight four zero, okay?") \
        == "It's 555-219-8840, okay?"


def test_numbers_whisper_wrote_whole_are_left_alone():
    for text in ("Order 414120.", "58213A", "It costs $45.", "at 5:30", "in 2024", "555-219-8840"):
        assert digits_as_said(text) == text


def test_digit_runs():
    assert digit_runs("Call 617-402-9918 about 2 0 5 9 1 then 6-0-427 and four four one two zero, not 12 or 7.") \
        == ["6174029918", "20591", "60427", "44120"]
    assert digit_runs("One more thing.") == []


def test_prefer_words_only_one_digit_apart():
    # Whisper's own digits added one ("414120") or dropped one ("0017"): the spelled decode wins
    assert prefer_words("I'd like to cancel orders for 414120.", "I'd like to cancel orders four four one two zero.")
    assert prefer_words("0017", "Nine zero zero one seven.")
    assert prefer_words("Order 88834, call 305-771-6209", "Order eight eight three four, call three zero five seven seven") is False
    assert prefer_words("Order 88834, call 305-771-6209",
                        "Order eight eight three four, call three zero five, seven seven one, six two zero nine")
    # the same digits, no digits, or a garbled second reading: Whisper's own stays
    assert not prefer_words("Order 71008", "Order seven one zero zero eight")
    assert not prefer_words("One more thing.", "One more thing.")
    assert not prefer_words("Call me back at 305-771-6209", "Call me back at freerotfive seven seven one six two zero nine")
    assert not prefer_words("Order 44120", "Order for for one to zero")


def test_spell_digits():
    assert spell_digits("order 44120, phone 555-219") == "order four four one two zero, phone five five five-two one nine"
    assert digits_as_said(spell_digits("order 44120")) == "order 44120"


def test_numeral_tokens_cover_digits_and_signs():
    from asr.faster import NUMERAL_CHARS, numeral_tokens

    class Tok:  # a vocabulary of five
        def decode_batch(self, ids):
            return [["a", " 1", "ten", "%", " 2024"][i[0]] for i in ids]
    assert numeral_tokens(Tok(), 5) == [1, 3, 4]
    assert "$" in NUMERAL_CHARS and "0" in NUMERAL_CHARS


@pytest.mark.slow
def test_base_hears_an_order_number_as_its_digits_on_a_phone_line():
    """Issue 28's "the order number is five eight two one three" ("58213A" once), read by flite
    on an 8 kHz mu-law line, through Whisper base as voicebot decodes turns, live (ASRStage)
    and recorded (WholeCallASR, numerals="check"): exactly those digits, nothing glued on."""
    import re

    from asr.base import ASRStage
    from asr.events import SpeechEnded, Transcript
    from asr.faster import FasterWhisper
    from asr.whole_call import WholeCallASR
    from tests.conftest import phone_line

    base = FasterWhisper("base")
    assert base.numerals == "check"
    audio = phone_line("The order number is five eight two one three.", "flite:rms")
    turn = SpeechEnded(0.0, len(audio) / 16000, audio, 16000)
    for stage in (ASRStage(base), WholeCallASR(base)):
        got = [ev.text for ev in stage([turn]) if isinstance(ev, Transcript)]
        assert len(got) == 1, got
        text = digits_as_said(got[0])  # (whole_call joins a turn's digits itself once it calls it)
        assert re.findall(r"[0-9A-Za-z]*\d[0-9A-Za-z]*", text) == ["58213"], (type(stage).__name__, got[0])


def test_undoubled_takes_only_a_doubled_digit_back():
    from asr.faster import undoubled
    assert undoubled(["78890"], ["7890"]) and undoubled(["45677", "12"], ["4567", "12"])
    assert not undoubled(["7890"], ["7890"])  # the same: nothing to take back
    assert not undoubled(["78190"], ["7890"])  # a digit added, not doubled
    assert not undoubled(["78890"], ["789"]) and not undoubled(["78890"], ["7890", "1"])
