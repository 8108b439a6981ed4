"""Progress of a run: the events jobs send and the bar that shows them (jobs done, steps/s, ETA, last eval)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from tqdm import tqdm


@dataclasses.dataclass(frozen=True)
class Event:
    """One thing a task reports.

    Attributes:
        task: the job key (``agent/target/seed-s``) or ``stage1/<hash>``.
        kind: "start" (a job begins at agent step ``value``), "steps" (``value`` more agent steps),
            "eval" (``value`` = mean return of a periodic evaluation), "final" (mean return of the
            final evaluation) or "done".
        value: see ``kind``.
    """

    task: str
    kind: str
    value: float = 0.0


Reporter = Callable[[Event], None]
"""Where a task sends its events: the bar itself in-process, a queue across processes."""


class StepReporter:
    """Batches step counts so a fast agent sends a few events per second, not one per env step.

    Args:
        task: the job key.
        report: where events go.
        every_s: seconds between two step events.
    """

    def __init__(self, task: str, report: Reporter, every_s: float = 0.5):
        self.task, self.report, self.every_s = task, report, every_s
        self._pending = 0
        self._last = time.monotonic()

    def __call__(self, steps: int) -> None:
        self._pending += steps
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self.flush()
            self._last = now

    def flush(self) -> None:
        if self._pending:
            self.report(Event(self.task, "steps", self._pending))
            self._pending = 0


class RunProgress:
    """A bar over the agent steps left in the run, with jobs done and the last evaluation in its postfix.

    Args:
        total_jobs: jobs of the run (done ones included).
        jobs_done: jobs already complete before this run.
        total_steps: agent steps this run still has to take.
        enabled: False prints only the one-line summaries of finished jobs.
    """

    def __init__(self, total_jobs: int, jobs_done: int, total_steps: int, *, enabled: bool = True):
        self.total_jobs, self.jobs_done = total_jobs, jobs_done
        self.last_eval = ""
        # disable=None: tqdm shows the bar on a terminal only, so logs get just the per-job lines.
        self._bar = tqdm(total=total_steps, unit="step", unit_scale=True, disable=None if enabled else True, dynamic_ncols=True, smoothing=0.1)
        self._refresh()

    def _refresh(self) -> None:
        postfix = f"jobs {self.jobs_done}/{self.total_jobs}"
        self._bar.set_postfix_str(postfix + (f", last eval {self.last_eval}" if self.last_eval else ""), refresh=True)

    def __call__(self, event: Event) -> None:
        if event.kind == "steps":
            self._bar.update(int(event.value))
            return
        if event.kind in ("eval", "final"):
            self.last_eval = f"{event.task} {event.value:.4g}"
            if event.kind == "final":
                tqdm.write(f"{event.task}: final return {event.value:.4g}")
        elif event.kind == "done" and not event.task.startswith("stage1/"):
            self.jobs_done += 1
        self._refresh()

    def close(self) -> None:
        self._bar.close()
