"""Writing results atomically: a reader (or a crash) never sees half a file.

Private files (call data, keys: `private=True`) are made mode 0600 and the folders made for
them 0700; results for people to read keep the umask's mode (0644 as a rule). The process
umask is never changed: other threads may be creating files at that moment.
"""
from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

# read once: reading the umask means setting it, which would race with other threads' files
UMASK = os.umask(0o022)
os.umask(UMASK)
_warned: set[str] = set()  # files already named by warn_if_shared in this process


def make_dirs(path: str | os.PathLike, private: bool = False) -> None:
    """`path` and the folders above it that are missing; those made here are 0700 when
    `private` (os.makedirs gives its mode to the last one only). Folders already there are left."""
    path = Path(path)
    if path.is_dir():
        return
    if path.parent != path:
        make_dirs(path.parent, private)
    try:
        path.mkdir(mode=0o700 if private else 0o777)
    except FileExistsError:
        if not path.is_dir():
            raise  # a file of that name: the caller's error says where


def create_private(path: str | os.PathLike) -> bool:
    """An empty file, mode 0600, at `path` unless something is there already; True when made."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return True
    except FileExistsError:
        return False


def warn_if_shared(path: str | os.PathLike, what: str, log: logging.Logger) -> None:
    """One warning line per file and process when `path` exists and others than its owner may
    read it: a mode the operator chose (or an older version made) is left as it is."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return
    key = os.path.abspath(path)
    if mode & 0o077 and key not in _warned:
        _warned.add(key)
        log.warning("%s: %s is mode %04o, readable by others than its owner; left as it is "
                    "(`chmod 600 %s` keeps it private)", path, what, mode, path)


@contextmanager
def atomic_path(path: str | os.PathLike, private: bool = False):
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.
    `private`: the file is 0600 and the folders made for it 0700 (call data, keys)."""
    path = Path(path)
    make_dirs(path.parent, private)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    os.close(fd)
    try:
        yield tmp
        # set again whatever the block did (a writer may make the file anew); results are for reading
        os.chmod(tmp, 0o600 if private else 0o666 & ~UMASK)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str, private: bool = False) -> None:
    with atomic_path(path, private) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def save_png(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """A matplotlib figure written atomically as PNG, then closed (pyplot keeps figures alive)."""
    import matplotlib.pyplot as plt
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
