"""Per-game scores and the paper's aggregate rows (Tables 1 and 2).

The array functions take and return plain numpy arrays; ``score_tables`` groups a store's jobs into
one table per setting (the paper's "similar" games = the shooter and maze splits, its "diverse"
games = the diverse split and its task-count variants, any other split on its own).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.stats

from xtra_bench.errors import ConfigError
from xtra_bench.games import get_game
from xtra_bench.presets import overrides_label
from xtra_bench.protocol import SPLITS, baseline_relative, human_normalized
from xtra_bench.report.store import Job, ResultsStore

SETTINGS = {"shooter": "similar", "maze": "similar", "diverse": "diverse", "diverse-4": "diverse", "diverse-2": "diverse"}
OVERALL = "Overall"
NO_CATEGORY = "Other"


def setting_of(split: str) -> str:
    """The setting (one results table) a split belongs to."""
    return SETTINGS.get(split, split)


def method_label(agent: str, split: str, overrides: dict | None = None) -> str:
    """The column name of an agent run on a split: the agent, its overrides, and the split for a variant split.

    Variant splits (diverse-4, diverse-2) share their setting's games, so the same agent on them is
    a different column of the same table (the paper's Table 7). Overrides (``run --set``) make
    another method too: ``xtra [lr=0.1]``.
    """
    setting = setting_of(split)
    name = f"{agent} [{overrides_label(overrides)}]" if overrides else agent
    return name if split == setting or setting == "similar" else f"{name} ({split})"


def within_noise_of_zero(cell: GameScore) -> bool:
    """The cell's 95% interval includes 0 (or, with one seed and so no interval, its mean is 0)."""
    if np.isnan(cell.ci_low):
        return cell.mean == 0
    return cell.ci_low <= 0 <= cell.ci_high


def difference_ci(values: np.ndarray, baseline: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Difference of two means with Welch's t interval (independent runs, unequal variances).

    Args:
        values: float [n], one score per seed of a method.
        baseline: float [m], one score per seed of the baseline.
        confidence: coverage of the interval.

    Returns:
        (mean(values) - mean(baseline), low, high); low and high are NaN with fewer than 2 seeds on a side.
    """
    x, y = np.asarray(values, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    diff = float(x.mean() - y.mean())
    if x.size < 2 or y.size < 2:
        return diff, float("nan"), float("nan")
    vx, vy = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = float(np.sqrt(vx + vy))
    if se == 0:
        return diff, diff, diff
    dof = (vx + vy) ** 2 / (vx**2 / (x.size - 1) + vy**2 / (y.size - 1))
    half = scipy.stats.t.ppf(0.5 + confidence / 2, dof) * se
    return diff, diff - half, diff + half


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of independent samples.

    Args:
        values: float [n], e.g. one score per seed.
        confidence: coverage of the interval.

    Returns:
        (mean, low, high); low and high are NaN for fewer than 2 samples.
    """
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if values.size < 2:
        return mean, float("nan"), float("nan")
    half = scipy.stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return mean, mean - half, mean + half


def mean_and_median(values: np.ndarray) -> tuple[float, float]:
    """(mean, median) of float [n] values (the paper's aggregate rows)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(np.median(values))


@dataclasses.dataclass(frozen=True)
class GameScore:
    """One cell of a results table: a method on a game, over its seeds.

    Attributes:
        method: the column name (see ``method_label``).
        game: the target game.
        jobs: the finished jobs, by seed.
        mean: mean over seeds of the per-seed scores.
        ci_low: lower end of the 95% Student-t interval of the mean (NaN with one seed).
        ci_high: upper end of that interval.
        std: sample standard deviation over seeds (NaN with one seed).
        human_normalized: the human-normalised mean, or None without a human reference.
        relative: mean / the baseline's mean on the same game; None without a baseline cell or when
            the baseline's score is within noise of 0 (a ratio would mean nothing; see ``difference``).
        difference: (mean - the baseline's mean, low, high) with Welch's 95% interval, when the
            baseline's score is within noise of 0; else None.
    """

    method: str
    game: str
    jobs: tuple[Job, ...]
    mean: float
    ci_low: float
    ci_high: float
    std: float
    human_normalized: float | None
    relative: float | None = None
    difference: tuple[float, float, float] | None = None

    @property
    def seeds(self) -> int:
        return len(self.jobs)

    @property
    def episodes(self) -> tuple[int, ...]:
        """Final-evaluation episodes of each seed."""
        return tuple(j.final_returns.size for j in self.jobs)


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """A mean and median over games, with how many games stand behind them."""

    mean: float
    median: float
    games: int


@dataclasses.dataclass(frozen=True)
class SettingTable:
    """The results of one setting: every (method, game) cell and the paper's aggregate rows.

    Attributes:
        setting: "similar", "diverse", or a split name.
        games: target games in table order.
        methods: column names, the baseline first when present.
        baseline: the baseline's column name, or None when it has no results here.
        cells: (method, game) -> GameScore.
        improvement: group (category or "Overall") -> method -> Aggregate of ``relative`` (Table 1).
        human: method -> Aggregate of human-normalised scores over games with a reference (Table 2).
    """

    setting: str
    games: tuple[str, ...]
    methods: tuple[str, ...]
    baseline: str | None
    cells: dict[tuple[str, str], GameScore]
    improvement: dict[str, dict[str, Aggregate]]
    human: dict[str, Aggregate]

    def category(self, game: str) -> str:
        return get_game(game).category or NO_CATEGORY


def _game_order(game: str, split: str) -> tuple:
    names = list(SPLITS)
    if split in SPLITS and game in SPLITS[split].targets:
        return (names.index(split), SPLITS[split].targets.index(game), game)
    return (len(names), 0, game)


def _cell(method: str, game: str, jobs: Sequence[Job]) -> GameScore:
    jobs = tuple(sorted(jobs, key=lambda j: j.seed))
    pretrains = {j.pretrain for j in jobs}
    if len(pretrains) > 1:
        raise ConfigError(
            f"{method} on {game} was run with different pretraining games ({'; '.join(','.join(p) for p in sorted(pretrains))});"
            " report them from separate results trees"
        )
    scores = np.array([j.score for j in jobs])
    mean, low, high = mean_ci(scores)
    std = float(scores.std(ddof=1)) if scores.size > 1 else float("nan")
    hn = float(human_normalized(game, mean)) if get_game(game).has_human_reference else None
    return GameScore(method, game, jobs, mean, low, high, std, hn)


def _aggregate(values: list[float]) -> Aggregate:
    mean, median = mean_and_median(np.array(values))
    return Aggregate(mean, median, len(values))


def _improvements(games, methods, cells) -> dict[str, dict[str, Aggregate]]:
    groups: dict[str, list[str]] = {}
    for game in games:
        groups.setdefault(get_game(game).category or NO_CATEGORY, []).append(game)
    if len(groups) > 1:
        groups[OVERALL] = list(games)
    out: dict[str, dict[str, Aggregate]] = {}
    for group, members in groups.items():
        out[group] = {}
        for m in methods:
            values = [cells[m, g].relative for g in members if (m, g) in cells and cells[m, g].relative is not None]
            if values:
                out[group][m] = _aggregate(values)
    return out


def setting_table(setting: str, jobs: Sequence[Job], baseline_agent: str) -> SettingTable:
    """Builds one setting's table from its jobs.

    Args:
        setting: the setting's name.
        jobs: the setting's finished jobs.
        baseline_agent: the agent that relative improvements are measured against.

    Returns:
        The table; without the baseline's results, ``improvement`` is empty.
    """
    groups: dict[tuple[str, str], list[Job]] = {}
    order: dict[str, tuple] = {}
    for job in jobs:
        groups.setdefault((method_label(job.agent, job.split, job.overrides), job.target), []).append(job)
        order[job.target] = min(order.get(job.target, (99,)), _game_order(job.target, job.split))
    games = tuple(sorted(order, key=order.get))
    cells = {key: _cell(*key, js) for key, js in groups.items()}
    labels = {m for m, _ in cells}
    baseline = baseline_agent if baseline_agent in labels else None
    methods = tuple(sorted(labels, key=lambda m: (m != baseline, m)))
    if baseline is not None:
        for (m, g), cell in cells.items():
            base = cells.get((baseline, g))
            if base is None:
                continue
            if within_noise_of_zero(base):
                diff = difference_ci([j.score for j in cell.jobs], [j.score for j in base.jobs])
                cells[m, g] = dataclasses.replace(cell, difference=diff)
            else:
                cells[m, g] = dataclasses.replace(cell, relative=float(baseline_relative(cell.mean, base.mean)))
    human = {}
    for m in methods:
        values = [cells[m, g].human_normalized for g in games if (m, g) in cells and cells[m, g].human_normalized is not None]
        if values:
            human[m] = _aggregate(values)
    improvement = _improvements(games, methods, cells) if baseline else {}
    return SettingTable(setting, games, methods, baseline, cells, improvement, human)


def score_tables(store: ResultsStore, baseline_agent: str) -> list[SettingTable]:
    """One table per setting present in the store, in the order of the protocol's splits."""
    by_setting: dict[str, list[Job]] = {}
    for job in store.jobs:
        by_setting.setdefault(setting_of(job.split), []).append(job)
    known = [setting_of(s) for s in SPLITS]
    ordered = sorted(by_setting, key=lambda s: (known.index(s) if s in known else len(known), s))
    return [setting_table(s, by_setting[s], baseline_agent) for s in ordered]
