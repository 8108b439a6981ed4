"""The results tree that ``xtra-bench run`` writes and ``xtra-bench report`` reads.

```
RUNS_DIR/
  protocol.json                 {"hash", "protocol"}: the rules every result below was measured under
  plan.json                     {"jobs": {key: {"agent", "target", "seed", "env_steps"}}}: every job a run asked for (``xtra-bench status``)
  jobs/<method>/<target>/seed-<s>/   <method>: the agent, or <agent>@<hash of its --set overrides>
    config.json                 the job's resolved settings (see ``Job.config``), its overrides and the agent's hyper-parameters
    metrics.jsonl               {"step": env steps, "<name>": float, ...} per line
    evals.jsonl                 {"step", "kind": "periodic"|"final", "episode", "return"} per evaluation episode
    checkpoint/                 the agent's latest checkpoint plus ``job_progress.json``, for --resume
    DONE                        {"finished_at", "wall_seconds"}; present only when the job is complete
    tensorboard/                TensorBoard scalars, when TensorBoard is installed
    error.log                   why the job failed: the error's message, or the traceback of an unexpected failure
    heartbeat.json              written every few seconds while the job runs: steps, steps/s (``xtra-bench status``)
  collect/<game>/               heartbeat and error.log of a dataset that --collect-missing made (the data is in the data cache)
  stage1/<hash>/                stage-1 artifacts shared by jobs (``stage1.json`` names the inputs, DONE marks them complete;
                                with overrides ``stage1-<h>.json`` and ``DONE-<h>``, h the hash of inputs and overrides)
```

Rows reach ``evals.jsonl`` only after a whole evaluation has completed. A checkpoint records how
many rows of each JSONL file it covers; resuming cuts the files back to those counts, so a killed
job never duplicates or loses a row.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from xtra_bench.agents import Agent
from xtra_bench.data.integrity import atomic_write_bytes
from xtra_bench.errors import ConfigError, XtraBenchError
from xtra_bench.locks import exclusive_lock
from xtra_bench.protocol import Protocol

PROTOCOL_FILE = "protocol.json"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
EVALS_FILE = "evals.jsonl"
CHECKPOINT_DIR = "checkpoint"
DONE_FILE = "DONE"
ERROR_LOG = "error.log"
TENSORBOARD_DIR = "tensorboard"
PROGRESS_FILE = "job_progress.json"
"""Written into the checkpoint directory beside the agent's own files."""
LOCK_FILE = ".lock"
"""Held (``flock``) in a results directory and in each job directory while a process writes there."""


