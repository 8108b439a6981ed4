"""Draws and saves every figure of a report."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

from xtra_bench.report import plots
from xtra_bench.report.build import Report, SettingReport


@dataclasses.dataclass(frozen=True)
class Figure:
    """A saved figure: its section, file stem, caption and the PNG and PDF it was written to."""

    setting: str
    name: str
    caption: str
    png: Path
    pdf: Path


def _section_figures(section: SettingReport) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, caption, draw) of every figure of a section; drawn one at a time to keep one open."""
    t, r = section.table, section.rliable
    out = [
        (
            "scores",
            "Score per game: mean over seeds with 95% CI; hollow diamonds: the paper's published score.",
            lambda: plots.per_game_scores(t, section.published),
        )
    ]
    if section.curves:
        out.append(
            (
                "curves",
                "Learning curves: mean periodic evaluation return over seeds with its 95% CI band; dots: final-weights score.",
                lambda: plots.learning_curves(t, section.curves, section.periodic_runs),
            )
        )
    if r is not None:
        norm = r.matrices.normalization
        out.append(
            (
                "aggregates",
                f"IQM, median, mean and optimality gap of {norm}-normalised scores (95% stratified bootstrap CIs).",
                lambda: plots.interval_estimates(r),
            )
        )
        out.append(
            (
                "profiles",
                f"Performance profiles: fraction of runs with {norm}-normalised score above tau.",
                lambda: plots.performance_profiles(r),
            )
        )
        if r.improvement:
            out.append(
                (
                    "improvement",
                    f"Probability of improvement of each method over {t.baseline}.",
                    lambda: plots.probability_of_improvement(r, t.baseline),
                )
            )
        if r.curve_point:
            out.append(
                (
                    "sample-efficiency",
                    f"Sample efficiency: IQM of {norm}-normalised periodic evaluations over environment steps.",
                    lambda: plots.sample_efficiency(r),
                )
            )
    for method, curves in section.task_weights.items():
        title = f"{method}: task weights of the offline tasks ({t.setting})"
        draw = lambda curves=curves, title=title: plots.task_weights(curves, title)  # noqa: E731
        out.append(
            (f"task-weights-{method}", f"{method}: task weight of each offline task over training, mean over seeds.", draw)
        )
    return out


def write_figures(report: Report, folder: Path) -> list[Figure]:
    """Saves every figure of ``report`` under ``folder`` as PNG and PDF.

    Returns:
        The figures in report order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    figures = []
    for section in report.settings:
        for name, caption, draw in _section_figures(section):
            stem = folder / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{section.table.setting}-{name}")
            png, pdf = plots.save(draw(), stem)
            figures.append(Figure(section.table.setting, name, caption, png, pdf))
    return figures
