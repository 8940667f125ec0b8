"""Understanding and dialogue: what the caller wants (intent, sentiment, entities: the trained
multi-task model or the embedding baseline, stage.py) and what the bot says back (dialogue.py,
answering from the domain file, the FAQ and the order database)."""
from __future__ import annotations

from nlu.stage import load_nlu

__all__ = ["load_nlu"]
