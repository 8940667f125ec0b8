"""Turn-taking for live calls: when the caller has finished, and when they cut in.

`TurnTaker` is a stage after the VAD's `Segmenter`, which runs with a short hangover
(`live.short_pause_ms`), so every short pause ends a segment. At each one the words so far
are transcribed and understood speculatively; from them the stage decides how much silence
ends the turn: `complete_ms` for a complete, confident request (`short_answer_ms` if it is
one or two words), `silence_ms` when unsure, `incomplete_ms` after a filler or an unfinished
phrase ("my order number is"). The transcript is ready by then, so a confident turn is
answered as soon as its silence is up. If the caller speaks again before that, the guess is
dropped and the next segment is heard together with the earlier ones.

The decode begins where the voice stopped (the Segmenter's SpeechPaused), not when the hangover
is up, if Whisper's queue is free (`live.decode_at_pause`); the SpeechEnded that follows with
the same start and end takes its words. A pause the caller goes on from wastes that decode,
which is why a busy queue is left alone. With `live.decode_priority` it is queued even so, as a
guess behind every call's turn decodes (asr/batching.py); if it has not begun when the hangover
is up, the turn is decoded as any other.

While the bot is talking, caller speech is a barge-in candidate: once it has lasted
`min_voiced_ms` it is looked at (and again every 0.2 s or so while it goes on): it interrupts
only if it holds voiced, periodic sound (a cough has none), Whisper is sure of its words, and
they are not a backchannel ("uh-huh", "okay", "right") nor the bot's own reply coming back.
A candidate that ends without interrupting is dropped, not answered.

Reading the words takes a few hundred ms, so the bot first holds: at `hold_voiced_ms` of voiced
sound over its reply it pauses playback (`Hold(on=True)`), then either interrupts or, when the
words turn out to be a backchannel or its own echo, resumes where it paused (`Hold(on=False)`).
A cough or a click has no voicing and never pauses it.
"""
from __future__ import annotations

import re
import time
from collections import deque
from concurrent.futures import CancelledError
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np

from asr.base import ASRStage, Context, Hearing, is_silence
from asr.events import AudioFrame, SpeechEnded, SpeechPaused, SpeechStarted, Transcript
from nlu.events import BotReply, Hold, Interrupted, NLUResult
from nlu.stage import NLUStage

BACKCHANNEL = set("uh-huh uh huh mm mhm mm-hmm hmm um okay ok right yeah yes yep sure alright all i see got it "
                  "oh ah aha good great fine cool thank thanks you".split())
ONE_WORD_LOGPROB = -0.8  # how sure Whisper must be of a lone word heard over the bot
# a lone word cuts the bot off only if it is one of these. "no" is not: a backchannel heard
# through the bot's echo comes back as one random sure word ("okay" as "No", "Rocky", "Don't", "6"
# at log-prob -0.6 to -0.7, in 1 of 3 runs of tests/test_live.py), and a "no" meant to cut in
# goes on with words that do
CUT_IN = set("stop wait sorry hold hang excuse actually hey hello but cancel agent operator representative "
             "human pardon what".split())
FILLERS = set("um uh er erm hmm mm like so well".split())
# a request does not end on these words
# "numbers" and "number's": Whisper's way with "number is" before a pause ("The order numbers",
# then the digits: answered 0.9 s before the caller had finished, in bench-calls)
UNFINISHED = set("a an the to of for and or but because with my your our is are was am it's i'm about from on "
                 "in at by if that this it number numbers number's".split()) - {"it"}
BE, SUBJECTS = {"is", "are", "was", "am"}, set("it that this he she they we i you".split())  # "leave it as it is"
# "in"/"on" that end a phrasal verb end the phrase: "I can't log in" is complete (measured: the
# turn waited incomplete_ms, 1.8 s to the reply). "check on" is not here: "I want to check on..."
PARTICLE_VERBS = set("log logged logging sign signed signing plug plugged come came get got".split())
RESUME_AFTER_S = 0.35  # quiet after speech that paused the bot and was no barge-in, before it goes on
HUM = re.compile(r"[mhn]+")
WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def voiced_s(audio: np.ndarray, rate: int = 16000) -> float:
    """Seconds of periodic sound (a voice's pitch, 70-400 Hz) in `audio`. A cough, a click or a
    breath is noise, with none; the shortest "right" or "wait" has 0.15 s (measured)."""
    n = rate * 30 // 1000
    frames = [audio[i:i + n] for i in range(0, len(audio) - n + 1, n)]
    if not frames:
        return 0.0
    rms = np.array([np.sqrt(np.mean(f ** 2)) for f in frames])
    floor = max(0.1 * float(rms.max()), 1e-3)  # within 20 dB of the loudest
    return sum(periodic(f, rate) for f, e in zip(frames, rms) if e >= floor) * n / rate


