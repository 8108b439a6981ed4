"""The Ray launcher: each task a Ray task with its CPU and GPU needs, on a local Ray or a cluster.

The only module that imports Ray. Jobs stay plain functions; they become remote here, at launch.
A cluster's nodes must have xtra-bench (and any agent plugins) installed and see the results
directory at the same path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from xtra_bench.errors import ConfigError
from xtra_bench.runner.launchers import Outcome, QueueReporter, Task, drain, execute
from xtra_bench.runner.progress import Reporter


def import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError('--launcher ray needs Ray: pip install "xtra-bench[ray]"') from None
    return ray


class RayLauncher:
    """Runs tasks as Ray tasks.

    Args:
        address: a running cluster's address; None starts a local Ray for the run and stops it after.
    """

    def __init__(self, address: str | None = None):
        self.address = address
        self._ray = import_ray()
        self._started = False

    def __enter__(self) -> RayLauncher:
        if not self._ray.is_initialized():
            try:
                self._ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
            except ConnectionError as exc:
                raise ConfigError(f"cannot reach a Ray cluster at {self.address!r}: {exc}") from None
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def run(self, tasks: Sequence[Task], report: Reporter) -> list[Outcome]:
        """Runs every task on the cluster; returns their outcomes in the order given."""
        from ray.util.queue import Queue

        ray = self._ray
        events = Queue()
        remote = ray.remote(execute)
        refs = [remote.options(num_cpus=t.num_cpus, num_gpus=t.num_gpus).remote(t, QueueReporter(events)) for t in tasks]
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
            drain(events, report)
        drain(events, report)
        ray.kill(events.actor)
        return [self._outcome(task, ref) for task, ref in zip(tasks, refs)]

    def _outcome(self, task: Task, ref) -> Outcome:
        """A task's outcome, also when Ray lost its worker (a node died, out of memory)."""
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:
            return Outcome(task.label, f"Ray lost it ({type(exc).__name__}: {str(exc).splitlines()[0]}); continue with --resume")
