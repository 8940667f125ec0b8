"""Live calls on the simulated duplex device, in real time, with the real models.

Callers are espeak-ng and flite voices (never the bot's own), with noise under them; what
is checked is what a caller gets: the words understood, the replies played, when playback
stops. Each test is one short call (10-25 s of real time).
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from asr.events import Transcript
from nlu.events import BotReply, NLUResult
from tests.conftest import phone_line, turn_events
from voicebot.bench.callers import cough, noise, speak, trim
from voicebot.bot import Bot
from voicebot.config import Config, LiveConfig
from voicebot.live.session import LiveSession, _Playing
from voicebot.live.simulated import Line, Recording, Script, SimulatedDevice, voiced_end
from voicebot.live.turns import TurnTaker, end_wait_s, interrupts

RATE = 16000


@pytest.fixture(scope="module")
def bot():
    cfg = Config()
    cfg.tts.sample_rate = RATE  # the simulated device's rate
    b = Bot(cfg)
    b.warm_up()
    return b


def call(bot, caller, greet=True, barge_in="on", max_s=60, **device):
    bot.config.live.barge_in = barge_in
    dev = SimulatedDevice(**device)
    events = []

    def on_event(ev):
        events.append(ev)
        dev.on_event(ev)
    session = LiveSession(bot, on_event=on_event, greet=greet)
    try:
        run = dev.run(session, caller, max_s=max_s)
    finally:
        session.close()
    return run, session, events


def say(text, voice="espeak:en-us", wpm=None):
    return trim(speak(text, voice, wpm))


def test_a_whole_conversation(bot):
    # digits read slowly, as people do: at 160 words a minute Whisper base wrote 45677 or
    # "456 salmon" for one reading in six; at 130 none in eight
    lines = [Line(say(t, v, wpm), text=t) for t, v, wpm in [("I want to check on my order.", "flite:slt", None),
                                                             ("The order number is four five six seven.", "flite:kal16", 130),
                                                             ("Thank you, goodbye.", "flite:awb", None)]]
    # the order's reply is ~7.5 s ("... with UPS and should arrive on ..."): a caller who waits
    # only 8 s for an answer talked over its end
    run, session, _ = call(bot, Script(lines, patience_s=12.0), noise=noise("white", 20, -50))
    turns = session.turns
    assert [t["intent"] for t in turns] == ["order_status", "order_status", "goodbye"]
    assert turns[0]["reply"] == "Sure. What's your order number?"
    # Whisper base misreads a digit of this line now and then ("45677", "456 salmon": rarely on a
    # quiet machine, more often with two test files at once and AVX2 kernels). The caller must get
    # the right order, or be asked to read the number again: never another order's status.
    reply = turns[1]["reply"]
    assert ("4 5 6 7" in reply and "headphones" in reply) or "read me the number again" in reply, \
        (turns[1]["text"], reply)
    assert "Goodbye" in turns[2]["reply"]
    assert run.replies[0][1].startswith("Thanks for calling")  # the greeting opens the call
    assert all(h.reply_start is not None for h in run.lines)  # every line was answered out loud
    assert not run.interruptions and session.dropped_frames == 0


def test_barge_in_stops_playback_and_the_dialogue_knows(bot):
    lines = [Line(say("What time do your stores open on Sunday?", "flite:slt")),
             Line(say("Wait, do you accept PayPal?", "espeak:en-gb"), "during_reply", 1.5)]
    run, session, events = call(bot, Script(lines, greeting=False), greet=False, echo_delay_ms=120, echo_db=-6,
                                noise=noise("white", 20, -50))
    assert len(run.interruptions) == 1
    cut = run.interruptions[0]
    onset = run.lines[1].start
    print(f"barge-in: the caller began at {onset:.2f} s; words that cut in heard up to {cut['t']:.2f} s, "
          f"read by {cut['decided']:.2f} s; playback silent from {cut['stopped']:.2f} s: "
          f"{1000 * (cut['stopped'] - cut['decided']):.0f} ms after the decision, "
          f"{1000 * (cut['stopped'] - onset):.0f} ms after the caller began")
    assert run.holds and run.holds[0]["resumed"] is None, run.holds  # paused at the first voice, never resumed
    silent = run.holds[0]["stopped"]
    print(f"hold: playback paused at {silent:.2f} s, {1000 * (silent - onset):.0f} ms after the caller began")
    # The bounds tell a barge-in from a reply played on, with room for a loaded machine (the suite
    # runs two test files at once; a slow machine once took 2.2 s to stop here). How fast it is
    # on a quiet one is `voicebot bench-barge-in`'s to say: paused 100-200 ms after the caller's
    # first sound, stopped for good p50 850 ms.
    assert silent - onset <= 1.0  # the first voiced sound pauses the bot, before any word is read
    assert cut["stopped"] - cut["decided"] <= 0.5  # the control path: decision to silence
    first = next(e for e in events if isinstance(e, BotReply) and e.text)
    whole = sum(len(c.samples) for c in bot.tts().speak(first)) / RATE
    began = run.replies[0][0]
    assert cut["stopped"] - onset <= 3.0 and cut["stopped"] < began + whole - 1.0, (cut, began, whole)
    # nothing of the cut reply is played after the stop: the speaker is quiet until the next reply
    assert len(run.replies) >= 2, (run.replies, [(t["text"], t["reply"]) for t in session.turns])
    next_reply = run.replies[1][0]
    quiet = run.speaker[int((cut["stopped"] + 0.02) * RATE):int(next_reply * RATE)]
    assert np.abs(quiet).max() < 1e-4
    assert [t["intent"] for t in session.turns] == ["store_hours", "payment_methods"]
    assert "PayPal" in session.turns[1]["reply"]
    heard = session.turns[0]["reply_cut"]
    assert heard and 1.0 < heard["heard_s"] < whole - 1.0 and session.turns[0]["reply"].startswith(heard["heard_text"])
    assert session.conversation.last_cut.heard_s == heard["heard_s"]


def test_backchannels_a_cough_and_echo_do_not_interrupt(bot):
    lines = [Line(say("What time do your stores open on Sunday?", "flite:slt")),
             Line(say("uh-huh", "espeak:en-us"), "during_reply", 1.2),
             Line(cough(), "during_reply", 3.0),
             Line(say("okay", "flite:awb"), "during_reply", 4.8),
             Line(say("right", "espeak:en-gb"), "during_reply", 6.5)]
    run, session, _ = call(bot, Script(lines, greeting=False), greet=False, echo_delay_ms=150, echo_db=-6,
                           noise=noise("white", 20, -50))
    assert not run.interruptions
    print("holds:", run.holds)
    assert all(h["resumed"] is not None for h in run.holds)  # a pause for "uh-huh" goes on where it was
    cough_at = run.lines[2].start
    assert not any(cough_at <= h["t"] <= cough_at + 0.6 for h in run.holds)  # no voice in a cough: no pause
    assert len(session.turns) == 1 and session.turns[0]["intent"] == "store_hours"
    reply_s = np.count_nonzero(np.abs(run.speaker) > 1e-3) / RATE
    assert reply_s > 7.0  # the whole reply was played (about 9 s of speech)


def test_a_pause_mid_sentence_still_gets_the_order_answered(bot):
    """"My order number is", a second's pause, "four five six seven": the caller gets the answer
    for order 4567. The turn-taker waits on the open phrase, so the turn is usually heard whole;
    on an AVX2-only CPU Whisper base heard the first half as "My ordered him the risk", a sentence
    that looks finished, and the turn split (issue 28): the lone number after that order turn is
    still the order's number (nlu.dialogue.bare_number), so the caller's answer is the same."""
    gap = np.zeros(int(1.0 * RATE), np.float32)
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), say("My order number is"), gap,
                            say("four five six seven."), np.zeros(RATE // 2, np.float32)])
    audio += noise("hum", len(audio) / RATE, -50)
    run, session, _ = call(bot, Recording(audio), greet=False)
    texts = [t["text"] for t in session.turns]
    assert 1 <= len(session.turns) <= 2, texts
    assert "4567" in [e["value"] for e in session.turns[-1]["entities"]], session.turns
    assert "4 5 6 7" in session.turns[-1]["reply"], session.turns


def test_a_quiet_voice_that_dips_mid_sentence_is_heard_to_its_end(bot):
    # flite rms on a phone line, as bench-calls sends it: Silero scored "stores open on Sunday"
    # 0.30-0.45 after a 0.1 s pause, under the 0.5 that starts speech, and the bot answered
    # "What time do yours?" 0.8 s before the caller had finished (live.resume_ms)
    line = phone_line("What time do your stores open on Sunday?", "flite:rms")
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), line, np.zeros(3 * RATE, np.float32)])
    audio += 1e-4 * np.random.default_rng(5).standard_normal(len(audio)).astype(np.float32)  # -80 dBFS
    # the call ends 2 s after the caller: time for the reply to begin, not for all 8 s of it
    run, session, _ = call(bot, Recording(audio), greet=False, barge_in="off", max_s=len(audio) / RATE - 1)
    assert [t["intent"] for t in session.turns] == ["store_hours"], [t["text"] for t in session.turns]
    assert "sunday" in session.turns[0]["text"].lower()
    assert run.replies and run.replies[0][0] >= voiced_end(audio[: RATE // 2 + len(line)])


def test_a_turn_is_heard_after_the_callers_earlier_turns(bot):
    # the caller's answered turns go before the next in Whisper's window (asr.context_s), as in
    # recorded calls: same voice, same line. Real decodes; the wrapper only notes the contexts.
    class Noting:
        def __init__(self, recognizer):
            self.recognizer, self.contexts = recognizer, []

        def __getattr__(self, name):
            return getattr(self.recognizer, name)

        def transcribe(self, audio, context=None):
            self.contexts.append(context.text if context is not None else None)
            return self.recognizer.transcribe(audio, context)

        def submit(self, audio, context=None):  # a decode begun where the voice stopped (live.decode_at_pause)
            self.contexts.append(context.text if context is not None else None)
            return self.recognizer.submit(audio, context)

    lines = [say("I want to check on my order.", "flite:slt"), say("Thanks, goodbye.", "flite:slt")]
    gap = np.zeros(int(2.5 * RATE), np.float32)
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), lines[0], gap, lines[1], np.zeros(2 * RATE, np.float32)])
    audio += noise("white", len(audio) / RATE, -50, seed=6)
    real, bot.recognizer = bot.recognizer, Noting(bot.recognizer)
    try:
        run, session, _ = call(bot, Recording(audio), greet=False, barge_in="off", max_s=len(audio) / RATE)
        noted = bot.recognizer.contexts
    finally:
        bot.recognizer = real
    assert [t["intent"] for t in session.turns] == ["order_status", "goodbye"], [t["text"] for t in session.turns]
    assert noted[0] is None  # the first turn has nothing before it
    assert any(c and "order" in c.lower() for c in noted[1:]), noted  # the second is heard after it


@pytest.mark.parametrize("pause_at_end", [True, False])
def test_a_turn_decoded_where_the_voice_stopped_is_not_decoded_again(bot, pause_at_end):
    """live.decode_at_pause: the turn is decoded from the SpeechPaused where the voice stopped,
    and when the SpeechEnded (after the hangover) has the same start and end, those words are the
    turn's: one decode. A pause the voice went on from is another decode's audio: decoded again."""

    class Counting:
        def __init__(self, recognizer):
            self.recognizer, self.decodes = recognizer, 0

        def __getattr__(self, name):
            return getattr(self.recognizer, name)

        def submit(self, audio, context=None):
            self.decodes += 1
            return self.recognizer.submit(audio, context)
    line = say("I want to check on my order.", "flite:slt")
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), line, np.zeros(RATE, np.float32)])
    audio += noise("white", len(audio) / RATE, -50, seed=9)
    start, end = 0.2, round(0.5 + voiced_end(line), 3)
    paused = end if pause_at_end else round(end - 0.4, 3)

    counting = Counting(bot.recognizer)
    deadline = time.monotonic() + 30
    while not bot.recognizer.idle() and time.monotonic() < deadline:  # an earlier test's decode ending
        time.sleep(0.05)
    out = list(TurnTaker(counting, bot.nlu, bot.config.live, lambda: None)(turn_events(audio, start, end, paused)))
    [heard] = [e.text for e in out if isinstance(e, Transcript)]
    assert "check on my order" in heard.lower(), heard
    assert counting.decodes == (1 if pause_at_end else 2)


def test_noise_gaps_do_not_merge_turns(bot):
    gap = noise("white", 1.2, -40, seed=3)
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), say("What time do your stores open on Sunday?", "flite:kal16"),
                            gap, say("Do you accept PayPal?", "espeak:en-gb"), np.zeros(RATE // 2, np.float32)])
    audio += noise("white", len(audio) / RATE, -50, seed=4)
    run, session, _ = call(bot, Recording(audio), greet=False, barge_in="off")
    assert [t["intent"] for t in session.turns] == ["store_hours", "payment_methods"]


def test_push_audio_never_blocks_and_close_leaves_no_thread(bot):
    got = []
    session = LiveSession(bot, on_event=got.append, greet=True)
    x = say("I was charged twice for the same order.")
    worst = 0.0
    for _ in range(40):  # 40 utterances at once at 8 kHz, far faster than real time
        t0 = time.perf_counter()
        session.push_audio(x[::2], 8000)
        worst = max(worst, time.perf_counter() - t0)
    assert worst < 0.05
    session.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("live-")]
    assert session.dropped_frames > 0  # a backlog over 10 s is dropped, not queued for ever



@pytest.mark.parametrize("text, confidence, wait", [
    ("What time do your stores open on Sunday?", 0.99, "complete_ms"),
    ("No, leave it as it is.", 0.99, "complete_ms"),
    ("Yes.", 0.99, "short_answer_ms"),
    ("My order number is", 0.99, "incomplete_ms"),
    ("The order numbers", 0.99, "incomplete_ms"),  # "number is", the digits still to come
    ("I forgot my password and I can't log in.", 0.99, "complete_ms"),
    ("I want to check on", 0.99, "incomplete_ms"),
    ("I signed up and put my card in", 0.99, "incomplete_ms"),
    ("I want to check on um", 0.99, "incomplete_ms"),
    ("I'd like to,", 0.99, "incomplete_ms"),
    ("Blade, blade", 0.30, "silence_ms"),
])
def test_the_words_choose_the_silence_that_ends_a_turn(text, confidence, wait):
    cfg = LiveConfig()
    assert end_wait_s(NLUResult(text, "store_hours", confidence, "neutral"), cfg) == getattr(cfg, wait) / 1000


@pytest.mark.parametrize("text, cut_in", [
    ("Uh-huh.", False), ("Okay.", False), ("Right, right.", False), ("Mm-hmm", False),
    ("NMHM N", False), ("Hm-hm.", False),  # Whisper spelling a hum
    ("", False), ("A-A-A", False),
    ("Wait.", True), ("Stop!", True), ("Representative.", True), ("Do you accept PayPal?", True),
    ("No, no.", True),
    # "okay" said through the bot's echo, as Whisper heard it in tests/test_live.py runs
    ("Loki", False), ("Rocky", False), ("No", False), ("Don't", False), ("6", False),
    ("and Sunday from 10 am", False),  # the bot's own reply coming back
])
def test_which_words_cut_the_bot_off(text, cut_in):
    reply = BotReply("Our stores are open Monday to Saturday from 9 am to 8 pm, and Sunday from 10 am to 6 pm.")
    assert interrupts(text, reply) == cut_in


def test_with_synthesis_yields_the_next_sentence_waits_for_a_turn_being_decoded(bot):
    """live.synthesis_yields: while the caller has more than yield_ahead_ms of the reply still
    to hear, its next sentence is made only once the decoder has no caller turn left."""
    bot.config.live.synthesis_yields = True
    session = LiveSession(bot, greet=False)
    try:
        p = _Playing(BotReply("Our stores are open from nine. Phone support is open around the clock."))
        p.sent_s = 4.0  # four seconds made, none played yet
        turn = np.concatenate([say("I want to check on my order, it was supposed to arrive on Monday.", v)
                               for v in ("flite:slt", "espeak:en-us", "flite:awb")])
        job = bot.recognizer.submit(turn)
        session._yield_to_decodes(p)
        assert job.done() and "order" in job.result().text.lower()
        t0 = time.perf_counter()
        session._yield_to_decodes(p)  # nothing being decoded: no wait
        assert time.perf_counter() - t0 < 0.1
    finally:
        bot.config.live.synthesis_yields = False
        session.close()
