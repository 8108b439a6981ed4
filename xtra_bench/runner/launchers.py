"""Launchers: where and how many tasks (stage-1 work and jobs) run at once.

A task is a module-level function with its keyword arguments, so it can be pickled to another
process or a Ray worker. Tasks send progress events to a ``Reporter``: the progress bar itself
when they run in this process, a queue drained by this process when they run elsewhere. Ray lives
in ``ray_launcher`` alone, imported only for ``--launcher ray``.
"""

from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import dataclasses
import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from xtra_bench.errors import XtraBenchError
from xtra_bench.runner.heartbeat import Heartbeat
from xtra_bench.runner.progress import Event, Reporter
from xtra_bench.runner.store import ERROR_LOG


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work for a launcher.

    Attributes:
        label: the job key or ``stage1/<hash>``, for messages.
        fn: a module-level function called as ``fn(**kwargs, report=reporter)``.
        kwargs: its arguments (picklable).
        log_dir: where the traceback of an unexpected failure is written.
        num_cpus: CPUs a Ray task asks for.
        num_gpus: GPUs a Ray task asks for.
    """

    label: str
    fn: Callable[..., object]
    kwargs: dict
    log_dir: Path
    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a task ended: ``error`` is None on success, else one line saying what went wrong."""

    label: str
    error: str | None = None


def execute(task: Task, report: Reporter) -> Outcome:
    """Runs a task, turning its failure into an ``Outcome`` so one failed job does not stop the others.

    A user error (``XtraBenchError``) keeps its message; anything else is a bug or a crash, whose
    traceback goes to ``log_dir/error.log`` (a user error's message goes there too, for ``xtra-bench
    status``). While the task runs, ``log_dir/heartbeat.json`` says so.
    """
    log = Path(task.log_dir) / ERROR_LOG
    log.unlink(missing_ok=True)  # of an earlier attempt
    try:
        with Heartbeat(task.log_dir) as beat:
            task.fn(**task.kwargs, report=beat.reporter(report))
    except XtraBenchError as exc:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"{exc}\n")
        return Outcome(task.label, str(exc))
    except OSError as exc:  # a full disk, a read-only or vanished --out: the message names the file
        return Outcome(task.label, f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
    except Exception as exc:  # noqa: BLE001 - reported per task; the run goes on with the other tasks
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        return Outcome(task.label, f"{type(exc).__name__}: {exc} (traceback in {log})")
    return Outcome(task.label)


class QueueReporter:
    """A picklable ``Reporter`` that puts events on a queue (a multiprocessing proxy or a Ray queue)."""

    def __init__(self, queue):
        self.queue = queue

    def __call__(self, event: Event) -> None:
        self.queue.put(event)


def drain(queue, report: Reporter) -> None:
    """Hands every event waiting on ``queue`` to ``report`` (this process is the queue's only reader)."""
    while not queue.empty():
        report(queue.get())


class LocalLauncher:
    """Runs tasks on this machine: one after the other in this process, or ``workers`` at once in processes.

    Args:
        workers: tasks run at once (1: sequentially, in this process).
    """

    def __init__(self, workers: int = 1):
        self.workers = workers

    def __enter__(self) -> LocalLauncher:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def run(self, tasks: Sequence[Task], report: Reporter) -> list[Outcome]:
        """Runs every task; returns their outcomes in the order given."""
        if self.workers == 1 or len(tasks) <= 1:
            return [execute(task, report) for task in tasks]
        # Processes are spawned, not forked: a forked torch (threads, OpenMP) can deadlock.
        context = multiprocessing.get_context("spawn")
        with context.Manager() as manager:
            events = manager.Queue()
            with concurrent.futures.ProcessPoolExecutor(self.workers, mp_context=context) as pool:
                futures = [pool.submit(execute, task, QueueReporter(events)) for task in tasks]
                pending = set(futures)
                while pending:
                    _, pending = concurrent.futures.wait(pending, timeout=0.2)
                    drain(events, report)
                drain(events, report)
            return [_outcome(task, future) for task, future in zip(tasks, futures)]


def _outcome(task: Task, future: concurrent.futures.Future) -> Outcome:
    """A task's outcome, also when its process died (killed, out of memory) before it could return one."""
    try:
        return future.result()
    except concurrent.futures.process.BrokenProcessPool as exc:
        return Outcome(task.label, f"its worker process died ({exc}); continue with --resume")


def make_launcher(launcher: str, *, workers: int = 1, ray_address: str | None = None):
    """The launcher named ``launcher`` ("local" or "ray"), used as a context manager around its runs."""
    if launcher == "ray":
        from xtra_bench.runner.ray_launcher import RayLauncher

        return RayLauncher(ray_address)
    return LocalLauncher(workers)
