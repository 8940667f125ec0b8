"""Recorded calls decoded whole (asr/whole_call.py): each turn gets its own words, in order,
window after window, with voices other than the bot's, noise and a phone line."""
import numpy as np
import pytest

from asr.base import Recognition
from asr.events import SpeechEnded, Transcript
from asr.wer import normalize
from asr.whole_call import MARGIN_S, WINDOW_S, WholeCallASR, _length, _unsure, better
from voicebot.bench import callers as testcalls
from voicebot.bench.callers import render, speak, trim
from voicebot.bot import Bot
from voicebot.config import Config


def frames(audio, rate=16000, ms=30):
    from asr.events import AudioFrame
    n = rate * ms // 1000
    for i in range(0, len(audio), n):
        yield AudioFrame(audio[i:i + n], rate, i / rate)


@pytest.mark.parametrize("telephone", [False, True])
def test_each_turn_of_a_noisy_call_gets_its_own_words(telephone):
    """Three turns of one caller (flite awb) in white noise, one run through a phone band: the
    window's words go back to the turns they were said in. A turn's first word used to be
    timed into the pause before it ("Please" ended the order number's turn)."""
    bot = Bot(Config())
    call = testcalls.TestCall("c", [("My order number is four four one two zero.", ""),
                          ("Please call me back at five five five, two one nine, eight eight four zero.", ""),
                          ("Thank you.", "")], "flite:awb", "white", -50.0, telephone)
    audio, spans = render(call)
    got = [ev for ev in bot.asr()(bot.vad()(frames(audio))) if isinstance(ev, Transcript)]
    assert len(got) == 3, [t.text for t in got]
    first, second, third = (normalize(t.text) for t in got)
    assert "order number" in first and "please" not in first, first
    assert "call me" in second, second
    assert "thank" in third, third
    for t, (start, end) in zip(got, spans):  # each transcript keeps its own turn's times
        assert t.start <= start + 0.1 and t.end >= end - 0.3


def test_a_call_longer_than_one_batch_is_decoded_batch_by_batch(tiny):
    """Twenty turns (33 s of speech, espeak-ng and flite) in windows of up to 8 s, two a batch:
    every turn comes back in order with its words, and the first batch's come out before the
    last turns are read."""
    lines = ["I want to check on my order.", "It has not arrived yet.", "The tracking page says delivered.",
             "But there is nothing at my door.", "I was home all day yesterday.", "Could you look into it please?",
             "I would like a refund if it is lost.", "Or send a new one if you can.", "My address is the same as before.",
             "Thank you for your help today."]
    voices = ["espeak:en-us", "flite:slt", "espeak:en-gb", "flite:rms"]
    lines = lines + lines[::-1]
    events, t = [], 0.0
    for i, line in enumerate(lines):
        audio = trim(speak(line, voices[i % 2 + 2 * (i >= 10)]))
        events.append(SpeechEnded(round(t, 3), round(t + len(audio) / 16000, 3), audio, 16000))
        t += len(audio) / 16000 + 2.0
    assert sum(len(e.samples) for e in events) / 16000 > 30  # more than one window
    read = []

    def source():
        for ev in events:
            read.append(ev)
            yield ev
    out, read_at_first = [], None
    for ev in WholeCallASR(tiny, window_s=8.0, batch=2)(source()):
        if read_at_first is None:
            read_at_first = len(read)
        out.append(ev)
    assert read_at_first < len(events)  # lazy: a batch is decoded when it is full
    assert [(e.start, e.end) for e in out] == [(e.start, e.end) for e in events]
    heard_right = [len(set(normalize(line).split()) & set(normalize(ev.text).split())) >= len(line.split()) / 2
                   for line, ev in zip(lines, out)]
    assert sum(heard_right) >= 18, [ev.text for ev in out]


