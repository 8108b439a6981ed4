"""Raw-score learning curves: each method's periodic evaluations on each game, over seeds.

Unlike the rliable sample-efficiency curve (normalised, aggregated over games), these need no
reference score, so they are drawn for every game, MinAtar's included.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from xtra_bench.report.aggregates import periodic_means
from xtra_bench.report.scores import SettingTable, mean_ci


@dataclasses.dataclass(frozen=True)
class Curve:
    """One method's learning curve on one game.

    Attributes:
        steps: int [S], env steps where every seed has a periodic evaluation.
        mean: float [S], mean over seeds of each seed's mean periodic return.
        low: float [S], lower end of the 95% Student-t interval over seeds (NaN with one seed).
        high: float [S], its upper end.
        seeds: the seeds behind every point.
    """

    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    seeds: int


def periodic_runs(table: SettingTable, eval_interval: int | None) -> dict[tuple[str, str], dict[int, dict[int, float]]]:
    """(method, game) -> seed -> env step -> that seed's mean periodic return, for every cell with
    periodic evaluations: the single runs behind each curve."""
    return {
        key: {job.seed: periodic_means(job, eval_interval) for job in cell.jobs}
        for key, cell in table.cells.items()
        if any(job.periodic for job in cell.jobs)
    }


def learning_curves(runs: dict[tuple[str, str], dict[int, dict[int, float]]]) -> dict[tuple[str, str], Curve]:
    """(method, game) -> its curve from ``periodic_runs``, for every cell whose seeds share at least
    one periodic step."""
    out = {}
    for key, by_seed in runs.items():
        per_seed = list(by_seed.values())
        steps = sorted(set.intersection(*(set(p) for p in per_seed))) if per_seed else []
        if not steps:
            continue
        stats = np.array([mean_ci(np.array([p[s] for p in per_seed])) for s in steps])
        out[key] = Curve(np.array(steps), stats[:, 0], stats[:, 1], stats[:, 2], len(per_seed))
    return out
