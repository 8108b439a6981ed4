"""Figures of a report (matplotlib, Agg backend: no display needed).

Every function takes computed results and returns a ``matplotlib.figure.Figure``; ``save`` writes
it as PNG and PDF. The rliable figures use ``rliable.plot_utils``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # reports are written on machines without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rliable import plot_utils  # noqa: E402

from xtra_bench.report.aggregates import RliableResults  # noqa: E402
from xtra_bench.report.curves import Curve  # noqa: E402
from xtra_bench.report.metrics import AGGREGATE_NAMES  # noqa: E402
from xtra_bench.report.published import PublishedValue  # noqa: E402
from xtra_bench.report.scores import SettingTable  # noqa: E402

_PALETTE = plt.get_cmap("tab10").colors
_PUBLISHED_LABEL = "published (paper)"


def colors(methods: tuple[str, ...]) -> dict[str, tuple]:
    """One fixed colour per method, in table order, shared by every figure."""
    return {m: _PALETTE[i % len(_PALETTE)] for i, m in enumerate(methods)}


def save(fig: matplotlib.figure.Figure, stem: Path) -> tuple[Path, Path]:
    """Writes ``stem``.png and ``stem``.pdf and closes the figure."""
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    fig.savefig(pdf, bbox_inches="tight")
    plt.close(fig)
    return png, pdf


def _game_panels(count: int, width: float, height: float):
    """A grid of ``count`` panels, five to a row, each ``width`` x ``height`` inches (room left for a legend)."""
    ncols = min(5, count)
    nrows = -(-count // ncols)
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.6), squeeze=False)


def _finish_panels(fig: matplotlib.figure.Figure, axes: np.ndarray, used: int) -> None:
    """Hides the panels past ``used`` and puts one legend of every labelled artist under the grid."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 5), frameon=False)


def per_game_scores(table: SettingTable, published: dict[tuple[str, str], PublishedValue]) -> matplotlib.figure.Figure:
    """One panel per game: each method's mean score over seeds with its 95% interval, and the
    paper's number for the same agent and game as a hollow marker.

    Args:
        table: the setting's table.
        published: (method, game) -> the published value, where one exists.
    """
    fig, axes = _game_panels(len(table.games), 3.2, 2.8)
    palette = colors(table.methods)
    for ax, game in zip(axes.flat, table.games):
        for i, m in enumerate(table.methods):
            cell = table.cells.get((m, game))
            if cell is None:
                continue
            err = None if np.isnan(cell.ci_low) else [[cell.mean - cell.ci_low], [cell.ci_high - cell.mean]]
            ax.bar(i, cell.mean, color=palette[m], yerr=err, capsize=3, label=m)
            if (m, game) in published:
                ax.plot(i, published[m, game].value, "D", mfc="none", mec="black", ms=7, label=_PUBLISHED_LABEL)
        ax.set_title(game)
        ax.set_xticks([])
        ax.grid(True, axis="y", alpha=0.3)
    _finish_panels(fig, axes, len(table.games))
    fig.suptitle(f"{table.setting}: score per game (mean over seeds, 95% CI)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def learning_curves(
    table: SettingTable, curves: dict[tuple[str, str], Curve], runs: dict[tuple[str, str], dict[int, dict[int, float]]]
) -> matplotlib.figure.Figure:
    """One panel per game: each method's mean periodic return over seeds against env steps, with
    its 95% interval as a band, and the final-weights score (mean, 95% CI) as a marker at the end.

    Args:
        table: the setting's table (games, methods and final scores).
        curves: (method, game) -> its learning curve.
        runs: (method, game) -> seed -> env step -> mean periodic return (``curves.periodic_runs``).
    """
    games = [g for g in table.games if any((m, g) in curves for m in table.methods)]
    fig, axes = _game_panels(len(games), 3.4, 2.9)
    palette = colors(table.methods)
    for ax, game in zip(axes.flat, games):
        for m in table.methods:
            curve = curves.get((m, game))
            if curve is None:
                continue
            ax.plot(curve.steps, curve.mean, color=palette[m], label=f"{m} (periodic)")
            if curve.seeds > 1:
                ax.fill_between(curve.steps, curve.low, curve.high, color=palette[m], alpha=0.2, linewidth=0)
            cell = table.cells[m, game]
            err = None if np.isnan(cell.ci_low) else [[cell.mean - cell.ci_low], [cell.ci_high - cell.mean]]
            ax.errorbar(curve.steps[-1] * 1.03, cell.mean, yerr=err, fmt="o", color=palette[m], capsize=3, ms=4)
        # Student-t bands over two or three seeds reach far past any return a run can score (Freeway's
        # went to +-150 around runs of 0-28), so the axis spans the runs' own returns and clips them.
        returns = [v for (_, g), by_seed in runs.items() if g == game for run in by_seed.values() for v in run.values()]
        returns += [j.score for m in table.methods if (m, game) in table.cells for j in table.cells[m, game].jobs]
        low, high = min(returns), max(returns)
        pad = 0.08 * (high - low) or 0.5
        ax.set_ylim(low - pad, high + pad)
        ax.set_title(game)
        ax.set_xlabel("env steps")
        ax.grid(True, alpha=0.3)
    axes.flat[0].set_ylabel("return")
    _finish_panels(fig, axes, len(games))
    fig.suptitle(f"{table.setting}: learning curves (mean over seeds, 95% CI); dots: final weights")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def interval_estimates(results: RliableResults) -> matplotlib.figure.Figure:
    """IQM, median, mean and optimality gap of every method with their bootstrap intervals."""
    methods = list(results.point)
    row_height = max(0.6, 1.5 / len(methods))
    fig, _ = plot_utils.plot_interval_estimates(
        results.point,
        results.ci,
        metric_names=AGGREGATE_NAMES,
        algorithms=methods,
        colors=colors(tuple(methods)),
        xlabel=f"{results.matrices.normalization}-normalised score",
        subfigure_width=3.4,
        row_height=row_height,
        xlabel_y_coordinate=-0.6 / (row_height * len(methods)),  # the label sits below the tick labels
    )
    return fig