def test_the_two_tracks_of_a_call_are_heard_side_by_side(tiny):
    """An agent (espeak-ng en-gb, twenty turns: two windows) and a customer (flite slt on a
    noisy phone line, three turns): their windows go to Whisper in pairs, and each track gets
    back its own turns, in order, with its own words; the agent's second window, decoded after
    the customer's track has ended, too."""
    from voicebot.bench.callers import noise, telephone_band
    agent_lines = ["Thank you for calling, how can I help?", "I can look into that for you.",
                   "Could you read me the order number?", "Thank you, one moment please.",
                   "I see it left our warehouse on Monday.", "The carrier shows it as delivered.",
                   "I am sorry it did not reach you.", "I will open a claim with the carrier.",
                   "You will get an email within two days.", "Is there anything else I can do?"]
    agent_lines = agent_lines + agent_lines[::-1]
    customer_lines = ["My parcel never arrived.", "It is order five five one two.", "No, that's all, goodbye."]

    def track(lines, voice, phone):
        events, t = [], 1.0
        for i, line in enumerate(lines):
            audio = trim(speak(line, voice))
            if phone:
                audio = telephone_band(audio) + noise("white", len(audio) / 16000, -50.0, seed=i)[:len(audio)]
            events.append(SpeechEnded(round(t, 3), round(t + len(audio) / 16000, 3), audio.astype(np.float32), 16000))
            t += len(audio) / 16000 + 2.0
        return events

    agent, customer = track(agent_lines, "espeak:en-gb", False), track(customer_lines, "flite:slt", True)
    assert sum(len(e.samples) for e in agent) / 16000 > 30  # two windows
    # 30 s windows, one a track per batch: the agent's second window comes after the customer's last
    out = list(WholeCallASR(tiny, window_s=WINDOW_S, batch=2).tracks([iter(agent), iter(customer)],
                                                                     ["Brightline Home.", ""]))
    for i, (events, lines) in enumerate(((agent, agent_lines), (customer, customer_lines))):
        got = [ev for k, ev in out if k == i]
        assert all(isinstance(ev, Transcript) for ev in got)
        assert [(e.start, e.end) for e in got] == [(e.start, e.end) for e in events]  # every turn, in order
        heard_right = [len(set(normalize(line).split()) & set(normalize(ev.text).split())) >= len(line.split()) / 2
                       for line, ev in zip(lines, got)]
        assert sum(heard_right) >= len(lines) - 2, [ev.text for ev in got]
    customer_words = " ".join(normalize(ev.text) for k, ev in out if k == 1)
    assert "parcel" in customer_words or "order" in customer_words, customer_words
    assert not {"carrier", "warehouse", "claim"} & set(customer_words.split()), customer_words  # none of the agent's


