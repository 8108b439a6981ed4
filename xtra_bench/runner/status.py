"""``xtra-bench status``: how every job of a results tree stands, read from the tree alone.

``run`` records the jobs it was asked for in ``plan.json``; each job's directory says the rest:
``DONE`` (done), a fresh ``heartbeat.json`` (running), ``error.log`` (failed), else pending, which
covers a job never started and one whose process stopped (it continues with ``--resume``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from xtra_bench.errors import ConfigError
from xtra_bench.runner.heartbeat import STALE_SECONDS, read_heartbeat
from xtra_bench.runner.store import PROTOCOL_FILE, JobStore, job_keys, read_json, write_json

PLAN_FILE = "plan.json"
STATES = ("done", "running", "failed", "pending")


def record_plan(runs_dir: Path, jobs: list[dict]) -> None:
    """Adds a run's jobs (``{"key", "agent", "target", "seed", "env_steps"}`` each) to ``plan.json``; earlier runs' jobs stay."""
    path = Path(runs_dir) / PLAN_FILE
    planned = read_json(path).get("jobs", {}) if path.is_file() else {}
    planned.update({job["key"]: {k: v for k, v in job.items() if k != "key"} for job in jobs})
    write_json(path, {"jobs": planned})


@dataclasses.dataclass(frozen=True)
class JobStatus:
    """Where one job stands.

    Attributes:
        key: ``<method>/<target>/seed-<s>``.
        state: one of ``STATES``.
        step: agent steps taken (the last checkpoint's, or the heartbeat's while running).
        env_steps: the job's budget.
        last_eval: (kind, step, mean return) of its latest evaluation, or None.
        steps_per_s: agent steps per second of its latest attempt, or None.
        eta_s: seconds left at that rate while running, else None.
        error: the first line of a failed job's error.log, else "".
        note: what else there is to know (a stopped job continues with --resume).
    """

    key: str
    state: str
    step: int
    env_steps: int | None
    last_eval: tuple[str, int, float] | None
    steps_per_s: float | None
    eta_s: float | None
    error: str = ""
    note: str = ""

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _last_eval(evals: Path) -> tuple[str, int, float] | None:
    """(kind, step, mean return) of the last evaluation in ``evals.jsonl`` (its last complete rows)."""
    rows = []
    try:
        for line in evals.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue  # half a row of a killed job
    except OSError:
        return None
    if not rows:
        return None
    kind, step = rows[-1].get("kind"), rows[-1].get("step")
    returns = [float(r["return"]) for r in rows if r.get("kind") == kind and r.get("step") == step]
    return str(kind), int(step), sum(returns) / len(returns)


def job_status(key: str, job_dir: Path, env_steps: int | None, now: float) -> JobStatus:
    """Reads one job directory (see the module docstring for the states)."""
    store = JobStore(job_dir)
    beat = read_heartbeat(job_dir)
    progress = store.peek_progress() if store.started else None
    step = progress.step if progress else 0
    rate = beat.get("steps_per_s") if beat else None
    last = _last_eval(store.evals)
    if store.is_done:
        done = read_json(store.done)
        if rate is None and env_steps and done.get("wall_seconds"):
            rate = env_steps / done["wall_seconds"]  # evaluations included: an older tree without a heartbeat
        return JobStatus(key, "done", env_steps or step, env_steps, last, rate, None)
    running = beat is not None and beat.get("ended_at") is None and now - beat.get("updated_at", 0) < STALE_SECONDS
    if running:
        step = max(step, int(beat.get("start_step", 0)) + int(beat.get("steps", 0)))
        eta = (env_steps - step) / rate if rate and env_steps else None
        return JobStatus(key, "running", step, env_steps, last, rate, eta)
    if store.error_log.is_file():
        lines = store.error_log.read_text(errors="replace").strip().splitlines()
        return JobStatus(key, "failed", step, env_steps, last, rate, None, error=lines[0] if lines else "(empty error.log)")
    note = f"stopped at step {step}; continue with --resume" if store.started else ""
    return JobStatus(key, "pending", step, env_steps, last, rate, None, note=note)


def run_status(runs_dir: Path, now: float | None = None) -> list[JobStatus]:
    """Every job of a results tree: those ``plan.json`` names, then any other job directory, in key order.

    Raises:
        ConfigError: ``runs_dir`` is not a results tree.
    """
    runs_dir = Path(runs_dir)
    if not (runs_dir / PROTOCOL_FILE).is_file():
        raise ConfigError(f"{runs_dir} is not a results tree (no {PROTOCOL_FILE}); give the --out directory of `xtra-bench run`")
    now = time.time() if now is None else now
    plan_file = runs_dir / PLAN_FILE
    planned = read_json(plan_file).get("jobs", {}) if plan_file.is_file() else {}
    jobs = runs_dir / "jobs"
    keys = sorted(set(planned) | set(job_keys(runs_dir)))
    out = []
    for key in keys:
        env_steps = planned.get(key, {}).get("env_steps")
        if env_steps is None and (jobs / key / "config.json").is_file():
            env_steps = read_json(jobs / key / "config.json").get("env_steps")
        out.append(job_status(key, jobs / key, env_steps, now))
    return out


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def format_status(rows: list[JobStatus]) -> list[str]:
    """A table, one line per job, then a line counting each state (failed jobs with their error line)."""
    lines = [f"{'job':<44}{'state':<9}{'steps':>15}  {'last eval':<24}{'steps/s':>9}{'ETA':>9}"]
    for r in rows:
        steps = f"{r.step}/{r.env_steps}" if r.env_steps else str(r.step)
        last = f"{r.last_eval[0]} @{r.last_eval[1]}: {r.last_eval[2]:.4g}" if r.last_eval else "-"
        rate = f"{r.steps_per_s:.1f}" if r.steps_per_s else "-"
        lines.append(f"{r.key:<44}{r.state:<9}{steps:>15}  {last:<24}{rate:>9}{_duration(r.eta_s):>9}")
        if r.error:
            lines.append(f"    error: {r.error}")
        if r.note:
            lines.append(f"    {r.note}")
    counts = {s: sum(r.state == s for r in rows) for s in STATES}
    lines.append(f"{len(rows)} jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return lines
