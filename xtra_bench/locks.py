"""Advisory locks that keep two processes from writing the same results directory, job or download.

A lock is an ``flock`` on a small file that records the holder's pid: the kernel releases it when
the process ends, however it ends (kill -9 included), so a lock never outlives its holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from xtra_bench.errors import XtraBenchError


class LockedError(XtraBenchError):
    """Another process holds the lock."""


@contextlib.contextmanager
def exclusive_lock(path: Path, what: str) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` for the block, or refuses at once if another process holds it.

    Args:
        path: the lock file (created, with its directory, if missing; left in place after).
        what: what the lock protects, for the message.

    Raises:
        LockedError: another process holds the lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise LockedError(f"{what} is in use by another xtra-bench process (pid {holder}); wait for it to end") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
