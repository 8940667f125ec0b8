"""Shared fixtures: real models and real audio, loaded once per test session."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "audio_samples"
SHARED = ROOT.parent / "shared"
JFK = SHARED / "audio" / "jfk.flac"
WHISPER_PT = SHARED / "models" / "openai-whisper" / "tiny.en.pt"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Keep the test run's caches (order DB, NLU baseline) out of the user's home."""
    if "VOICEBOT_TEST_CACHE" in os.environ:
        os.environ["VOICEBOT_CACHE"] = os.environ["VOICEBOT_TEST_CACHE"]
    else:
        os.environ["VOICEBOT_CACHE"] = str(tmp_path_factory.mktemp("cache"))
        # the joined Whisper base model is large: reuse the user's copy when there is one
        home = Path.home() / ".cache" / "voicebot" / "models"
        if home.is_dir():
            os.symlink(home, Path(os.environ["VOICEBOT_CACHE"]) / "models")


@pytest.fixture(scope="session")
def manifest():
    import json
    return json.loads((SAMPLES / "manifest.json").read_text())


@pytest.fixture(scope="session")
def jfk_audio():
    from voicebot.audio import load_audio
    return load_audio(JFK)


@pytest.fixture(scope="session")
def tiny():
    from asr.faster import FasterWhisper
    return FasterWhisper("tiny.en")


@pytest.fixture(scope="session")
def piper():
    from tts.piper import PiperTTS
    return PiperTTS(device="cpu")


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
