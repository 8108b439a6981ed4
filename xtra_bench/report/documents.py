"""The human-readable report: ``report.md`` (figures linked) and a self-contained ``index.html``
(figures embedded as base64 PNG, no external resources)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from xtra_bench import __version__
from xtra_bench.report.build import Report
from xtra_bench.report.figures import Figure
from xtra_bench.report.layout import (
    Table,
    detail_table,
    paper_table,
    periodic_table,
    rliable_table,
    task_weight_table,
    training_table,
)


def _tables(report: Report, setting_index: int) -> tuple[list[Table], list[Table]]:
    """A section's summary tables (paper layout, rliable) and the tables after its figures (per-game
    detail, training returns, task weights, periodic evaluations per run)."""
    section = report.settings[setting_index]
    rl = rliable_table(section, report.config.aggregate.reps)
    after = [detail_table(section), training_table(section), task_weight_table(section), periodic_table(section)]
    return [paper_table(section), *([rl] if rl else [])], [t for t in after if t is not None]


def _protocol_lines(protocol: dict) -> list[str]:
    """The budget and evaluation rules of the (first) protocol, in words; none for a tree that lacks them."""
    keys = ("env_steps", "eval_interval", "periodic_eval_episodes", "eval_episodes")
    if not all(isinstance(protocol.get(k), int) for k in keys):
        return []
    # Protocols from before the choice omit train_games: their games ended at evaluations.
    games = "played out across evaluations" if protocol.get("train_games") == "play-out" else "ended at every evaluation point"
    return [
        f"Protocol: {protocol['env_steps']:,} agent steps; {protocol['periodic_eval_episodes']} games every"
        f" {protocol['eval_interval']:,} steps and {protocol['eval_episodes']} with the final weights; training games {games}"
    ]


def _header_lines(report: Report) -> list[str]:
    store, boot = report.store, report.config.aggregate
    hashes = ", ".join(store.hashes)
    return [
        f"Results: {', '.join(str(r) for r in store.roots)}",
        f"Protocol hash: {hashes}; {len(store.jobs)} finished jobs",
        *_protocol_lines(store.protocol),
        f"Baseline: {report.config.baseline}; bootstrap: {boot.reps:,} replicates, seed {boot.seed}",
        f"Games without a human score (MinAtar) are normalised as (score - random) / (reference - random):"
        f" random = the random agent's score, reference = {report.config.reference or report.config.baseline}'s, both from these results",
        f"xtra-bench {__version__}",
    ]


def _md_table(table: Table) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = [f"### {table.title}", "", "| " + " | ".join(map(esc, table.headers)) + " |", "|" + "---|" * len(table.headers)]
    lines += ["| " + " | ".join(map(esc, row)) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"_{table.note}_"]
    return "\n".join(lines)


def markdown(report: Report, figures: list[Figure], root: Path) -> str:
    """The report as Markdown; figures are linked relative to ``root`` (the report's folder)."""
    parts = ["# xtra-bench report", "", *(f"- {line}" for line in _header_lines(report))]
    if report.warnings:
        parts += ["", "## Warnings", "", *(f"- {w}" for w in report.warnings)]
    for i, section in enumerate(report.settings):
        parts += ["", f"## Setting: {section.table.setting}", ""]
        summary_tables, after = _tables(report, i)
        parts += [_md_table(t) + "\n" for t in summary_tables]
        if section.rliable is None:
            parts += [f"_No rliable aggregates: {section.rliable_note}._", ""]
        for fig in (f for f in figures if f.setting == section.table.setting):
            rel = fig.png.relative_to(root).as_posix()
            parts += [f"![{fig.caption}]({rel})", f"_{fig.caption}_ ([PDF]({fig.pdf.relative_to(root).as_posix()}))", ""]
        parts += [_md_table(t) + "\n" for t in after]
    return "\n".join(parts) + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f2f2f2; } td:first-child, td:nth-child(2) { text-align: left; }
th.published, td.published { font-style: italic; color: #555; }
.note { font-size: 0.8em; color: #555; margin-bottom: 1.2em; }
.warnings { border-left: 4px solid #999; padding: 0.3em 1em; background: #f7f7f7; }
figure { margin: 1em 0; } figure img { max-width: 100%; } figcaption { font-size: 0.85em; color: #444; }
"""


def _html_table(table: Table) -> str:
    published = [h.endswith("(published)") or h == "Published" for h in table.headers]
    cls = lambda i: ' class="published"' if published[i] else ""  # noqa: E731
    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(table.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(row)) + "</tr>" for row in table.rows
    )
    note = f'<p class="note">{html.escape(table.note)}</p>' if table.note else ""
    return f"<h3>{html.escape(table.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _embedded(fig: Figure) -> str:
    data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    caption = html.escape(fig.caption)
    return f'<figure><img alt="{caption}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'


def html_page(report: Report, figures: list[Figure]) -> str:
    """The report as one self-contained HTML page."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', "<title>xtra-bench report</title>"]
    parts += [f"<style>{_STYLE}</style></head><body>", "<h1>xtra-bench report</h1>"]
    parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in _header_lines(report)) + "</ul>")
    if report.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in report.warnings)
        parts.append(f'<div class="warnings"><h2>Warnings</h2><ul>{items}</ul></div>')
    for i, section in enumerate(report.settings):
        parts.append(f"<h2>Setting: {html.escape(section.table.setting)}</h2>")
        summary_tables, after = _tables(report, i)
        parts += [_html_table(t) for t in summary_tables]
        if section.rliable is None:
            parts.append(f'<p class="note">No rliable aggregates: {html.escape(section.rliable_note)}.</p>')
        parts += [_embedded(f) for f in figures if f.setting == section.table.setting]
        parts += [_html_table(t) for t in after]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
