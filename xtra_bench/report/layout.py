"""The report's tables as rows of text, shared by the Markdown and HTML writers."""

from __future__ import annotations

import dataclasses
import math

from xtra_bench.report.build import SettingReport
from xtra_bench.report.metrics import AGGREGATE_NAMES
from xtra_bench.report.published import PublishedValue

PUBLISHED = "published"


@dataclasses.dataclass(frozen=True)
class Table:
    """A titled table of strings with an optional note under it."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def number(value: float | None, digits: int = 2) -> str:
    """A value with ``digits`` decimals, or "-" when missing or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def interval(point: float, low: float, high: float, digits: int = 2) -> str:
    """ "point [low, high]"."""
    return f"{number(point, digits)} [{number(low, digits)}, {number(high, digits)}]"


def _published(value: PublishedValue | None, digits: int) -> str:
    return "-" if value is None else f"{number(value.value, digits)} (T{value.table})"


def _published_aggregate(section: SettingReport, method: str, group: str, statistic: str) -> PublishedValue | None:
    for row, value in section.published_aggregates.get(method, []):
        if row.group == group and row.statistic == statistic:
            return value
    return None


def paper_table(section: SettingReport) -> Table:
    """Games by methods with the paper's aggregate rows (Table 1 / Table 2 layout); each method that
    the paper reports is followed by a column of the published numbers."""
    t = section.table
    with_published = {m for m, _ in section.published} | set(section.published_aggregates)
    columns = [c for m in t.methods for c in ([(m, False), (m, True)] if m in with_published else [(m, False)])]
    headers = ("Category", "Game", *(f"{m} ({PUBLISHED})" if pub else m for m, pub in columns))
    rows = []
    for g in t.games:
        cells = []
        for m, pub in columns:
            cell = t.cells.get((m, g))
            cells.append(_published(section.published.get((m, g)), 1) if pub else number(cell.mean if cell else None, 1))
        rows.append((t.category(g), g, *cells))
    for group, per_method in t.improvement.items():
        for statistic, attr in (("mean_improvement", "mean"), ("median_improvement", "median")):
            label = f"{attr.capitalize()} improvement"
            cells = [
                _published(_published_aggregate(section, m, group, statistic), 2)
                if pub
                else number(getattr(per_method.get(m), attr, None))
                for m, pub in columns
            ]
            rows.append((group, label, *cells))
    for statistic, attr in (("human_normalized_mean", "mean"), ("human_normalized_median", "median")):
        cells = [
            _published(_published_aggregate(section, m, "all", statistic), 2)
            if pub
            else number(getattr(t.human.get(m), attr, None))
            for m, pub in columns
        ]
        if any(c != "-" for c in cells):
            rows.append(("Human-normalised", attr, *cells))
    seeds = sorted({c.seeds for c in t.cells.values()})
    span = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    note = f"Scores: mean over {span} seeds of each seed's mean final-evaluation return."
    if t.baseline:
        note += f" Improvement = score / {t.baseline}'s score on the same game (the paper's Table 1)."
        near_zero = sorted({g for (m, g), c in t.cells.items() if c.difference is not None})
        if near_zero:
            note += (
                f" On {', '.join(near_zero)} {t.baseline}'s score is within noise of 0 (its 95% CI includes 0), so no ratio"
                " is taken there and those games are left out of the improvement rows; the detail table gives the difference instead."
            )
    note += (
        " Human-normalised: games with a human reference only (the paper's Table 2; Carnival and Pooyan have none)."
        " Published columns: the paper's numbers for the same agent, game and split; T<n> = its Table n."
    )
    return Table(f"{t.setting}: scores in the paper's layout", headers, tuple(rows), note)


def _versus_baseline(cell) -> str:
    """The ratio to the baseline, or "Δ d [low, high]" where the baseline's score is within noise of 0."""
    if cell.difference is not None:
        d, low, high = cell.difference
        return f"Δ {d:+.1f} [{number(low, 1)}, {number(high, 1)}]"
    return number(cell.relative)


def detail_table(section: SettingReport) -> Table:
    """One row per (game, method): how many seeds and episodes stand behind every number."""
    t = section.table
    headers = (
        "Game",
        "Method",
        "Seeds",
        "Episodes/seed",
        "Mean",
        "95% CI",
        "Std",
        "Human-norm.",
        f"/ {t.baseline or 'baseline'}",
        PUBLISHED.capitalize(),
    )
    rows = []
    for g in t.games:
        for m in t.methods:
            c = t.cells.get((m, g))
            if c is None:
                continue
            episodes = sorted(set(c.episodes))
            rows.append(
                (
                    g,
                    m,
                    str(c.seeds),
                    "-".join(map(str, (episodes[0], episodes[-1]))) if len(episodes) > 1 else str(episodes[0]),
                    number(c.mean, 1),
                    f"[{number(c.ci_low, 1)}, {number(c.ci_high, 1)}]",
                    number(c.std, 1),
                    number(c.human_normalized),
                    _versus_baseline(c),
                    _published(section.published.get((m, g)), 1),
                )
            )
    return Table(
        f"{t.setting}: per game, with seeds and episodes",
        headers,
        tuple(rows),
        "95% CI: Student t over seeds (none with one seed). Versus the baseline: score / its score, or, where its"
        " score is within noise of 0, Δ = score - its score with Welch's 95% CI.",
    )


