"""Speech in: voice activity detection and Whisper recognition."""
from __future__ import annotations

from asr.faster import FasterWhisper
from asr.openai_whisper import OpenAIWhisper

__all__ = ["BACKENDS", "load_recognizer"]

BACKENDS = ("faster-whisper", "openai-whisper")


def load_recognizer(backend: str = "faster-whisper", model: str = "base", **options):
    """One interface for both Whisper backends; the faster one is the default."""
    if backend == "faster-whisper":
        return FasterWhisper(model, **options)
    if backend == "openai-whisper":
        return OpenAIWhisper(model, **options)
    raise ValueError(f"unknown ASR backend {backend!r} ({', '.join(BACKENDS)})")
