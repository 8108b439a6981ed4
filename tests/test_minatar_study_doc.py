"""The MinAtar study's write-up quotes what `xtra-bench report results/minatar-v1` prints.

The report is regenerated from the committed results into a temporary folder, and every table of
`docs/minatar-study.md` that carries numbers is read back against it: the per-target tables
against the regenerated `scores.csv` (and its training-return table), the tables copied from the
report (aggregates, training returns, task weights) line by line against the regenerated
`report.md`. A result added without updating the doc, or a doc edited by hand, fails here.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
from report_trees import write_report

from xtra_bench.report.aggregates import AggregateConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "minatar-v1"
DOC = ROOT / "docs" / "minatar-study.md"
PER_TARGET_HEADER = "| agent | seeds | per seed | mean [95% CI] |"


def _tables(text: str) -> list[tuple[int, list[str]]]:
    """(line index of the header, [header, rows...]) of every markdown table, separator dropped."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            out.append((i, [lines[i]] + lines[i + 2 : j]))
            i = j
        else:
            i += 1
    return out


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[dict[tuple[str, str], dict[str, str]], list[list[str]]]:
    """The regenerated report at the default replicates, as the doc's: (scores.csv rows by (game,
    method), report.md's tables)."""
    out = tmp_path_factory.mktemp("study") / "report"
    report_md = write_report(RESULTS, out, reps=AggregateConfig().reps)
    rows = csv.DictReader((out / "scores.csv").read_text().splitlines())
    return {(r["game"], r["method"]): r for r in rows}, [t for _, t in _tables(report_md)]


def test_per_target_tables_quote_the_regenerated_scores(report):
    scores, report_tables = report
    training = {}
    for table in report_tables:
        if table[0].startswith("| Game | Method | Seeds | 0-5k"):
            for row in table[1:]:
                c = _cells(row)
                training[c[0], c[1]] = c[-1]
    doc = DOC.read_text()
    doc_lines = doc.splitlines()
    checked = set()
    for at, table in _tables(doc):
        if not table[0].startswith(PER_TARGET_HEADER):
            continue
        game = re.findall(r"Target (MinAtar-\w+)", "\n".join(doc_lines[:at]))[-1]
        last_column = _cells(table[0])[-1]
        for row in table[1:]:
            agent, seeds, per_seed, estimate, last = _cells(row)
            agent = agent.strip("`")
            r = scores[game, agent]
            assert int(seeds) == int(r["seeds"]), (game, agent)
            assert [float(x) for x in per_seed.split(",")] == [float(x) for x in r["seed_scores"].split(";")], (game, agent)
            mean, low, high = float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])
            want = f"{mean:.1f}" if math.isnan(low) else f"{mean:.1f} [{low:.1f}, {high:.1f}]"
            assert estimate == want, (game, agent)
            if last_column == "/ efficientzero":
                assert last == f"{mean / float(scores[game, 'efficientzero']['mean']):.2f}", (game, agent)
            else:
                assert last == training.get((game, agent), "-"), (game, agent)
            checked.add((game, agent))
    # Breakout and SpaceInvaders carry every agent of the study; the check must have read them.
    for game in ("MinAtar-Breakout", "MinAtar-SpaceInvaders"):
        assert {a for g, a in checked if g == game} >= {"efficientzero", "efficientzero-l", "xtra", "xtra-no-cross-task", "xtra-no-pretraining", "random"}


def test_tables_copied_from_the_report_match_it_line_by_line(report):
    report_tables = {t[0]: set(t[1:]) for t in report[1]}
    copied = 0
    for _, table in _tables(DOC.read_text()):
        if table[0] in report_tables:
            missing = [row for row in table[1:] if row not in report_tables[table[0]]]
            assert not missing, missing
            copied += 1
    assert copied >= 3  # the aggregates, the training returns and the task weights
