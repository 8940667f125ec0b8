"""Speech out: text-to-speech engines behind one protocol."""
from __future__ import annotations

ENGINES = ("piper", "coqui")


def load_synthesizer(engine: str = "piper", **options):
    if engine == "piper":
        from tts.piper import PiperTTS
        return PiperTTS(**options)
    if engine == "coqui":
        from tts.coqui import CoquiTTS
        return CoquiTTS(**options)
    raise ValueError(f"unknown TTS engine {engine!r} ({', '.join(ENGINES)})")
