"""Where a running ``ttsctl up`` stack can be found by other ttsctl commands.

``ttsctl up`` makes a Redis password per run, so ``ttsctl cache-purge`` could not
reach its cache without it. The stack's addresses go to a file only the user can
read (mode 0600, in ``$XDG_RUNTIME_DIR`` when there is one, else
``~/.cache/sambert-tts``), removed when the stack stops; a file whose process is
gone is ignored. The password never goes to a log or to the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["clear", "read", "state_path", "write"]

_NAME = "up.json"


def state_path(environ: dict[str, str] | None = None) -> Path:
    """The state file of this user's ``ttsctl up``."""
    environ = dict(os.environ) if environ is None else environ
    runtime = environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime else Path(environ.get("HOME", "~")) / ".cache"
    return base.expanduser() / "sambert-tts" / _NAME


def write(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (with this process's pid) readable by the user only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({**state, "pid": os.getpid()}, fh)
    os.replace(tmp, path)


def read(path: Path) -> dict[str, Any] | None:
    """The state of a stack still running, or None (no file, unreadable, or the
    process that wrote it is gone)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid):
        return None
    return dict(state)


def clear(path: Path) -> None:
    """Remove the file if this process wrote it (a second ``up`` keeps its own)."""
    state = None
    with contextlib.suppress(OSError, ValueError):
        state = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(state, dict) and state.get("pid") == os.getpid():
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
