"""The audit log: one JSON line per read of call data or use of the server (who, what, when).

Appended, never rewritten; opened per line so `logrotate` may move it at any time. Made mode
0600 (its folder 0700 when made here): it names callers' calls and the server's clients. One
already there with a looser mode is left as it is, and one warning line says so.
"""
from __future__ import annotations

import getpass
import json
import logging
import os
import threading
import time
from pathlib import Path

from asr.files import make_dirs, warn_if_shared

_lock = threading.Lock()  # lines from the server's threads never interleave
log = logging.getLogger("voicebot.privacy.audit")


def write(audit_log: str | Path, who: str, action: str, **what) -> None:
    """One line: when, who, the action, and what it touched (path=..., call=..., peer=...)."""
    path = Path(audit_log)
    make_dirs(path.parent, private=True)
    line = json.dumps({"t": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "who": who, "action": action, **what},
                      ensure_ascii=False, default=str)
    with _lock:
        warn_if_shared(path, "the audit log", log)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with open(fd, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def audit(cfg, action: str, path: Path | None = None, who: str | None = None, **what) -> None:
    """One line per call-data read : who (`who`, else $VOICEBOT_OPERATOR, else the
    login name), what (a file's `path`, or `what` such as call=ID). Appended, never rewritten."""
    who = who or os.environ.get("VOICEBOT_OPERATOR") or getpass.getuser()
    write(cfg.privacy.audit_log, who, action, **({"path": str(path)} if path is not None else {}), **what)
