"""The `voicebot` command: verbs grouped by use (`voicebot --help`), each handing its work to the
room that does it. Today's older spellings (`bench-asr`, `keygen`, ...) still work as aliases."""
from voicebot.cli.main import main

__all__ = ["main"]
