"""Throughput metrics: update and env-step rates and where the wall-clock time goes.

Stages (each timed where it runs): ``train`` (the SGD update), ``reanalyze`` (target-network
values and MCTS policies for a batch), ``search`` (acting's MCTS), ``env`` (stepping the vector env
and bookkeeping finished episodes) and ``data`` (drawing a batch from replay, writing priorities).
Device work is counted where the host waits for it: every stage ends by reading results back.
Reanalysis overlapped with training is timed in its worker thread, so the shares can then sum to
more than 1.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

STAGES = ("train", "reanalyze", "search", "env", "data")


class StageTimer:
    """Accumulates time per stage between two ``report`` calls."""

    def __init__(self):
        self._seconds = dict.fromkeys(STAGES, 0.0)
        self._since = time.perf_counter()
        self._updates = self._env_steps = 0

    def start(self, updates: int, env_steps: int) -> None:
        """Starts a measurement interval at the given counters (and forgets earlier stage times)."""
        self._seconds = dict.fromkeys(STAGES, 0.0)
        self._since = time.perf_counter()
        self._updates, self._env_steps = updates, env_steps

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Adds the time spent inside the block to stage ``name``."""
        begin = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[name] += time.perf_counter() - begin

    def report(self, updates: int, env_steps: int) -> dict[str, float]:
        """Rates and time shares since the interval started, then starts the next interval.

        Returns:
            ``updates_per_s``, ``env_steps_per_s`` and ``share_<stage>`` for every stage: the
            fraction of the interval's wall-clock time spent in it (untimed glue is left out;
            stages that run at the same time each count in full).
        """
        wall = max(time.perf_counter() - self._since, 1e-9)
        metrics = {
            "updates_per_s": (updates - self._updates) / wall,
            "env_steps_per_s": (env_steps - self._env_steps) / wall,
            **{f"share_{name}": seconds / wall for name, seconds in self._seconds.items()},
        }
        self.start(updates, env_steps)
        return metrics
