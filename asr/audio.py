"""Reading call audio: any rate, any common encoding, mono or stereo, streamed in frames.

Everything downstream sees mono float32 at 16 kHz (what Whisper and the VADs want).
Files are read block by block and resampled with a streaming resampler, so a call of
hours costs the same memory as a call of seconds.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from asr.events import AudioFrame
from asr.files import atomic_path

SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".caf"}
BLOCK_SECONDS = 10  # read this much of the file at a time


class AudioError(Exception):
    """A file that cannot be used as call audio; the message names the file."""


def audio_info(path: str | os.PathLike) -> sf._SoundFileInfo:
    """Check that `path` is a readable audio file and return its header."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    try:
        return sf.info(str(p))
    except Exception as e:  # libsndfile says "Format not recognised", "unknown format"...
        reason = str(e).split(":")[-1].strip() or type(e).__name__
        raise AudioError(f"{p}: not a readable audio file ({reason})") from None


def truncation(path: str | os.PathLike) -> str | None:
    """For a WAV whose header promises more audio than the file holds (a recording cut off
    mid-write or mid-copy), a one-line warning; libsndfile reads what is there and says nothing."""
    import struct
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return None
            endian = "<" if head[:4] == b"RIFF" else ">"
            rate = block = 0
            while chunk := f.read(8):
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack(endian + "I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size)
                    rate, block = struct.unpack(endian + "I", fmt[4:8])[0], struct.unpack(endian + "H", fmt[12:14])[0]
                    continue
                if cid == b"data":
                    have = p.stat().st_size - f.tell()
                    if size in (0, 0xFFFFFFFF) or size <= have or not rate or not block:
                        return None  # streaming writers leave 0 or -1 there: not a promise
                    return (f"{p}: truncated: the header promises {size / block / rate:.2f} s, "
                            f"the file holds {have / block / rate:.2f} s")
                f.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None


def _pick_channel(block: np.ndarray, channel: int | None, path: Path) -> np.ndarray:
    if block.ndim == 1:
        return block
    if channel is None:  # no channel asked for: mix caller and agent down
        return block.mean(axis=1)
    if channel >= block.shape[1]:
        raise AudioError(f"{path}: has {block.shape[1]} channel(s), channel {channel} asked for")
    return block[:, channel]


def read_blocks(path: str | os.PathLike, channel: int | None = None,
                rate: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Yield the file's audio as mono float32 blocks at `rate`."""
    p = Path(path)
    info = audio_info(p)
    if info.channels == 1:
        channel = None  # a mono file is the caller, whatever channel a batch asks for
    if channel is not None and channel >= info.channels:
        raise AudioError(f"{p}: has {info.channels} channel(s), channel {channel} asked for")
    resampler = None
    if info.samplerate != rate:
        resampler = soxr.ResampleStream(info.samplerate, rate, 1, dtype="float32", quality="HQ")
    try:
        with sf.SoundFile(str(p)) as f:
            for block in f.blocks(blocksize=info.samplerate * BLOCK_SECONDS, dtype="float32",
                                  always_2d=False):
                mono = np.ascontiguousarray(_pick_channel(block, channel, p), dtype=np.float32)
                if resampler is not None:
                    mono = resampler.resample_chunk(mono, last=False)
                if len(mono):
                    yield mono
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
                if len(tail):
                    yield tail
    except AudioError:
        raise
    except Exception as e:  # a header that promises more data than the file holds, etc.
        raise AudioError(f"{p}: could not decode audio ({str(e).strip() or type(e).__name__})") from None


def load_audio(path: str | os.PathLike, channel: int | None = None, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The whole file as one mono float32 array at `rate` (for short files)."""
    blocks = list(read_blocks(path, channel, rate))
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def frames(blocks: Iterator[np.ndarray], frame_ms: int = 30, rate: int = SAMPLE_RATE) -> Iterator[AudioFrame]:
    """Cut a stream of sample blocks into fixed frames; the last one is zero-padded."""
    size = rate * frame_ms // 1000
    pending = np.zeros(0, np.float32)
    n = 0
    for block in blocks:
        pending = np.concatenate([pending, block]) if len(pending) else block
        whole = len(pending) // size * size
        for i in range(0, whole, size):
            yield AudioFrame(pending[i:i + size], rate, n * size / rate)
            n += 1
        pending = pending[whole:]
    if len(pending):
        yield AudioFrame(np.pad(pending, (0, size - len(pending))), rate, n * size / rate)


def file_frames(path: str | os.PathLike, frame_ms: int = 30, channel: int | None = None) -> Iterator[AudioFrame]:
    """10/20/30 ms frames of 16 kHz mono audio from a file."""
    if frame_ms not in (10, 20, 30):
        raise ValueError(f"frame_ms must be 10, 20 or 30, not {frame_ms}")
    return frames(read_blocks(path, channel), frame_ms)


def find_audio_files(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Expand files and directories into audio files; also return errors for bad paths."""
    found, errors = [], []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            inside = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in AUDIO_EXTENSIONS)
            if not inside:
                errors.append(f"{p}: directory holds no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))})")
            found.extend(inside)
        elif p.exists():
            found.append(p)
        else:
            errors.append(f"{p}: no such file or directory")
    return found, errors


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), src, dst, quality="HQ")


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV in memory (to be encrypted before it touches the disk)."""
    import io
    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> None:
    """16-bit PCM, written atomically."""
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(samples, -1.0, 1.0), rate, subtype="PCM_16", format="WAV")
