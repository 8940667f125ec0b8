"""Speech out: text-to-speech engines behind one protocol."""
from __future__ import annotations

from tts.coqui import CoquiTTS
from tts.piper import PiperTTS

__all__ = ["ENGINES", "load_synthesizer"]

ENGINES = ("piper", "coqui")


def load_synthesizer(engine: str = "piper", **options):
    """One interface for both voices; Piper is the default."""
    if engine == "piper":
        return PiperTTS(**options)
    if engine == "coqui":
        return CoquiTTS(**options)
    raise ValueError(f"unknown TTS engine {engine!r} ({', '.join(ENGINES)})")
