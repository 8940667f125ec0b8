"""No echoed context (issue 28): a short turn after a long one never comes back carrying the long
one's words, in recorded calls (turns decoded together) or live (the previous turn as context),
in several voices, gaps, rates and noise levels."""
import pytest

from asr.base import ASRStage
from asr.events import SpeechEnded, Transcript
from asr.repeats import echo, words
from voicebot.bench import callers
from voicebot.bot import Bot
from voicebot.config import Config

LONG = ("I would like to return the headphones I bought.", "return_refund")
SHORT = ("Do you accept PayPal?", "payment_methods")
# (voice, gap, telephone, noise level): the first is the call of the report (the decode wrote
# "Do you accept paper? I would like to return the headphones I bought." for its second turn)
CALLS = [("flite:rms", 1.35, False, -60.0), ("flite:rms", 2.0, False, -50.0), ("flite:kal16", 0.5, True, -55.0),
         ("espeak:en-gb", 1.0, False, -45.0), ("flite:awb", 1.5, True, -60.0), ("espeak:en-us", 0.7, True, -50.0)]


def frames(audio, rate=16000, ms=30):
    from asr.events import AudioFrame
    n = rate * ms // 1000
    for i in range(0, len(audio), n):
        yield AudioFrame(audio[i:i + n], rate, i / rate)


@pytest.fixture(scope="module")
def bot():
    return Bot(Config())


def test_echo_finds_an_earlier_turn_carried_back():
    assert echo("Do you accept paper? I would like to return the headphones I bought.",
                ["I would like to return the headphones I bought."]) == "i would like to return the headphones i bought"
    assert echo("Do you accept paper?", ["I would like to return the headphones I bought."]) is None
    assert echo("Yes, please cancel it.", ["Yes."]) is None  # one word comes back on its own often
    assert echo("The order number is 4567.", ["My order number is 4567."]) == "order number is 4567"
    assert words("I'd like it, please!") == ["i'd", "like", "it", "please"]


@pytest.mark.parametrize("voice,gap,telephone,level", CALLS)
def test_a_short_turn_after_a_long_one_carries_none_of_its_words(bot, voice, gap, telephone, level):
    call = callers.TestCall("echo", [LONG, SHORT], voice, "white", level, telephone, gap_s=gap)
    audio, _ = callers.render(call)
    turns = [SpeechEnded(ev.start, ev.end, ev.samples, ev.sample_rate)
             for ev in bot.vad()(frames(audio)) if isinstance(ev, SpeechEnded)]
    assert len(turns) == 2, [(t.start, t.end) for t in turns]
    recorded = [ev.text for ev in bot.asr()(iter(turns)) if isinstance(ev, Transcript)]
    live = [ev.text for ev in ASRStage(bot.recognizer)(iter(turns)) if isinstance(ev, Transcript)]
    for heard in (recorded, live):
        assert len(heard) == 2, heard
        assert "accept" in words(heard[1]), heard
        assert echo(heard[1], [heard[0]]) is None, heard
        assert not {"headphones", "return", "bought"} & set(words(heard[1])), heard
