"""Endpointing on real speech and on synthetic edge cases, for both VAD engines."""
import numpy as np
import pytest

from asr.vad import Segmenter, VADSettings
from tests.conftest import JFK, SAMPLES, tone
from voicebot.audio import file_frames, frames
from voicebot.events import SpeechEnded, SpeechStarted, Transcript


def utterances(path, **settings):
    return [e for e in Segmenter(VADSettings(**settings))(file_frames(path)) if isinstance(e, SpeechEnded)]


@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_sample_call_turns_are_found(engine, manifest):
    call = manifest["calls"][0]
    found = utterances(SAMPLES / call["file"], engine=engine)
    assert len(found) == len(call["turns"])
    for got, want in zip(found, call["turns"]):
        # pre-roll starts a little early; the end is the last voiced window
        assert want["start"] - 0.5 <= got.start <= want["start"] + 0.2
        assert abs(got.end - want["end"]) < 0.4
        assert len(got.samples) / 16000 == pytest.approx(got.end - got.start, abs=0.3)


@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_silence_and_noise_give_no_utterance(engine):
    quiet = [np.zeros(16000 * 5, np.float32), np.random.default_rng(1).normal(0, 0.001, 16000 * 5).astype(np.float32)]
    events = list(Segmenter(VADSettings(engine=engine))(frames(iter(quiet))))
    assert events == []


def test_speech_start_precedes_end_and_other_events_pass():
    marker = Transcript("kept", 0, 0)
    evs = list(Segmenter()(iter([marker, *file_frames(JFK)])))
    assert evs[0] is marker
    kinds = [type(e) for e in evs[1:]]
    assert kinds[0] is SpeechStarted and kinds[-1] is SpeechEnded
    assert kinds.count(SpeechStarted) == kinds.count(SpeechEnded)


def test_min_speech_drops_clicks():
    click = np.concatenate([np.zeros(16000), tone(0.12, 16000, 800), np.zeros(16000)])
    kept = [e for e in Segmenter(VADSettings(min_speech_ms=250))(frames(iter([click])))
            if isinstance(e, SpeechEnded)]
    assert kept == []


def test_long_speech_is_cut_at_max_utterance():
    found = utterances(JFK, max_utterance_s=3.0, hangover_ms=2000)
    assert len(found) >= 3
    assert all(u.end - u.start <= 3.5 for u in found)


def test_hangover_controls_splitting():
    long_hangover = utterances(JFK, hangover_ms=1500)
    short_hangover = utterances(JFK, hangover_ms=200)
    assert len(long_hangover) < len(short_hangover)


def test_bad_settings():
    with pytest.raises(ValueError):
        Segmenter(VADSettings(engine="nope"))
    with pytest.raises(ValueError):
        Segmenter(VADSettings(aggressiveness=7))