def write_json(path: Path, obj) -> None:
    """Writes ``obj`` as indented JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(obj, indent=2) + "\n").encode())


def read_json(path: Path) -> dict:
    """Reads a JSON object written by ``write_json``.

    Raises:
        XtraBenchError: the file is not valid JSON or holds something else than an object.
    """
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise XtraBenchError(f"{path} is not valid JSON ({exc}); it was not written by xtra-bench run") from None
    if not isinstance(data, dict):
        raise XtraBenchError(f"{path} holds a JSON {type(data).__name__}, not an object; it was not written by xtra-bench run")
    return data


def results_lock(runs_dir: Path):
    """Held by the process writing a results directory, so that a second one refuses (see ``locks``)."""
    return exclusive_lock(Path(runs_dir) / LOCK_FILE, f"the results directory {runs_dir}")


def check_protocol(runs_dir: Path, protocol: Protocol) -> None:
    """Refuses a results directory that holds results of another protocol.

    Raises:
        ConfigError: ``protocol.json`` exists with another hash; the message names the settings that differ.
    """
    path = runs_dir / PROTOCOL_FILE
    if not path.is_file():
        return
    recorded = read_json(path)
    if recorded.get("hash") == protocol.hash():
        return
    theirs, ours = recorded.get("protocol", {}), protocol.to_json()
    differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    shown = ", ".join(f"{k} {theirs.get(k)!r} here vs {ours.get(k)!r} now" for k in differ if k not in ("atari", "minatar", "reference_scores"))
    raise ConfigError(
        f"{runs_dir} holds results of another protocol (hash {recorded.get('hash')}, this run's is {protocol.hash()}"
        f"{': ' + shown if shown else ''}); choose another --out or run with the same settings"
    )


def write_protocol(runs_dir: Path, protocol: Protocol) -> None:
    """Records the protocol of a results directory (once; ``check_protocol`` guards later runs)."""
    path = runs_dir / PROTOCOL_FILE
    if not path.is_file():
        write_json(path, {"hash": protocol.hash(), "protocol": protocol.to_json()})


def truncate_lines(path: Path, keep: int) -> None:
    """Keeps the first ``keep`` complete lines of a JSONL file (rows written after a checkpoint).

    Raises:
        XtraBenchError: the file has fewer lines than the checkpoint recorded (it was edited or cut).
    """
    data = path.read_bytes() if path.is_file() else b""
    lines = data.split(b"\n")[:-1]  # the part after the last newline is half a row, or empty
    if len(lines) < keep:
        raise XtraBenchError(f"{path} has {len(lines)} rows but its checkpoint covers {keep}; it was changed outside xtra-bench")
    kept = b"".join(line + b"\n" for line in lines[:keep])
    if kept != data:
        atomic_write_bytes(path, kept)


def append_rows(path: Path, rows: Sequence[dict]) -> None:
    """Appends JSON rows with one write, so a set of rows lands whole or (on a crash) is cut on resume."""
    with open(path, "ab") as f:
        f.write(b"".join((json.dumps(row) + "\n").encode() for row in rows))
        f.flush()


@dataclasses.dataclass(frozen=True)
class JobProgress:
    """What a checkpoint covers.

    Attributes:
        step: agent steps taken when the checkpoint was written.
        eval_rows: rows of ``evals.jsonl`` written before it.
        metrics_rows: rows of ``metrics.jsonl`` written before it.
        trained: training is over (only the final evaluation is left).
        wall_seconds: time spent on the job up to the checkpoint, over every resume.
    """

    step: int = 0
    eval_rows: int = 0
    metrics_rows: int = 0
    trained: bool = False
    wall_seconds: float = 0.0

    @classmethod
    def read(cls, path: Path) -> JobProgress:
        """Reads a ``job_progress.json``, checking its keys and their types.

        Raises:
            XtraBenchError: the file is damaged (the message says how to start the job over).
        """
        data = read_json(path)
        kinds = {"step": int, "eval_rows": int, "metrics_rows": int, "trained": bool, "wall_seconds": (int, float)}
        bad = sorted(
            k for k, v in data.items()
            if k not in kinds or not isinstance(v, kinds[k]) or (kinds[k] is int and isinstance(v, bool))
            or (kinds[k] is int and v < 0)
        )  # fmt: skip
        if bad:
            raise XtraBenchError(f"{path} is damaged (key(s) {', '.join(bad)}); delete {path.parent.parent} to run the job anew")
        return cls(**data)


def job_keys(runs_dir: Path) -> list[str]:
    """The key (``<method>/<target>/seed-<s>``) of every job directory of a results tree, sorted."""
    jobs = Path(runs_dir) / "jobs"
    return sorted(p.relative_to(jobs).as_posix() for p in jobs.glob("*/*/seed-*") if p.is_dir()) if jobs.is_dir() else []


class JobStore:
    """One job's directory in the results tree."""

    def __init__(self, job_dir: Path):
        self.dir = Path(job_dir)
        self.config = self.dir / CONFIG_FILE
        self.metrics = self.dir / METRICS_FILE
        self.evals = self.dir / EVALS_FILE
        self.checkpoint = self.dir / CHECKPOINT_DIR
        self.done = self.dir / DONE_FILE
        self.error_log = self.dir / ERROR_LOG
        self.tensorboard = self.dir / TENSORBOARD_DIR
        self._tmp = self.dir / (CHECKPOINT_DIR + ".tmp")
        self._old = self.dir / (CHECKPOINT_DIR + ".old")

    @property
    def is_done(self) -> bool:
        """The job is complete: DONE is there and so is its final evaluation (a DONE without one is resumed)."""
        return self.done.is_file() and len(self.final_returns()) > 0

    def final_returns(self) -> list[float]:
        """The returns of the final evaluation in ``evals.jsonl`` (empty when none, or the file is unreadable)."""
        try:
            rows = [json.loads(line) for line in self.evals.read_text().splitlines() if line.strip()]
        except (OSError, ValueError):
            return []
        return [r["return"] for r in rows if isinstance(r, dict) and r.get("kind") == "final" and "return" in r]

    def lock(self):
        """Held while a process runs this job (see ``locks``)."""
        return exclusive_lock(self.dir / LOCK_FILE, f"job {self.dir}")

    @property
    def started(self) -> bool:
        return self.config.is_file()

    def read_config(self) -> dict | None:
        return read_json(self.config) if self.config.is_file() else None

    def start(self, config: dict) -> None:
        """Begins the job from scratch: empty metric and evaluation files, no checkpoint, ``config`` recorded."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in (self.checkpoint, self._tmp, self._old, self.tensorboard):
            shutil.rmtree(stale, ignore_errors=True)
        for path in (self.metrics, self.evals, self.error_log):
            path.unlink(missing_ok=True)
        self.metrics.touch()
        self.evals.touch()
        write_json(self.config, config)

    def save_checkpoint(self, agent: Agent, progress: JobProgress) -> None:
        """Replaces the checkpoint with the agent's current state: written aside, then renamed into place."""
        for leftover in (self._tmp, self._old):  # of a save that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        agent.save(self._tmp)
        write_json(self._tmp / PROGRESS_FILE, dataclasses.asdict(progress))
        if self.checkpoint.exists():
            os.replace(self.checkpoint, self._old)
        os.replace(self._tmp, self.checkpoint)
        shutil.rmtree(self._old, ignore_errors=True)

    def peek_progress(self) -> JobProgress | None:
        """What the last complete checkpoint covers, read without changing anything (None: no checkpoint)."""
        for directory in (self.checkpoint, self._old):
            if (directory / PROGRESS_FILE).is_file():
                return JobProgress.read(directory / PROGRESS_FILE)
        return None

    def checkpoint_progress(self) -> JobProgress | None:
        """The progress of the last complete checkpoint, or None when there is none.

        Recovers from a crash between the two renames of ``save_checkpoint`` (the previous
        checkpoint is then under its ``.old`` name) and drops a half-written one.
        """
        if not self.checkpoint.exists() and self._old.exists():
            os.replace(self._old, self.checkpoint)
        for leftover in (self._tmp, self._old):
            shutil.rmtree(leftover, ignore_errors=True)
        progress_file = self.checkpoint / PROGRESS_FILE
        if not progress_file.is_file():
            return None
        return JobProgress.read(progress_file)

    def rewind(self, progress: JobProgress) -> None:
        """Cuts the JSONL files back to what ``progress`` covers, dropping rows written after the checkpoint."""
        truncate_lines(self.evals, progress.eval_rows)
        truncate_lines(self.metrics, progress.metrics_rows)

    def append_evals(self, step: int, kind: str, returns: Sequence[float]) -> None:
        """Records one completed evaluation: a row per episode."""
        append_rows(self.evals, [{"step": step, "kind": kind, "episode": i, "return": float(r)} for i, r in enumerate(returns)])

    def mark_done(self, wall_seconds: float) -> None:
        finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        write_json(self.done, {"finished_at": finished, "wall_seconds": round(wall_seconds, 3)})
