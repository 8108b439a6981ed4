"""Where the CLI records an unexpected error: the full traceback goes to a log file, the terminal gets one line."""

from __future__ import annotations

import datetime
import os
import shlex
import tempfile
import traceback
from pathlib import Path

STATE_ENV = "XDG_STATE_HOME"


def log_dir() -> Path:
    """``$XDG_STATE_HOME/xtra-bench/errors`` (default ``~/.local/state/...``), the per-user state directory."""
    state = os.environ.get(STATE_ENV) or Path.home() / ".local" / "state"
    return Path(state) / "xtra-bench" / "errors"


def write_crash_log(exc: BaseException, argv: list[str]) -> Path:
    """Writes the command line and the traceback of ``exc`` to a new file; returns its path.

    Falls back to the system's temporary directory when the state directory cannot be written.
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = f"xtra-bench {shlex.join(argv)}\n\n" + "".join(traceback.format_exception(exc))
    for directory in (log_dir(), Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f"error-{stamp}-", suffix=".log", dir=directory)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            return Path(name)
        except OSError:
            continue
    raise OSError("no writable directory for the error log")


def one_line(exc: BaseException, argv: list[str], log: Path) -> str:
    """The terminal's line for an unexpected error: what failed, on which input, and where the traceback is."""
    message = (str(exc).splitlines() or [""])[0][:200]
    return f"internal error in `xtra-bench {shlex.join(argv)}`: {type(exc).__name__}: {message} (full traceback in {log})"
