"""Writes a report folder: report.md, index.html, scores.csv, summary.json and figures/.

The folder is assembled next to its destination and moved into place only when complete, so an
interrupted report never leaves a half-written folder; an existing folder is replaced only with
``force``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from xtra_bench.errors import ConfigError
from xtra_bench.report.build import Report
from xtra_bench.report.documents import html_page, markdown
from xtra_bench.report.figures import Figure, write_figures
from xtra_bench.report.metrics import AGGREGATE_NAMES

REPORT_MARKER = ".xtra-bench-report"
"""Written into every report folder: the only kind of folder ``--force`` replaces."""

CSV_COLUMNS = (
    "setting", "game", "category", "method", "agent", "split", "seeds", "seed_ids", "seed_scores", "episodes_per_seed",
    "mean", "ci_low", "ci_high",
    "std", "human_normalized", "relative_to_baseline", "difference_to_baseline", "difference_ci_low", "difference_ci_high",
    "published", "published_table",
)  # fmt: skip


def _num(value: float | None):
    """JSON-safe number: NaN becomes null."""
    return None if value is None or not np.isfinite(value) else float(value)


def scores_csv(report: Report) -> str:
    """One row per (setting, game, method) with the numbers behind the report's tables."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for section in report.settings:
        t = section.table
        for g in t.games:
            for m in t.methods:
                c = t.cells.get((m, g))
                if c is None:
                    continue
                pub = section.published.get((m, g))
                writer.writerow(
                    [
                        t.setting,
                        g,
                        t.category(g),
                        m,
                        c.jobs[0].agent,
                        c.jobs[0].split,
                        c.seeds,
                        ";".join(str(j.seed) for j in c.jobs),
                        ";".join(repr(float(j.score)) for j in c.jobs),
                        ";".join(map(str, c.episodes)),
                        c.mean,
                        c.ci_low,
                        c.ci_high,
                        c.std,
                        c.human_normalized,
                        c.relative,
                        *(c.difference if c.difference is not None else ("", "", "")),
                        pub.value if pub else "",
                        pub.table if pub else "",
                    ]  # fmt: skip
                )
    return buf.getvalue()


def summary(report: Report, figures: list[Figure], root: Path) -> dict:
    """Every aggregate of the report as a JSON-ready dict."""
    sections = {}
    for section in report.settings:
        t, r = section.table, section.rliable
        entry = {
            "games": list(t.games),
            "methods": list(t.methods),
            "baseline": t.baseline,
            "seeds": {m: {g: t.cells[m, g].seeds for g in t.games if (m, g) in t.cells} for m in t.methods},
            "improvement": {
                group: {m: {"mean": _num(a.mean), "median": _num(a.median), "games": a.games} for m, a in per.items()}
                for group, per in t.improvement.items()
            },
            "human_normalized": {
                m: {"mean": _num(a.mean), "median": _num(a.median), "games": a.games} for m, a in t.human.items()
            },
            "difference_to_baseline": {
                m: {g: {"mean": _num(c.difference[0]), "ci": [_num(c.difference[1]), _num(c.difference[2])]}
                    for g in t.games if (c := t.cells.get((m, g))) is not None and c.difference is not None}
                for m in t.methods
                if any((c := t.cells.get((m, g))) is not None and c.difference is not None for g in t.games)
            },
            "published": {
                m: [
                    {"table": v.table, "column": v.label, "group": row.group, "statistic": row.statistic, "value": v.value}
                    for row, v in rows
                ]
                for m, rows in section.published_aggregates.items()
            },
            "rliable_note": section.rliable_note,
        }
        if r is not None:
            entry["rliable"] = {
                "normalization": r.matrices.normalization,
                "games": list(r.matrices.games),
                "runs": r.matrices.runs,
                "aggregates": {
                    m: {
                        name: {"point": _num(p[i]), "ci": [_num(r.ci[m][0, i]), _num(r.ci[m][1, i])]}
                        for i, name in enumerate(AGGREGATE_NAMES)
                    }
                    for m, p in r.point.items()
                },
                "probability_of_improvement": {
                    m: {"over": t.baseline, "point": _num(p), "ci": [_num(ci[0]), _num(ci[1])]}
                    for m, (p, ci) in r.improvement.items()
                },
                "sample_efficiency": {
                    "steps": r.matrices.steps.tolist(),
                    "iqm": {m: [_num(v) for v in c] for m, c in r.curve_point.items()},
                },
            }
        if section.training:
            returns = {}
            for (m, g), per_block in section.training.items():
                returns.setdefault(m, {})[g] = [_num(v) for v in per_block.mean]
            edges = next(iter(section.training.values())).edges
            entry["training_returns"] = {"block_edges": edges.tolist(), "mean": returns}
        if section.task_weight_summary:
            weights = {}
            for (m, target), per_task in section.task_weight_summary.items():
                weights.setdefault(m, {})[target] = {
                    g: {k: _num(v) if isinstance(v, float) else v for k, v in dataclasses.asdict(w).items()}
                    for g, w in per_task.items()
                }
            entry["task_weights"] = weights
        if section.periodic_runs:
            runs = {}
            for (m, g), per_seed in section.periodic_runs.items():
                runs.setdefault(m, {})[g] = {str(seed): {str(s): _num(v) for s, v in run.items()} for seed, run in per_seed.items()}
            entry["periodic_runs"] = runs
        sections[t.setting] = entry
    cfg = report.config
    return {
        "results": [str(p) for p in report.store.roots],
        "protocols": report.store.protocols,
        "baseline": cfg.baseline,
        "reference": cfg.reference or cfg.baseline,
        "bootstrap": {"reps": cfg.aggregate.reps, "seed": cfg.aggregate.seed, "confidence": cfg.aggregate.confidence},
        "warnings": list(report.warnings),
        "settings": sections,
        "figures": [
            {
                "setting": f.setting,
                "name": f.name,
                "png": f.png.relative_to(root).as_posix(),
                "pdf": f.pdf.relative_to(root).as_posix(),
            }
            for f in figures
        ],
    }


def check_destination(out: Path, force: bool) -> None:
    """Refuses an existing destination without ``force``, before any work is done.

    Raises:
        ConfigError: ``out`` exists and ``force`` is false, it is a file, or it is not a report
            folder (no ``REPORT_MARKER``).
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder; choose another --out")
    if out.exists() and not force:
        raise ConfigError(f"{out} already exists; pass --force to replace it or choose another --out")
    if out.exists() and (out.is_symlink() or not (out / REPORT_MARKER).is_file()):
        # --force replaces a previous report and nothing else: never a results tree or a folder above one.
        raise ConfigError(f"{out} is not a report folder written by xtra-bench report (no {REPORT_MARKER}); --force replaces only those")


def write_report(report: Report, out: Path, force: bool = False) -> Path:
    """Writes the whole report folder at ``out``.

    Args:
        report: the computed report.
        out: destination folder.
        force: replace an existing folder.

    Returns:
        The path of index.html.
    """
    check_destination(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        figures = write_figures(report, staging / "figures")
        (staging / "report.md").write_text(markdown(report, figures, staging))
        (staging / "index.html").write_text(html_page(report, figures))
        (staging / "scores.csv").write_text(scores_csv(report))
        (staging / "summary.json").write_text(json.dumps(summary(report, figures, staging), indent=2) + "\n")
        (staging / REPORT_MARKER).write_text("written by xtra-bench report; `report --force` may replace this folder\n")
        os.chmod(staging, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / out.name)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out / "index.html"
