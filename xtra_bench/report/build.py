"""Everything a report shows, computed from a results store (no plotting, no files)."""

from __future__ import annotations

import dataclasses

import numpy as np

from xtra_bench.report.aggregates import AggregateConfig, RliableResults, rliable_results, score_matrices
from xtra_bench.report.curves import Curve, learning_curves, periodic_runs
from xtra_bench.report.published import (
    AggregateRow,
    PublishedTable,
    PublishedValue,
    load_tables,
    published_aggregates,
    published_score,
)
from xtra_bench.report.scores import SettingTable, score_tables
from xtra_bench.report.store import ResultsStore
from xtra_bench.report.training import TaskWeightSummary, TrainingReturns, task_weight_summaries, training_returns
from xtra_bench.report.weights import eta_curves


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """What a report compares and how.

    Attributes:
        baseline: the agent improvements and improvement probabilities are measured against.
        min_seeds: fewer seeds than this behind a number draws a warning (the protocol's default is 5).
        aggregate: bootstrap settings of the rliable aggregates.
        reference: the method scoring 1 where games have no human reference, random scoring 0
            (see ``aggregates``); None: the baseline.
    """

    baseline: str = "efficientzero"
    reference: str | None = None
    min_seeds: int = 5
    aggregate: AggregateConfig = dataclasses.field(default_factory=AggregateConfig)


@dataclasses.dataclass(frozen=True)
class SettingReport:
    """One setting's section of the report.

    Attributes:
        table: per-game scores and the paper's aggregate rows.
        published: (method, game) -> the paper's score for the same agent, game and split.
        published_aggregates: method -> the paper's aggregate rows printed for its agent.
        rliable: the rliable aggregates, or None (``rliable_note`` says why).
        rliable_note: which games, runs and normalisation the aggregates use, or why there are none.
        task_weights: method -> target -> offline game -> float [3, K] (steps, mean eta, seeds).
        curves: (method, game) -> its raw-score learning curve over the periodic evaluations.
        training: (method, game) -> its training-episode returns per quarter of the budget.
        task_weight_summary: (method, target) -> offline game -> its weights and gradient cosines.
        periodic_runs: (method, game) -> seed -> env step -> that seed's mean periodic return
            (``curves.periodic_runs``): the single runs behind each curve.
    """

    table: SettingTable
    published: dict[tuple[str, str], PublishedValue]
    published_aggregates: dict[str, list[tuple[AggregateRow, PublishedValue]]]
    rliable: RliableResults | None
    rliable_note: str
    task_weights: dict[str, dict[str, dict[str, np.ndarray]]]
    curves: dict[tuple[str, str], Curve]
    training: dict[tuple[str, str], TrainingReturns]
    task_weight_summary: dict[tuple[str, str], dict[str, TaskWeightSummary]]
    periodic_runs: dict[tuple[str, str], dict[int, dict[int, float]]]


@dataclasses.dataclass(frozen=True)
class Report:
    """A whole report: the store it reads, one section per setting and every warning."""

    store: ResultsStore
    config: ReportConfig
    settings: tuple[SettingReport, ...]
    warnings: tuple[str, ...]


def _setting_report(
    table: SettingTable, tables: tuple[PublishedTable, ...], config: ReportConfig, eval_interval, env_steps: int | None
) -> SettingReport:
    published = {}
    agents = {}
    for (m, g), cell in table.cells.items():
        job = cell.jobs[0]
        if job.overrides:
            continue  # the paper's numbers are of its own settings
        agents[m] = (job.agent, job.split)
        value = published_score(tables, job.agent, job.split, g)
        if value is not None:
            published[m, g] = value
    aggregates = {
        m: rows for m, (agent, split) in agents.items() if (rows := published_aggregates(tables, table.setting, agent, split))
    }
    matrices, note = score_matrices(table, eval_interval, config.reference)
    results = rliable_results(matrices, table.baseline, config.aggregate) if matrices is not None else None
    runs = periodic_runs(table, eval_interval)
    return SettingReport(
        table,
        published,
        aggregates,
        results,
        note,
        eta_curves(table),
        learning_curves(runs),
        training_returns(table, env_steps) if env_steps else {},
        task_weight_summaries(table),
        runs,
    )


def _warnings(store: ResultsStore, tables: list[SettingTable], config: ReportConfig) -> list[str]:
    out = []
    if len(store.hashes) > 1:
        out.append(f"results from different protocols are aggregated (--allow-mixed): {', '.join(store.hashes)}")
    if store.skipped:
        out.append(f"{len(store.skipped)} job(s) left out: " + "; ".join(f"{p} ({why})" for p, why in store.skipped))
    for table in tables:
        few = [f"{m} on {g} ({c.seeds})" for (m, g), c in sorted(table.cells.items()) if c.seeds < config.min_seeds]
        if few:
            out.append(f"{table.setting}: fewer than {config.min_seeds} seeds behind " + ", ".join(few))
        if table.baseline is None:
            missing = f"{table.setting}: no results of the baseline {config.baseline!r}"
            out.append(f"{missing}, so no improvement rows or improvement probabilities")
    return out


def build_report(store: ResultsStore, config: ReportConfig) -> Report:
    """Computes every table and aggregate of a report.

    Args:
        store: the finished jobs.
        config: baseline, seed threshold and bootstrap settings.

    Returns:
        The report, ready to be written.
    """
    published = load_tables()
    tables = score_tables(store, config.baseline)
    eval_interval = store.protocol.get("eval_interval")
    env_steps = store.protocol.get("env_steps")
    sections = tuple(_setting_report(t, published, config, eval_interval, env_steps) for t in tables)
    return Report(store, config, sections, tuple(_warnings(store, tables, config)))
