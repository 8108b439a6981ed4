"""A job's metric log: rows of ``metrics.jsonl`` and, when TensorBoard is installed, its scalars."""

from __future__ import annotations

import math
from pathlib import Path

from xtra_bench.runner.store import append_rows


def tensorboard_writer(log_dir: Path, purge_step: int):
    """A ``SummaryWriter`` when ``torch.utils.tensorboard`` can be imported (it needs the tensorboard package), else None.

    ``purge_step`` drops events a killed run wrote after its last checkpoint.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(log_dir), purge_step=purge_step or None)


class JobLog:
    """Writes metric rows for one job and counts them (a checkpoint records the count).

    Args:
        metrics_file: the job's ``metrics.jsonl``.
        tensorboard_dir: where TensorBoard events go.
        rows: rows the file already holds.
        step: agent steps already taken (TensorBoard drops later events of an earlier attempt).
    """

    def __init__(self, metrics_file: Path, tensorboard_dir: Path, *, rows: int = 0, step: int = 0):
        self.metrics_file = metrics_file
        self.rows = rows
        self._tb = tensorboard_writer(tensorboard_dir, step)

    def metrics(self, step: int, metrics: dict) -> None:
        """Logs ``{name: number}`` at ``step`` agent steps (the agents' ``on_metrics``); non-finite values become null."""
        values = {k: float(v) for k, v in metrics.items()}
        row = {"step": int(step), **{k: v if math.isfinite(v) else None for k, v in values.items()}}
        append_rows(self.metrics_file, [row])
        self.rows += 1
        if self._tb is not None:
            for name, value in values.items():
                self._tb.add_scalar(name, value, step)

    def scalar(self, name: str, value: float, step: int) -> None:
        """A TensorBoard-only scalar (evaluation returns, which live in ``evals.jsonl``)."""
        if self._tb is not None:
            self._tb.add_scalar(name, value, step)
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
