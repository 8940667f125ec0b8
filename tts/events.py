"""What the voice produces: reply audio, a chunk at a time."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlu.events import BotReply


@dataclass(frozen=True)
class AudioChunk:
    """Synthesized reply audio: mono float32 in [-1, 1]."""
    samples: np.ndarray
    sample_rate: int
    reply: BotReply
    index: int = 0  # 0 for the first chunk of a reply
    last: bool = False  # the reply's end: an empty chunk after its last sentence
    first_audio_ms: float = 0.0  # reply text to its first chunk (set on every chunk)
