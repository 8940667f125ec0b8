"""A phone call's recording, stored after the call: redacted, then encrypted, as privacy asks.

The stereo 8 kHz recording (caller left, bot right) never touches the disk as it was: with
`privacy.redact` each channel is read again by the project's Whisper with word timestamps
(nlu/redact_audio.py), and every span that carried personal data on either side (the caller
reading a card number, the bot reading an email back, an echo of either) is silenced on both
channels; with `privacy.encrypt` the WAV is written encrypted (`ID.wav.enc`, voicebot.privacy.crypto).
Either way the file is mode 0600 and the folders made for it 0700: it is the caller's voice.
If the redaction cannot be done, the recording is not stored (one error line says why).

This runs on a thread of its own once the call has ended (voicebot.phone.call), one recording at a
time: the Whisper passes share the CPU with the calls still going on.
"""
from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path

import numpy as np

from asr.audio import resample
from nlu.redact_audio import redact_audio
from voicebot.privacy.crypto import write_bytes

log = logging.getLogger("voicebot.phone.recording")
RATE = 8000
_ONE_AT_A_TIME = threading.Lock()
_pending: set[threading.Thread] = set()  # recordings being stored (their threads are not daemons:
                                          # a server stopping still writes them)


def stereo(caller: list[np.ndarray], bot: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """int16 (n, 2): the caller's samples left, the bot's frames right at the caller sample
    count when each was sent (one clock)."""
    n_caller = sum(len(c) for c in caller)
    n = max([n_caller] + [at + len(a) for at, a in bot])
    pcm = np.zeros((n, 2), np.int16)
    if caller:
        pcm[:n_caller, 0] = np.concatenate(caller)
    for at, a in bot:
        pcm[at:at + len(a), 1] = a
    return pcm


def redact_channels(recognizer, pcm: np.ndarray) -> list[dict]:
    """Silences, in place, the spans of `pcm` (int16 stereo, 8 kHz) that carried personal data;
    returns them ({channel, kind, start, end}, seconds)."""
    spans = []
    for ch, who in enumerate(("caller", "bot")):
        x = pcm[:, ch].astype(np.float32) / 32768
        if not np.any(np.abs(x) > 0.01):
            continue  # nothing said on this side (the bot's channel is exact zeros between replies)
        # a second of silence after it: without one Whisper drops the last words
        x16 = np.concatenate([resample(x, RATE, 16000), np.zeros(16000, np.float32)])
        _, found = redact_audio(recognizer, x16)
        spans += [{"channel": who, "kind": s.kind, "start": s.start, "end": s.end} for s in found]
    for s in spans:  # both channels: the other side may carry it too (line echo, a read-back)
        pcm[int(s["start"] * RATE):int(s["end"] * RATE) + 1, :] = 0
    return spans


def store(pcm: np.ndarray, path: Path, recognizer=None, vault=None) -> Path | None:
    """Writes the recording to `path` (`path.enc` with a vault), redacted first when given the
    recognizer. Returns the path written, or None (logged) when it could not be stored."""
    import soundfile as sf
    if recognizer is not None:
        try:
            spans = redact_channels(recognizer, pcm)
        except Exception as e:  # a backend without word timestamps, a model that failed: keep nothing
            log.error("%s: not stored: its personal data could not be silenced (%s: %s)", path.name,
                      type(e).__name__, e)
            return None
        if spans:
            log.info("%s: %d span(s) silenced: %s", path.name, len(spans),
                     ", ".join(f"{s['kind']} {s['start']:.1f}-{s['end']:.1f} s" for s in spans))
    buf = io.BytesIO()
    sf.write(buf, pcm, RATE, subtype="PCM_16", format="WAV")
    try:
        return write_bytes(path, buf.getvalue(), vault, private=True)  # 0600, its folder 0700 if made
    except OSError as e:
        log.warning("%s: audio not saved: %s", path, e)
        return None


def store_after_call(call_id: str, pcm: np.ndarray, path: Path, recognizer, vault, record_store,
                     done: threading.Event, writer: threading.Thread | None = None):
    """`store`, then the record's audio_path (once `writer`, the thread writing the record, is
    done: its last write would otherwise blank the path); `done` is set either way."""
    try:
        with _ONE_AT_A_TIME:
            written = store(pcm, path, recognizer, vault)
        if writer is not None:
            writer.join()
        if written is not None and record_store is not None:
            record_store.set_audio(call_id, str(written))
    except Exception as e:  # nothing here may go unsaid, nor kill anything else
        log.error("call %s: recording not stored: %s: %s", call_id[:8], type(e).__name__, e)
    finally:
        done.set()


def store_later(call_id: str, pcm: np.ndarray, path: Path, recognizer, vault, record_store, done: threading.Event,
                writer: threading.Thread | None = None) -> None:
    """`store_after_call` on a thread of its own (`phone-audio`)."""
    def run():
        try:
            store_after_call(call_id, pcm, path, recognizer, vault, record_store, done, writer)
        finally:
            _pending.discard(threading.current_thread())
    t = threading.Thread(target=run, name="phone-audio")
    _pending.add(t)
    t.start()


def wait_stored(timeout: float | None = None) -> bool:
    """Waits for the recordings still being stored; True when none is left."""
    end = None if timeout is None else time.monotonic() + timeout
    for t in list(_pending):
        t.join(None if end is None else max(0.0, end - time.monotonic()))
    return not _pending