def periodic(frame: np.ndarray, rate: int = 16000) -> bool:
    f = frame - frame.mean()
    ac = np.correlate(f, f, "full")[len(f) - 1:]
    return bool(ac[rate // 400:rate // 70].max() > 0.5 * (ac[0] + 1e-12))


class VoiceMeter:
    """voiced_s of a burst as it arrives, 30 ms at a time: the hold is decided on every frame,
    and reading the whole burst again each time cost the listener real time on 2 cores."""

    def __init__(self, rate: int = 16000):
        self.rate, self.n = rate, rate * 30 // 1000
        self.pending: list[np.ndarray] = []
        self.voiced = 0.0
        self.loudest = 0.0

    def add(self, samples: np.ndarray) -> float:
        self.pending.append(samples)
        if sum(len(x) for x in self.pending) >= self.n:
            buf = np.concatenate(self.pending)
            k = len(buf) // self.n * self.n
            for i in range(0, k, self.n):
                f = buf[i:i + self.n]
                e = float(np.sqrt(np.mean(f ** 2)))
                self.loudest = max(self.loudest, e)
                if e >= max(0.1 * self.loudest, 1e-3) and periodic(f, self.rate):
                    self.voiced += self.n / self.rate
            self.pending = [buf[k:]]
        return self.voiced


def digits(w: list[str]) -> list[str]:
    """"4567" -> "4", "5", "6", "7": the bot reads numbers digit by digit, Whisper writes them whole."""
    return [d for x in w for d in (list(x) if x.isdigit() else [x])]


def end_wait_s(nlu: NLUResult, cfg) -> float:
    """Silence after the last word that ends this turn, from what the words say."""
    w = words(nlu.text)
    ends_open = bool(w) and w[-1] in UNFINISHED and not (
        len(w) > 1 and (w[-1] in BE and w[-2] in SUBJECTS or w[-1] in ("in", "on") and w[-2] in PARTICLE_VERBS))
    if not w or w[-1] in FILLERS or ends_open or nlu.text.rstrip().endswith((",", "...", "…", "-")):
        return cfg.incomplete_ms / 1000
    if nlu.confidence >= cfg.confident and nlu.intent != "out_of_scope":
        return (cfg.complete_ms if len(w) >= 3 else cfg.short_answer_ms) / 1000
    return cfg.silence_ms / 1000


def interrupts(text: str, reply: BotReply | None, cautious: bool = False) -> bool:
    """Words heard over the bot's voice that mean the caller wants the floor: two words or more
    that are not the bot's own, or one word people cut in with (`cautious`: two words always)."""
    w = words(text)
    # uh-huh, uh-uh, mm-hmm are backchannels too; "A-A-A" (a mumble, Whisper's way) is no word
    # a hum is no word either, however Whisper spells it ("mhm", "NMHM", "hm-hm")
    content = [x for x in w if not all(p in BACKCHANNEL or len(p) < 2 or HUM.fullmatch(p) for p in x.split("-"))]
    if not content:
        return False  # a backchannel, or nothing (a cough, a click)
    if reply is not None:  # the bot's own words coming back through the microphone
        said, w = set(digits(words(reply.text))), digits(w)
        if sum(x in said for x in w) >= 0.8 * len(w):
            return False
    if cautious:
        return len(content) >= 2
    return len(content) >= 2 or content[0] in CUT_IN


class _Early(NamedTuple):
    """A guess begun where the voice stopped (SpeechPaused), before the hangover was up."""
    start: float
    end: float
    samples: int
    heard: list[Context]  # the turns heard before it: its context
    hearing: Hearing


@dataclass(frozen=True)
class Heard:
    """A microphone frame that has passed the VAD: the stage's clock and its audio."""
    frame: AudioFrame


def tag_frames(events: Iterable) -> Iterator:
    """Stage before the Segmenter: each frame goes on to it and is also seen after it."""
    for ev in events:
        yield ev
        if isinstance(ev, AudioFrame):
            yield Heard(ev)


class TurnTaker:
    """Stage: SpeechStarted/SpeechEnded/Heard in; Transcript + NLUResult per caller turn and
    Interrupted (reply left to the session to fill in) out."""

    def __init__(self, recognizer, nlu, cfg, now_playing: Callable[[], BotReply | None],
                 no_speech_threshold: float = 0.6, keep_s: float = 30.0, context_s: float = 10.0):
        self.asr = ASRStage(recognizer, no_speech_threshold, context_s)
        # guesses at pauses, behind the turns' decodes: the queue's guess side, where it has one
        guesses = getattr(recognizer, "guesses", None)
        self.guess_asr = ASRStage(guesses(), no_speech_threshold, context_s) \
            if getattr(cfg, "decode_priority", False) and callable(guesses) else None
        self.nlu = NLUStage(nlu)
        self.cfg = cfg
        self.now_playing = now_playing
        self.frames: deque[AudioFrame] = deque(maxlen=int(keep_s / 0.01))
        # the caller's answered turns, heard before each new one (asr.context_s), as recorded
        # calls are: on the 12 live test calls WER 11.7-15.7 % without, 5.6-6.1 % with (benchmarks.md)
        self.heard: deque[Context] = deque(maxlen=20)
        self._guess: Context | None = None  # the latest guess's audio and words, kept if it is answered
        self._early: _Early | None = None

    def audio(self, start: float, end: float) -> np.ndarray | None:
        audio = [f.samples for f in self.frames if f.t + len(f.samples) / f.sample_rate > start and f.t < end]
        return np.concatenate(audio) if audio else None

    def begin(self, start: float, end: float) -> None:
        """Where the voice stops: decode the turn so far now, if the decoder is free, so that
        its words are (nearly) ready when the hangover is up and `understand` asks for them."""
        self.drop_early()
        idle = getattr(self.asr.recognizer, "idle", None)
        if self.guess_asr is None and (not callable(idle) or not idle()):
            return
        audio = self.audio(start, end)
        if audio is None:
            return
        heard = list(self.heard)
        stage = self.guess_asr or self.asr
        self._early = _Early(start, end, len(audio), heard,
                             stage.hear_later(SpeechEnded(start, end, audio, self.frames[0].sample_rate), heard))

    def drop_early(self) -> None:
        if self._early is not None:
            self._early.hearing.cancel()
            self._early = None

    def understand(self, start: float, end: float) -> NLUResult | None:
        audio = self.audio(start, end)
        if audio is None:
            return None
        early, self._early = self._early, None
        heard = list(self.heard)
        ended = SpeechEnded(start, end, audio, self.frames[0].sample_rate)
        # the same audio after the same turns: the words are the early decode's (the VAD's end
        # and the pause's are one time, rounded alike; within 2 ms for float sums)
        if early is not None and abs(early.start - start) < 0.002 and abs(early.end - end) < 0.002 and \
                early.samples == len(audio) and len(early.heard) == len(heard) and \
                all(a is b for a, b in zip(early.heard, heard)):
            if self.guess_asr is not None:
                early.hearing.cancel()  # a guess not begun yet: decoded now as a turn, before the guesses
            try:
                transcript, self._guess = early.hearing.result()
            except CancelledError:  # ... or dropped by the queue
                transcript, self._guess = self.asr.hear(ended, heard)
        else:
            if early is not None:
                early.hearing.cancel()
            transcript, self._guess = self.asr.hear(ended, heard)
        if transcript is None:
            return None
        return next((r for r in self.nlu([transcript]) if isinstance(r, NLUResult)), None)

    def words_over_bot(self, start: float, end: float, early: bool = True) -> str:
        """What the caller said over the bot's voice, when it was surely speech: some voicing
        (not a cough), and words Whisper is sure of (on noise it makes up sentences); `early`
        (the caller is still speaking: a fragment) asks for surer words than a whole burst."""
        audio = self.audio(start, end)
        if audio is None or voiced_s(audio) < 0.1:
            return ""
        r = self.asr.recognizer.transcribe(audio)
        # one word over the bot's voice is most often a backchannel misheard through the echo
        # ("okay" as "Loki", "Roki": avg log-prob -1.1 to -1.4 in tests/test_live.py), whatever
        # its length; a word said to cut in is heard surer than that
        one_word = len(words(r.text)) == 1
        unsure = is_silence(r, self.asr.no_speech_threshold) or (
            (early or one_word) and r.avg_logprob < (ONE_WORD_LOGPROB if one_word else -1.0))
        return "" if unsure else r.text

    def __call__(self, events: Iterable) -> Iterator:
        cfg = self.cfg
        mode = cfg.barge_in
        if mode not in ("on", "off", "cautious"):
            raise ValueError(f"live.barge_in must be on, off or cautious, not {mode!r}")
        cautious = mode == "cautious"
        first_check = (cfg.cautious_voiced_ms if cautious else cfg.min_voiced_ms) / 1000
        turn_start = turn_end = None  # the turn being heard: its first segment's start, its last's end
        spec: NLUResult | None = None  # what the words so far mean (None: no words yet)
        wait = 0.0  # ... and the silence after turn_end that ends the turn
        burst: float | None = None  # start of the caller speech now going on
        over_bot = interrupted = False  # it is heard over the bot's voice; it has cut the bot off
        cand, cand_until = None, -1.0  # start of the speech over the bot (bursts a short pause apart are one)
        check_at = now = 0.0
        hold_s = cfg.hold_voiced_ms / 1000 if mode != "off" else 0.0
        held = False  # playback paused for the speech going on over it
        meter: VoiceMeter | None = None  # the voicing of the speech over the bot so far
        resume_at: float | None = None  # the speech over the bot was not a barge-in: go on then
        for ev in events:
            if isinstance(ev, Heard):
                self.frames.append(ev.frame)
                now = ev.frame.t + len(ev.frame.samples) / ev.frame.sample_rate
                reply = self.now_playing()
                if burst is not None and reply is not None and not interrupted:
                    if not over_bot:  # the bot began to speak during this burst
                        over_bot, cand, check_at = True, burst, burst + first_check
                    if hold_s and not held:
                        if meter is None:  # from the burst's (pre-rolled) start
                            meter = VoiceMeter(ev.frame.sample_rate)
                            seen = self.audio(cand, now - len(ev.frame.samples) / ev.frame.sample_rate)
                            if seen is not None:
                                meter.add(seen)
                        if meter.add(ev.frame.samples) >= hold_s:
                            held = True
                            yield Hold(round(now, 3), True)
                    if mode != "off" and now >= check_at:
                        t0 = time.perf_counter()
                        if interrupts(self.words_over_bot(cand - 0.2, now), reply, cautious):
                            interrupted, held = True, False
                            yield Interrupted(round(now, 3), reply, 0.0)
                        # look again soon, but not so often that transcribing makes us fall behind
                        check_at = now + max(0.2, 2 * (time.perf_counter() - t0))
                if held and resume_at is None and burst is None:
                    resume_at = now + RESUME_AFTER_S  # every pause ends: in a barge-in, or going on
                if held and resume_at is not None and burst is None and now >= resume_at:
                    held, resume_at = False, None
                    yield Hold(round(now, 3), False)
                if turn_start is not None and burst is None and now - turn_end >= wait:
                    if spec is not None:
                        yield from self._release(spec)
                    turn_start = spec = None  # (no words by now: it was noise)
            elif isinstance(ev, SpeechStarted):
                burst, interrupted, spec, meter = ev.t, False, None, None  # the caller goes on: what we guessed is void
                resume_at = None
                over_bot = self.now_playing() is not None
                if over_bot:
                    if cand is None or ev.t > cand_until:
                        cand, check_at = ev.t, ev.t + first_check
                    else:  # more after a short pause: look again at all of it soon
                        check_at = ev.t + 0.15
            elif isinstance(ev, SpeechPaused):
                if cfg.decode_at_pause and not over_bot and self.now_playing() is None:
                    self.begin(turn_start if turn_start is not None else ev.start, ev.end)
            elif isinstance(ev, SpeechEnded):
                burst = None
                if over_bot and not interrupted:
                    playing = self.now_playing()
                    # a short burst is a backchannel more often than not: it needs words as sure as a fragment
                    span = ev.end - cand
                    heard = self.words_over_bot(cand - 0.2, ev.end, span < 0.8) if span >= first_check else ""
                    if not interrupts(heard, playing, cautious):
                        over_bot, cand_until = False, ev.end + 0.6
                        # go on soon, unless more comes ("Wait, ..." goes on): then it stays paused
                        resume_at = ev.end + RESUME_AFTER_S
                        self.drop_early()
                        continue  # a click, a cough, a backchannel or echo: not a turn
                    if mode != "off" and playing is not None:
                        yield Interrupted(round(now, 3), playing, 0.0)
                    elif held:  # nothing left to cut: the pause must still end
                        yield Hold(round(now, 3), False)
                    interrupted, held = True, False
                if over_bot and interrupted and turn_start is None:
                    turn_start = cand  # the turn began with the speech that cut in
                over_bot = interrupted = False
                cand = None
                # a turn begins at the VAD's start, its 300 ms pre-roll included. (Reaching 0.3 s further
                # back, for soft onsets Silero calls late, did nothing from e28d93d on: the segment's own
                # end was taken as the limit. Made to work again, it lost "goodbye" of "Thanks,
                # goodbye." after an earlier turn in 3 of 4 runs of tests/test_live.py: taken out.)
                if turn_start is None:
                    turn_start = ev.start
                turn_end = ev.end
                spec = self.understand(turn_start, turn_end)
                # no words yet (noise, or a phrase Whisper cannot make out alone): wait for more
                wait = end_wait_s(spec, cfg) if spec is not None else cfg.incomplete_ms / 1000
                if spec is not None and now - turn_end >= wait:
                    yield from self._release(spec)
                    turn_start = spec = None
            else:
                yield ev
        self.drop_early()
        if spec is not None:
            yield from self._release(spec)

    def _release(self, nlu: NLUResult) -> Iterator:
        if self._guess is not None:  # the guess that gave `nlu` (the latest): the turn's words
            self.heard.append(self._guess)
            self._guess = None
        yield Transcript(nlu.text, nlu.start, nlu.end, nlu.asr_ms)
        yield nlu
