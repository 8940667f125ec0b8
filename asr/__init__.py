"""Speech in: voice activity detection and Whisper recognition."""
from __future__ import annotations

BACKENDS = ("faster-whisper", "openai-whisper")


def load_recognizer(backend: str = "faster-whisper", model: str = "base", **options):
    """One interface for both Whisper backends; the faster one is the default."""
    if backend == "faster-whisper":
        from asr.faster import FasterWhisper
        return FasterWhisper(model, **options)
    if backend == "openai-whisper":
        from asr.openai_whisper import OpenAIWhisper
        return OpenAIWhisper(model, **options)
    raise ValueError(f"unknown ASR backend {backend!r} ({', '.join(BACKENDS)})")
