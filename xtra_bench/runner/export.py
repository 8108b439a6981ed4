"""``xtra-bench export``: the small files of a results tree's finished jobs, copied into another tree.

A study's results are committed without its checkpoints and TensorBoard files. ``export`` copies
what ``xtra-bench report`` reads and what marks a job finished: ``protocol.json``, ``plan.json``
(merged, so ``xtra-bench status DEST`` still lists the jobs left to run), and of every finished
job its ``config.json``, ``metrics.jsonl``, ``evals.jsonl`` and ``DONE``. ``xtra-bench run --out
DEST --resume`` then skips those jobs and runs the rest, on any machine.

Jobs that are not finished are left behind (their checkpoints are what resuming them needs).
Everything is checked before anything is written, and each job's ``DONE`` is written last, so an
interrupted export never leaves a job that looks finished but is not.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xtra_bench.data.integrity import atomic_write_bytes
from xtra_bench.errors import ConfigError
from xtra_bench.runner.status import PLAN_FILE, record_plan
from xtra_bench.runner.store import (
    CONFIG_FILE,
    DONE_FILE,
    ERROR_LOG,
    EVALS_FILE,
    METRICS_FILE,
    PROTOCOL_FILE,
    JobStore,
    job_keys,
    read_json,
    results_lock,
    write_json,
)

JOB_FILES = (CONFIG_FILE, METRICS_FILE, EVALS_FILE, DONE_FILE)
"""What a finished job keeps, in the order written (``DONE`` last)."""


@dataclasses.dataclass(frozen=True)
class ExportSummary:
    """What an export did.

    Attributes:
        copied: keys (``<method>/<target>/seed-<s>``) of the jobs written into the destination.
        unchanged: finished jobs the destination already held byte for byte.
        replaced: jobs whose differing destination copy was overwritten (``force``).
        unfinished: jobs of the source left behind because they are not finished.
    """

    copied: tuple[str, ...]
    unchanged: tuple[str, ...]
    replaced: tuple[str, ...]
    unfinished: tuple[str, ...]

    def to_json(self) -> dict:
        return {k: list(v) for k, v in dataclasses.asdict(self).items()}

    def lines(self, dest: Path) -> list[str]:
        out = [f"{len(self.copied)} finished jobs copied to {dest} ({len(self.replaced)} replaced), {len(self.unchanged)} already there"]
        if self.unfinished:
            out.append(f"{len(self.unfinished)} not finished, left behind: {', '.join(self.unfinished)}")
        return out


def _same_files(src: Path, dst: Path) -> bool:
    return all((dst / name).is_file() and (src / name).read_bytes() == (dst / name).read_bytes() for name in JOB_FILES)


def export_results(runs_dir: Path, dest: Path, *, force: bool = False) -> ExportSummary:
    """Copies the small files of ``runs_dir``'s finished jobs into ``dest`` (see the module docstring).

    Raises:
        ConfigError: ``runs_dir`` is not a results tree, ``dest`` is the same directory, ``dest``
            holds results of another protocol, or (without ``force``) jobs of ``dest`` differ from
            the source's finished ones.
        LockedError: a process is writing ``dest``.
    """
    runs_dir, dest = Path(runs_dir), Path(dest)
    if not (runs_dir / PROTOCOL_FILE).is_file():
        raise ConfigError(f"{runs_dir} is not a results tree (no {PROTOCOL_FILE}); give the --out directory of `xtra-bench run`")
    if dest.exists() and dest.resolve() == runs_dir.resolve():
        raise ConfigError(f"{dest} is the results tree being exported; give another destination")
    protocol = read_json(runs_dir / PROTOCOL_FILE)
    if (dest / PROTOCOL_FILE).is_file():
        theirs = read_json(dest / PROTOCOL_FILE).get("hash")
        if theirs != protocol.get("hash"):
            raise ConfigError(
                f"{dest} holds results of another protocol (hash {theirs}, {runs_dir}'s is {protocol.get('hash')}); export to another directory"
            )
    keys = job_keys(runs_dir)
    finished = [k for k in keys if JobStore(runs_dir / "jobs" / k).is_done]
    unfinished = tuple(k for k in keys if k not in finished)
    unchanged = tuple(k for k in finished if _same_files(runs_dir / "jobs" / k, dest / "jobs" / k))
    differing = tuple(k for k in finished if k not in unchanged and (dest / "jobs" / k).exists())
    if differing and not force:
        raise ConfigError(
            f"{dest} already holds other results for {len(differing)} job(s) ({', '.join(differing)});"
            " rerun with --force to replace them"
        )
    copied = tuple(k for k in finished if k not in unchanged)
    dest.mkdir(parents=True, exist_ok=True)
    with results_lock(dest):
        if not (dest / PROTOCOL_FILE).is_file():
            write_json(dest / PROTOCOL_FILE, protocol)
        plan = read_json(runs_dir / PLAN_FILE).get("jobs", {}) if (runs_dir / PLAN_FILE).is_file() else {}
        if plan:
            record_plan(dest, [{"key": key, **job} for key, job in plan.items()])
        for key in copied:
            src, dst = runs_dir / "jobs" / key, dest / "jobs" / key
            dst.mkdir(parents=True, exist_ok=True)
            for stale in (DONE_FILE, ERROR_LOG):  # a replaced job is unfinished until its DONE is back
                (dst / stale).unlink(missing_ok=True)
            for name in JOB_FILES:
                atomic_write_bytes(dst / name, (src / name).read_bytes())
    return ExportSummary(copied=copied, unchanged=unchanged, replaced=differing, unfinished=unfinished)
