"""What the jobs' training logs say, beside the evaluations: training-episode returns per block of
the budget, and XTRA's task weights and gradient cosines per offline task.

Training returns are the raw scores of the games the agent finished while it trained (with its
exploration), the numbers settings are chosen on (evaluation episodes never are). Both summaries
read ``metrics.jsonl`` only, through the store.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xtra_bench.report.scores import SettingTable
from xtra_bench.report.store import Job


@dataclasses.dataclass(frozen=True)
class TrainingReturns:
    """One (method, game)'s training-episode returns per block of env steps.

    Attributes:
        edges: int [B + 1], block boundaries in env steps; block b holds games that ended in
            (edges[b], edges[b + 1]] (the last block also those ending past the budget).
        per_seed: float [seeds, B], each seed's mean over the games ending in the block (NaN: none did).
        mean: float [B], the mean over the seeds with a value.
    """

    edges: np.ndarray
    per_seed: np.ndarray
    mean: np.ndarray


def block_means(job: Job, edges: np.ndarray) -> np.ndarray:
    """A job's mean training return in each block, every finished game counted once: float [B]."""
    step, games, mean = job.training.T
    # (edges[b], edges[b + 1]] -> b; the last games end a few steps past the budget, in the last block
    block = np.clip(np.searchsorted(edges, step, side="left") - 1, 0, len(edges) - 2)
    count = np.bincount(block, weights=games, minlength=len(edges) - 1)
    total = np.bincount(block, weights=games * mean, minlength=len(edges) - 1)
    return np.divide(total, count, out=np.full(len(count), np.nan), where=count > 0)


def training_returns(table: SettingTable, env_steps: int, blocks: int = 4) -> dict[tuple[str, str], TrainingReturns]:
    """(method, game) -> its training returns in ``blocks`` equal blocks of ``env_steps``, for
    every cell whose jobs logged a finished training game."""
    edges = np.linspace(0, env_steps, blocks + 1).round().astype(np.int64)
    out = {}
    for key, cell in table.cells.items():
        jobs = [j for j in cell.jobs if len(j.training)]
        if not jobs:
            continue
        per_seed = np.stack([block_means(j, edges) for j in jobs])
        mean = np.array([c[np.isfinite(c)].mean() if np.isfinite(c).any() else np.nan for c in per_seed.T])
        out[key] = TrainingReturns(edges, per_seed, mean)
    return out


@dataclasses.dataclass(frozen=True)
class TaskWeightSummary:
    """One offline task's weight and gradient cosine over a (method, target)'s runs, mean over seeds.

    Attributes:
        seeds: the seeds that logged the task.
        mean_eta: mean over seeds of each seed's eta averaged over env steps (``step_weighted_mean``).
        final_eta: mean over seeds of each seed's last logged eta.
        mean_cosine: mean over seeds of each seed's mean cosine over its measured window steps
            (NaN where no cosine was logged).
        max_cosine: the largest cosine any seed measured (NaN where none was logged).
        cosine_steps: window steps measured, summed over seeds.
    """

    seeds: int
    mean_eta: float
    final_eta: float
    mean_cosine: float
    max_cosine: float
    cosine_steps: int


def step_weighted_mean(rows: np.ndarray) -> float:
    """Mean over env steps of a logged series, each value held until the next: rows float [K, 2] of
    (env step, value); with one row, its value."""
    steps, values = rows[:, 0], rows[:, 1]
    if len(rows) == 1 or steps[-1] == steps[0]:
        return float(values[-1])
    return float((values[:-1] * np.diff(steps)).sum() / (steps[-1] - steps[0]))


def task_weight_summaries(table: SettingTable) -> dict[tuple[str, str], dict[str, TaskWeightSummary]]:
    """(method, target) -> offline game -> its summary, for every cell whose jobs logged task weights."""
    out = {}
    for key, cell in table.cells.items():
        offline = sorted({g for j in cell.jobs for g in j.etas})
        per_task = {}
        for g in offline:
            etas = [j.etas[g] for j in cell.jobs if g in j.etas and len(j.etas[g])]
            cosines = [j.cosines[g][:, 1] for j in cell.jobs if g in j.cosines and len(j.cosines[g])]
            if not etas:
                continue
            per_task[g] = TaskWeightSummary(
                seeds=len(etas),
                mean_eta=float(np.mean([step_weighted_mean(e) for e in etas])),
                final_eta=float(np.mean([e[-1, 1] for e in etas])),
                mean_cosine=float(np.mean([c.mean() for c in cosines])) if cosines else float("nan"),
                max_cosine=float(max(c.max() for c in cosines)) if cosines else float("nan"),
                cosine_steps=int(sum(len(c) for c in cosines)),
            )
        if per_task:
            out[key] = per_task
    return out
