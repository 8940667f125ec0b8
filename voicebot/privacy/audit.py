"""The audit log: one JSON line per read of call data or use of the server (who, what, when).

Appended, never rewritten; opened per line so `logrotate` may move it at any time.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

_lock = threading.Lock()  # lines from the server's threads never interleave


def write(log: str | Path, who: str, action: str, **what) -> None:
    """One line: when, who, the action, and what it touched (path=..., call=..., peer=...)."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"t": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "who": who, "action": action, **what},
                      ensure_ascii=False, default=str)
    with _lock, open(log, "a", encoding="utf-8") as f:
        f.write(line + "\n")