def test_second_windows_after_texts_of_other_lengths_are_decoded_together(tiny):
    """Two tracks of two windows each: the second windows' prompts (each track's first window
    text) differ in length, which CTranslate2 cannot batch as they are (it raised ValueError)."""
    lines = ["I want to check on my order.", "It has not arrived yet.", "The tracking page says delivered.",
             "But there is nothing at my door.", "I was home all day yesterday.", "Could you look into it please?",
             "I would like a refund if it is lost.", "Or send a new one if you can."]
    streams = []
    for voice, script in (("espeak:en-us", lines + lines), ("flite:slt", lines[::-1] + lines[:6])):
        events, t = [], 0.0
        for line in script:
            audio = trim(speak(line, voice))
            events.append(SpeechEnded(round(t, 3), round(t + len(audio) / 16000, 3), audio, 16000))
            t += len(audio) / 16000 + 1.0
        assert _length(events) + MARGIN_S > WINDOW_S  # two windows
        streams.append(events)
    out = list(WholeCallASR(tiny, window_s=WINDOW_S, batch=2).tracks([iter(s) for s in streams]))
    for i, events in enumerate(streams):
        got = [ev for k, ev in out if k == i]
        assert [(e.start, e.end) for e in got] == [(e.start, e.end) for e in events]
        assert sum(bool(normalize(e.text)) for e in got[len(got) // 2:]) == len(got) - len(got) // 2


def test_a_window_read_twice_keeps_the_reading_that_hears_every_turn(tiny):
    """Two readings of each window (at its own length, and in Whisper's 30 s as plain Whisper
    reads a file), four turns of two voices in two windows, one batch: every turn comes back
    in its place with its words, as with one reading."""
    lines = ["I would like to return the headphones I bought.", "Do you accept PayPal?",
             "My order number is four four one two zero.", "Thank you, goodbye."]
    events, t = [], 0.0
    for i, line in enumerate(lines):
        audio = trim(speak(line, ("espeak:en-gb", "flite:slt")[i % 2]))
        events.append(SpeechEnded(round(t, 3), round(t + len(audio) / 16000, 3), audio, 16000))
        t += len(audio) / 16000 + 1.0
    heard = {}
    for twice in (False, True):
        out = list(WholeCallASR(tiny, window_s=6.0, batch=2, two_readings=twice)(iter(events)))
        assert [(e.start, e.end) for e in out] == [(e.start, e.end) for e in events]
        heard[twice] = [normalize(e.text) for e in out]
    for one, two, line in zip(heard[False], heard[True], lines):
        said = set(normalize(line).split())
        assert len(said & set(two.split())) >= len(said) / 2, heard
        assert len(said & set(one.split())) >= len(said) / 2, heard
    # the second reading itself (made only where the first is unsure): the first two turns in
    # Whisper's 30 s window, each word timed inside the audio and every turn given words
    audio = np.concatenate([events[0].samples, np.zeros(8000, np.float32), events[1].samples])
    got = tiny.transcribe_windows([(audio, MARGIN_S, "")], 5, full=True)[0]
    assert got is not None and all(0 <= a <= b <= len(audio) / 16000 + 0.1 for a, b, _ in got[1])
    cut = len(events[0].samples) / 16000 + 0.25
    first = normalize(" ".join(w for a, b, w in got[1] if (a + b) / 2 < cut))
    second = normalize(" ".join(w for a, b, w in got[1] if (a + b) / 2 >= cut))
    assert "return" in first and "accept" in second, got[0].text


def test_of_two_readings_the_one_that_leaves_no_turn_without_words_wins():
    """asr.whole_call.better: a reading that leaves a turn without a word loses to one that
    does not, however sure Whisper was of it; else the surer reading wins; the first on a tie."""
    spans = [(0.0, 2.0), (2.5, 4.0)]

    def reading(logprob, *times):
        return Recognition("x", 0.1, logprob), [(a, a + 0.3, " word") for a in times]
    both, first_only = reading(-0.6, 0.5, 3.0), reading(-0.2, 0.5, 1.0)
    assert better(first_only, both, spans) is both and better(both, first_only, spans) is both
    surer = reading(-0.3, 0.4, 3.1)
    assert better(both, surer, spans) is surer and better(surer, both, spans) is surer
    assert better(both, reading(-0.6, 0.5, 3.0), spans) is both  # a tie: the first reading
    assert better(None, first_only, spans) is first_only and better(both, None, spans) is both
    dot = Recognition("yes .", 0.1, -0.1), [(0.5, 0.8, " yes"), (3.0, 3.2, " .")]
    assert better(both, dot, spans) is both  # "." is no word
    # the second reading is made where the first failed, left a turn empty or was unsure
    assert _unsure(None, spans) and _unsure(dot, spans) and _unsure(first_only, spans)
    assert _unsure(both, spans) and not _unsure(surer, spans)  # -0.6 and -0.3 against SURE_LOGPROB


def test_turns_decoded_whole_beside_turn_by_turn_on_the_same_call(tmp_path):
    """The per-turn decode (live's, `asr.whole_call: false`) still serves recorded calls that ask
    for it; both find the same turns."""
    call = testcalls.TestCall("c", [("I need to cancel an order please.", ""), ("It's order one two three four.", ""),
                          ("Yes, please cancel it.", "")], "espeak:en-gb", "hum", -50.0, True)
    audio, _ = render(call)
    heard = {}
    for whole in (True, False):
        cfg = Config()
        cfg.asr.whole_call = whole
        bot = Bot(cfg)
        heard[whole] = [normalize(ev.text) for ev in bot.asr()(bot.vad()(frames(audio)))
                        if isinstance(ev, Transcript)]
    assert len(heard[True]) == len(heard[False]) == 3, heard
    assert "order" in heard[True][1] and "cancel" in heard[True][2], heard
    assert np.mean(["cancel" in h for h in heard[False]]) > 0.5, heard


class Windows:
    """A stand-in for the recognizer that records each window it is given and answers with
    one word per turn, timed where that turn lies in the window (the stage's own arithmetic
    is what is tested here; the real decode is tested above)."""

    def __init__(self, fail_first=False, skip=()):
        self.windows, self.alone, self.fail_first, self.skip = [], [], fail_first, skip

    def transcribe_words(self, audio, beam_size, margin_s, previous):
        self.windows.append((len(audio) / 16000, margin_s, previous))
        if self.fail_first and len(self.windows) == 1:
            return None  # a loop: every turn of the window is decoded alone
        words = []
        marks = np.flatnonzero(np.diff(np.r_[0.0, (audio != 0).astype(float)]) > 0)  # where each turn starts
        for i, start in enumerate(marks):
            if i not in self.skip:
                words.append((start / 16000 + 0.1, start / 16000 + 0.3, f" w{round(float(audio[start]) * 100)}"))
        return Recognition(" ".join(w for *_, w in words)), words

    def transcribe(self, audio, context=None):
        self.alone.append(len(audio))
        return Recognition(f"alone{round(float(audio[0]) * 100)}", 0.1, -0.2)


def turns(n, seconds):
    """n turns of `seconds` each; turn i's samples hold (i+1)/100, so its word names it."""
    return [SpeechEnded(float(10 * i), float(10 * i + seconds), np.full(int(seconds * 16000), (i + 1) / 100,
                        np.float32), 16000) for i in range(n)]


def test_windows_hold_at_most_30_s_and_every_turn_keeps_its_place():
    from asr.events import SpeechStarted
    rec = Windows()
    evs = [x for e in turns(9, 6.0) for x in (SpeechStarted(e.start), e)]
    out = list(WholeCallASR(rec, window_s=30.0, batch=1)(iter(evs)))
    assert [type(e).__name__ for e in out] == ["SpeechStarted", "Transcript"] * 9  # the order kept
    assert [e.text for e in out[1::2]] == [f"w{i + 1}" for i in range(9)]
    assert [(e.start, e.end) for e in out[1::2]] == [(e.start, e.end) for e in evs[1::2]]
    assert all(length + margin <= 30.0 for length, margin, _ in rec.windows)
    assert len(rec.windows) == 3  # 4 + 4 + 1 turns of 6 s, 0.5 s apart, 2 s margin
    assert rec.windows[1][2].endswith("w4")  # the last window's text goes on as the next's prompt
    assert not rec.alone


def test_the_configured_margin_follows_each_window_and_sets_how_many_turns_fit():
    for margin, sizes in ((2.0, [5, 5]), (3.0, [4, 4, 2])):  # five 5 s turns: 27 s, + 0.5 + margin
        rec = Windows()
        out = list(WholeCallASR(rec, margin_s=margin, window_s=30.0, batch=1)(iter(turns(10, 5.0))))
        assert [e.text for e in out] == [f"w{i + 1}" for i in range(10)]
        assert [m for _, m, _ in rec.windows] == [margin] * len(sizes)
        assert [round((length + 0.5) / 5.5) for length, _, _ in rec.windows] == sizes
    cfg = Config()
    cfg.asr.whole_call_margin_s, cfg.asr.whole_call_window_s, cfg.asr.whole_call_batch = 3.0, 12.0, 6
    bot = Bot(cfg)
    stage = bot.asr()
    assert (stage.margin_s, stage.window_s, stage.batch, stage.two_readings) == (3.0, 12.0, 6, True)
    cfg.asr.whole_call_two_readings = False  # one reading a window: about half Whisper's time
    assert not bot.asr().two_readings


def test_a_window_that_fails_or_skips_a_turn_is_decoded_turn_by_turn():
    rec = Windows(fail_first=True, skip={1})
    out = list(WholeCallASR(rec, window_s=30.0, batch=1)(iter(turns(6, 6.0))))
    texts = [e.text for e in out]
    assert texts[:4] == ["alone1", "alone2", "alone3", "alone4"]  # the failed window's turns, alone
    assert texts[4:] == ["w5", "alone6"]  # the turn the window passed over, alone
    long = Windows()  # one turn too long for a margin: decoded alone
    assert [e.text for e in WholeCallASR(long)(iter(turns(1, 29.0)))] == ["alone1"] and not long.windows


class Batches(Windows):
    """`Windows`, and a batch at a time as faster-whisper takes them: each batch's windows recorded."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def transcribe_windows(self, windows, beam_size):
        self.batches.append([(round(len(a) / 16000, 1), p) for a, _, p in windows])
        return [self.transcribe_words(a, beam_size, m, p) for a, m, p in windows]


def test_a_long_track_is_cut_into_even_windows_that_are_decoded_together():
    """Nine 6 s turns, then three of 2 s: three windows of three 6 s turns (19 s, under the 20 s
    cap; 19.5 s with the gap after the last), decoded in one batch with the text before them as
    their prompt, then the last window with theirs; every turn keeps its words and its place."""
    rec = Batches()
    out = list(WholeCallASR(rec, batch=3)(iter(turns(9, 6.0) + turns(12, 2.0)[9:])))
    assert [e.text for e in out] == [f"w{i + 1}" for i in range(12)]
    assert rec.batches == [[(19.5, ""), (19.5, ""), (19.5, "")]]
    assert len(rec.windows) == 4 and rec.windows[-1][0] == 7.5 and rec.windows[-1][2].endswith("w7 w8 w9")
    assert not rec.alone


def test_windows_of_a_batch_are_evened_out():
    """Four 6 s turns fill 20 s windows one after another as 19 | 6 s; a batch is padded to its
    longest, so they are decoded as two windows of two turns (12.5 s; 13 s with the gap after)."""
    rec = Batches()
    out = list(WholeCallASR(rec)(iter(turns(4, 6.0))))
    assert [e.text for e in out] == [f"w{i + 1}" for i in range(4)]
    assert rec.batches == [[(13.0, ""), (13.0, "")]]


def test_two_tracks_share_a_batch_two_windows_each():
    """An agent with six 6 s turns, a customer with ten: the first batch holds two windows of each
    track (three turns, 19 s), the second the customer's last four turns, evened out to two
    windows of two; each track's turns come back in order with their words."""
    rec = Batches()
    agent, customer = turns(6, 6.0), turns(10, 6.0)  # 38.5 s and 64.5 s with the gaps
    out = list(WholeCallASR(rec).tracks([iter(agent), iter(customer)]))
    assert [(k, e.text) for k, e in out] == [(0, f"w{i + 1}") for i in range(6)] + [(1, f"w{i + 1}") for i in range(10)]
    assert [[n for n, _ in b] for b in rec.batches] == [[19.5] * 4, [13.0, 13.0]]  # with the gap after each


def test_batched_windows_keep_every_event_in_its_place_and_a_long_turn_alone():
    """Each turn comes after its SpeechStarted with windows decoded four at a time, and a 25 s
    turn (over the 20 s cap) is a window of its own."""
    from asr.events import SpeechStarted
    rec = Batches()
    evs = turns(9, 6.0) + [SpeechEnded(90.0, 115.0, np.full(25 * 16000, 0.10, np.float32), 16000)]
    out = list(WholeCallASR(rec)(iter([x for e in evs for x in (SpeechStarted(e.start), e)])))
    assert [type(e).__name__ for e in out] == ["SpeechStarted", "Transcript"] * 10
    assert [e.text for e in out[1::2]] == [f"w{i + 1}" for i in range(10)]
    assert [[n for n, _ in b] for b in rec.batches] == [[19.5, 19.5, 19.5, 25.5]]