def performance_profiles(results: RliableResults) -> matplotlib.figure.Figure:
    """Fraction of runs scoring above each threshold, with bootstrap bands."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_performance_profiles(
        results.profiles,
        results.taus,
        performance_profile_cis=results.profile_ci,
        colors=colors(tuple(results.profiles)),
        xlabel=rf"{results.matrices.normalization}-normalised score ($\tau$)",
        ax=ax,
        legend=True,
        legendsize="medium",
        labelsize="large",
        ticklabelsize="medium",
    )
    return fig


def probability_of_improvement(results: RliableResults, baseline: str) -> matplotlib.figure.Figure:
    """P(method > baseline) of every method, with bootstrap intervals."""
    pairs = {f"{m},{baseline}": p for m, (p, _) in results.improvement.items()}
    cis = {f"{m},{baseline}": ci for m, (_, ci) in results.improvement.items()}
    fig, ax = plt.subplots(figsize=(5, 0.6 + 0.5 * len(pairs)))
    palette = colors(tuple(results.point))
    plot_utils.plot_probability_of_improvement(
        pairs, cis, ax=ax, colors=[palette[m] for m in results.improvement], xticks=[0.0, 0.25, 0.5, 0.75, 1.0]
    )
    return fig


def sample_efficiency(results: RliableResults) -> matplotlib.figure.Figure:
    """IQM of the periodic evaluations over environment steps, with bootstrap bands."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    plot_utils.plot_sample_efficiency_curve(
        results.matrices.steps,
        results.curve_point,
        results.curve_ci,
        colors=colors(tuple(results.curve_point)),
        xlabel="environment steps",
        ylabel=f"IQM {results.matrices.normalization}-normalised score",
        ax=ax,
        labelsize="large",
        ticklabelsize="medium",
        legend=True,
        legendsize="medium",
    )
    return fig


def task_weights(curves: dict[str, dict[str, np.ndarray]], title: str) -> matplotlib.figure.Figure:
    """XTRA's weight of every offline task over training, one panel per target (the paper's Figures 5, 8, 9).

    Args:
        curves: target -> offline game -> float [3, K]: env steps, mean eta over seeds, and the
            number of seeds behind each point.
        title: the figure's title.
    """
    ncols = min(3, len(curves))
    nrows = -(-len(curves) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (target, games) in zip(axes.flat, curves.items()):
        for i, (game, curve) in enumerate(games.items()):
            ax.plot(curve[0], curve[1], color=_PALETTE[i % len(_PALETTE)], label=game, lw=1.6)
        ax.set_title(f"target: {target}")
        ax.set_xlabel("environment steps")
        ax.set_ylabel("task weight $\\eta$")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
