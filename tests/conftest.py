"""Shared fixtures: real models and real audio, loaded once per test session."""
from __future__ import annotations

import os
import signal
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
# a suite started in the background by a non-interactive shell (`make test &`, nohup) inherits
# Ctrl-C ignored, and so would the servers the tests start and stop with it (found: two tests saw
# exit 0, not 130); a handled signal is reset to the default in a child, an ignored one is not
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory):
    """Keep the test run's caches (the NLU baseline, MiniLM exported to ONNX) out of the user's home."""
    if "VOICEBOT_TEST_CACHE" in os.environ:
        os.environ["VOICEBOT_CACHE"] = os.environ["VOICEBOT_TEST_CACHE"]
        return
    # one cache for the run's workers (pytest-xdist): the baseline is trained and MiniLM exported
    # once, not once a worker; what goes in it is written atomically (asr.files)
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "cache"
    cache.mkdir(exist_ok=True)
    os.environ["VOICEBOT_CACHE"] = str(cache)
    # the joined Whisper base model is large: reuse the user's copy when there is one
    home = Path.home() / ".cache" / "voicebot" / "models"
    if home.is_dir():
        try:
            os.symlink(home, cache / "models")
        except FileExistsError:  # the other worker's
            pass


@pytest.fixture(scope="session")
def manifest():
    import json
    return json.loads((SAMPLES / "manifest.json").read_text())


@pytest.fixture(scope="session")
def jfk_audio():
    from asr.audio import load_audio
    return load_audio(JFK)


@pytest.fixture(scope="session")
def tiny():
    from asr.faster import FasterWhisper
    return FasterWhisper("tiny.en")


@pytest.fixture(scope="session")
def piper():
    from tts.piper import PiperTTS
    return PiperTTS(device="cpu")


def phone_line(text: str, voice: str) -> np.ndarray:
    """A caller's line as the bot hears it from `voicebot bench calls`: spoken, telephone band,
    8 kHz mu-law, back at 16 kHz."""
    from asr.audio import resample
    from voicebot.bench.calls import line_audio
    from voicebot.phone.call import decode
    return resample(decode(line_audio(text, voice), "pcmu"), 8000, 16000)


def turn_events(audio: np.ndarray, start: float, end: float, paused: float | None = None, on_end=None):
    """The VAD's events for one utterance of `audio` (16 kHz) as the turn-taker gets them:
    SpeechStarted, every 30 ms frame (Heard), SpeechPaused 30 ms after `paused` (default: the
    utterance's `end`) and SpeechEnded 160 ms after `end` (`on_end()` called just before)."""
    from asr.events import AudioFrame, SpeechEnded, SpeechPaused, SpeechStarted
    from voicebot.live.turns import Heard
    rate = 16000
    paused = end if paused is None else paused
    said = set()
    yield SpeechStarted(start)
    for i in range(0, len(audio) - 479, 480):
        yield Heard(AudioFrame(audio[i:i + 480], rate, i / rate))
        now = (i + 480) / rate
        if now >= paused + 0.03 and "paused" not in said:
            said.add("paused")
            yield SpeechPaused(start, paused)
        if now >= end + 0.16 and "ended" not in said:
            said.add("ended")
            if on_end is not None:
                on_end()
            yield SpeechEnded(start, end, audio[int(start * rate):int(end * rate)], rate)


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server (the Debian package) in a temporary directory, for the session.
    initdb and pg_ctl refuse to run as root: as root they run as the postgres user."""
    import shutil
    import socket
    import subprocess
    import tempfile
    bin_dir = Path("/usr/lib/postgresql")
    versions = sorted(bin_dir.glob("*/bin/pg_ctl"))
    assert versions, "PostgreSQL is not installed (the Makefile's LIVE_DEBS has postgresql)"
    bin_dir = versions[-1].parent
    run_as = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
    d = tempfile.mkdtemp(prefix="pgtest.")  # not pytest's tmp_path: it is mode 700, postgres cannot enter
    if run_as:
        shutil.chown(d, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([bin_dir / "initdb", "-D", f"{d}/data", "-A", "trust", "-U", "postgres", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True, **run_as)
    subprocess.run([bin_dir / "pg_ctl", "-D", f"{d}/data", "-l", f"{d}/log", "-w", "-o",
                    f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True, **run_as)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([bin_dir / "pg_ctl", "-D", f"{d}/data", "-m", "fast", "-w", "stop"], capture_output=True, **run_as)
        shutil.rmtree(d, ignore_errors=True)