def rliable_table(section: SettingReport, reps: int) -> Table | None:
    """IQM, median, mean and optimality gap with intervals, and P(method > baseline); ``reps`` is
    the number of bootstrap replicates behind the intervals."""
    r = section.rliable
    if r is None:
        return None
    has_poi = bool(r.improvement)
    baseline = section.table.baseline
    headers = ("Method", *AGGREGATE_NAMES, *((f"P(method > {baseline})",) if has_poi else ()))
    rows = []
    for m, point in r.point.items():
        ci = r.ci[m]
        cells = [interval(point[i], ci[0, i], ci[1, i]) for i in range(len(AGGREGATE_NAMES))]
        if has_poi:
            cells.append(interval(r.improvement[m][0], *r.improvement[m][1]) if m in r.improvement else "-")
        rows.append((m, *cells))
    return Table(
        f"{section.table.setting}: rliable aggregates",
        headers,
        tuple(rows),
        f"{section.rliable_note}; 95% stratified bootstrap intervals from {reps:,} replicates.",
    )


def _steps(value: int) -> str:
    """Env steps as "5k" where they are whole thousands."""
    return f"{value // 1000}k" if value % 1000 == 0 and value else str(value)


def training_table(section: SettingReport) -> Table | None:
    """Training-episode returns per block of the budget, one row per (game, method)."""
    if not section.training:
        return None
    edges = next(iter(section.training.values())).edges
    blocks = [f"{_steps(int(a))}-{_steps(int(b))}" for a, b in zip(edges[:-1], edges[1:])]
    rows = []
    t = section.table
    for g in t.games:
        for m in t.methods:
            r = section.training.get((m, g))
            if r is not None:
                rows.append((g, m, str(len(r.per_seed)), *(number(v) for v in r.mean)))
    return Table(
        f"{t.setting}: training-episode returns",
        ("Game", "Method", "Seeds", *blocks),
        tuple(rows),
        "Raw score of the games each run finished while training (with its exploration), mean over the games"
        " ending in each block of env steps, then over seeds; settings are chosen on these, never on evaluations.",
    )


def periodic_table(section: SettingReport) -> Table | None:
    """Every run's periodic evaluations and its final score, one row per (game, method, seed)."""
    if not section.periodic_runs:
        return None
    t = section.table
    steps = sorted({s for runs in section.periodic_runs.values() for run in runs.values() for s in run})
    rows = []
    for g in t.games:
        for m in t.methods:
            runs = section.periodic_runs.get((m, g))
            if runs is None:
                continue
            finals = {j.seed: j.score for j in t.cells[m, g].jobs}
            for seed, run in sorted(runs.items()):
                rows.append((g, m, str(seed), *(number(run.get(s), 1) for s in steps), number(finals[seed], 1)))
    return Table(
        f"{t.setting}: periodic evaluations per run",
        ("Game", "Method", "Seed", *(_steps(s) for s in steps), "Final"),
        tuple(rows),
        "Mean return of each periodic evaluation (greedy, at the env step heading its column) and of the final"
        " evaluation, per run: the single runs behind the learning curves. '-': no evaluation at that step.",
    )


def task_weight_table(section: SettingReport) -> Table | None:
    """XTRA's task weights and gradient cosines, one row per (method, target, offline game)."""
    if not section.task_weight_summary:
        return None
    rows = []
    for (m, target), per_task in sorted(section.task_weight_summary.items()):
        for g, s in per_task.items():
            rows.append(
                (
                    m,
                    target,
                    g,
                    str(s.seeds),
                    number(s.mean_eta),
                    number(s.final_eta),
                    number(s.mean_cosine, 3),
                    number(s.max_cosine, 3),
                    str(s.cosine_steps),
                )
            )
    return Table(
        f"{section.table.setting}: task weights",
        ("Method", "Target", "Offline task", "Seeds", "Mean eta", "Final eta", "Mean cosine", "Max cosine", "Window steps"),
        tuple(rows),
        "eta: the offline task's loss weight, averaged over each run's env steps (each logged value held until the"
        " next), and its last value; mean over seeds."
        " Cosine: between the target loss's gradient and the task's over the shared parameters, on the window steps"
        " that set eta (mean over each run's steps, then over seeds; max over every step); window steps summed over seeds.",
    )
