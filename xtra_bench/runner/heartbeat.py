"""A running task's heartbeat: ``heartbeat.json`` in its directory, rewritten every few seconds.

``xtra-bench status`` reads it to tell a running task from a stopped one (a heartbeat older than
``STALE_SECONDS`` belongs to a process that is gone) and to show a job's speed. It is written by a
thread of the task's own process, so it stops when the process dies, wherever the process runs (in
this one, a worker process or a Ray node that sees the results directory).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from xtra_bench.data.integrity import atomic_write_bytes
from xtra_bench.runner.progress import Event, Reporter

HEARTBEAT_FILE = "heartbeat.json"
INTERVAL_SECONDS = 5.0
STALE_SECONDS = 60.0
"""A heartbeat not rewritten for this long belongs to a task that no longer runs."""


class Heartbeat:
    """Counts a task's events and writes them to ``<directory>/heartbeat.json`` until closed.

    Used as a context manager around the task; ``reporter(report)`` gives the reporter the task
    sends its events to (they pass through to ``report``).

    Args:
        directory: the task's directory (a job's, or a stage-1 workdir).
        interval: seconds between two writes.

    The file holds ``{"pid", "host", "started_at", "updated_at", "ended_at", "start_step",
    "steps", "steps_per_s"}``: times in seconds since the epoch, ``start_step`` the checkpoint step
    the attempt started from, ``steps`` the agent steps taken since, ``steps_per_s`` their rate
    from the first to the latest step event (None before two of them).
    """

    def __init__(self, directory: Path, interval: float = INTERVAL_SECONDS):
        self.path = Path(directory) / HEARTBEAT_FILE
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = time.time()
        self._state = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": now,
            "updated_at": now,
            "ended_at": None,
            "start_step": 0,
            "steps": 0,
            "steps_per_s": None,
        }
        self._first_steps: tuple[float, int] | None = None  # (time, steps) at the first step event

    def reporter(self, report: Reporter) -> Reporter:
        def counting(event: Event) -> None:
            self.observe(event)
            report(event)

        return counting

    def observe(self, event: Event) -> None:
        """Counts ``event``: "start" sets the starting step, "steps" adds steps."""
        with self._lock:
            if event.kind == "start":
                self._state["start_step"] = int(event.value)
            elif event.kind == "steps":
                now = time.time()
                self._state["steps"] += int(event.value)
                if self._first_steps is None:
                    # The first event's steps were taken over an unknown time: the rate starts after them.
                    self._first_steps = (now, self._state["steps"])
                t0, s0 = self._first_steps
                if now > t0:
                    self._state["steps_per_s"] = (self._state["steps"] - s0) / (now - t0)

    def write(self) -> None:
        with self._lock:
            self._state["updated_at"] = time.time()
            blob = (json.dumps(self._state) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, blob)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self.write()

    def __enter__(self) -> Heartbeat:
        self.write()
        self._thread = threading.Thread(target=self._beat, name="xtra-bench-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._state["ended_at"] = time.time()
        self.write()


def read_heartbeat(directory: Path) -> dict | None:
    """The heartbeat of a task directory, or None (never written, or unreadable)."""
    try:
        return json.loads((Path(directory) / HEARTBEAT_FILE).read_text())
    except (OSError, ValueError):
        return None
