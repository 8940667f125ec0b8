"""live.decode_priority: guesses (a turn decoded where the caller's voice paused) wait behind the
calls' turn decodes in the one decoder queue (asr/batching.py), and a guess that has not begun when
its turn's hangover is up is decoded as a turn (voicebot/live/turns.py). Real Whisper tiny.en and
real speech."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from asr.batching import BatchingRecognizer
from asr.events import Transcript
from asr.wer import normalize
from tests.conftest import turn_events
from voicebot.bench.callers import speak, trim
from voicebot.bot import Bot
from voicebot.config import Config
from voicebot.live.turns import TurnTaker

RATE = 16000
LONG = "I would like to return the headphones I bought last week, they do not work."


class Gate:
    """The recognizer, its first decode held until `open` is set: a queue that is busy."""

    def __init__(self, recognizer):
        self.recognizer, self.began, self.open = recognizer, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.recognizer, name)

    def first_tries(self, items):
        self.began.set()
        assert self.open.wait(60)
        return self.recognizer.first_tries(items)


def test_a_turn_is_decoded_before_guesses_queued_ahead_of_it(tiny):
    """Two calls' guesses wait while the queue is busy; a third call's turn that ended after
    them is decoded first, and each gets its own words. Guesses beyond a batch are dropped."""
    gate = Gate(tiny)
    queue = BatchingRecognizer(gate, max_batch=2)
    busy = queue.submit(trim(speak(LONG, "flite:slt")))
    assert gate.began.wait(30)
    lines = ["Do you accept PayPal?", "What time do your stores open on Sunday?", "I want to check on my order."]
    audio = [trim(speak(t, "espeak:en-us")) for t in lines]
    dropped = queue.submit(audio[0], guess=True)
    guesses = [queue.submit(a, guess=True) for a in audio[:2]]  # the third guess: the oldest is dropped
    turn = queue.submit(audio[2])
    order = []
    for name, job in [("turn", turn), ("guess", guesses[0]), ("guess", guesses[1])]:
        job.add_done_callback(lambda _, name=name: order.append(name))
    gate.open.set()
    assert "headphones" in normalize(busy.result(60).text)
    assert "check on my order" in normalize(turn.result(60).text)
    assert [normalize(g.result(60).text) for g in guesses] == [normalize(t) for t in lines[:2]]
    assert order[0] == "turn" and dropped.cancelled()


def test_a_guess_not_begun_when_the_turn_ends_is_heard_as_a_turn(tiny):
    """With the queue busy at the caller's pause, the turn-taker queues its guess anyway; when
    the hangover is up the guess has not begun (the busy decode ends 0.3 s later), so the turn is
    decoded as any other: heard right, not lost with the guess."""
    cfg = Config().live
    cfg.decode_priority = True
    gate = Gate(tiny)
    queue = BatchingRecognizer(gate)
    busy = queue.submit(trim(speak(LONG, "flite:slt")))
    assert gate.began.wait(30)
    line = trim(speak("I want to check on my order.", "flite:slt"))
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), line, np.zeros(RATE, np.float32)])
    start, end = 0.3, round(0.5 + len(line) / RATE, 3)

    events = turn_events(audio, start, end, on_end=lambda: threading.Timer(0.3, gate.open.set).start())
    out = list(TurnTaker(queue, Bot(Config()).nlu, cfg, lambda: None)(events))
    [heard] = [e.text for e in out if isinstance(e, Transcript)]
    assert "check on my order" in normalize(heard), heard
    assert "headphones" in normalize(busy.result(60).text)


def test_the_options_are_checked_when_a_config_loads():
    assert Config.from_dict({"live": {"decode_priority": True}, "asr": {"decoders": 2}}).asr.decoders == 2
    for bad in ({"live": {"decode_priority": "yes"}}, {"asr": {"decoders": 0}}, {"asr": {"decoders": 9}}):
        with pytest.raises(ValueError, match="decode_priority|decoders"):
            Config.from_dict(bad)


def test_with_two_decoders_a_turn_does_not_wait_for_another_calls_decode(tiny):
    """asr.decoders 2: while one call's decode is going on (held here), another call's turn is
    decoded beside it, and heard right."""

    class HoldFirst(Gate):
        def first_tries(self, items):
            if not self.began.is_set():
                return super().first_tries(items)
            return self.recognizer.first_tries(items)
    gate = HoldFirst(tiny)
    queue = BatchingRecognizer(gate, decoders=2)
    busy = queue.submit(trim(speak(LONG, "flite:slt")))
    assert gate.began.wait(30)
    turn = queue.submit(trim(speak("I want to check on my order.", "espeak:en-us")))
    assert "check on my order" in normalize(turn.result(60).text)
    assert not busy.done()
    gate.open.set()
    assert "headphones" in normalize(busy.result(60).text)
