"""The output side of a live call, shared by every transport."""
from __future__ import annotations


def cut_in(outbox, msg, is_audio) -> None:
    """The control path of a barge-in: queued audio not yet sent is dropped and `msg` goes out
    first, ahead of the other messages (used by the browser and the media-stream calls)."""
    kept = [m for m in outbox if not is_audio(m)]
    outbox.clear()
    outbox.append(msg)
    outbox.extend(kept)
