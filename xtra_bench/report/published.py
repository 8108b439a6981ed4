"""The XTRA paper's published numbers, bundled as data (``published/table*.json``).

Source: Xu, Hansen, Wang et al., "On the Feasibility of Cross-Task Transfer with Model-Based
Reinforcement Learning", ICLR 2023: Table 1 (similar games), Table 2 (diverse games), Table 3
(per-seed scores), Tables 4-5 (CURL), Table 6 (diverse ablations), Table 7 (number of pretraining
tasks). Each file holds the per-game rows and the aggregate rows exactly as printed; a column's
``agent`` names the registry agent it corresponds to (null for methods this benchmark does not
run), and its ``split`` the split when it differs from the row's (the task-count variants).
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources

from xtra_bench.games import get_game
from xtra_bench.protocol import baseline_relative, human_normalized
from xtra_bench.report.scores import OVERALL, mean_and_median, method_label

PAPER = "Xu et al., ICLR 2023"


@dataclasses.dataclass(frozen=True)
class Column:
    """One method column: its key in the rows, printed label, registry agent and split override."""

    key: str
    label: str
    agent: str | None
    split: str | None


@dataclasses.dataclass(frozen=True)
class AggregateRow:
    """An aggregate row: ``statistic`` (e.g. "mean_improvement") over ``group`` ("Shooter", "all")."""

    group: str
    statistic: str
    values: dict[str, float]


@dataclasses.dataclass(frozen=True)
class PublishedTable:
    """One table of the paper.

    Attributes:
        number: the table's number in the paper ("1" ... "7").
        title: what the table shows.
        setting: "similar" or "diverse".
        aggregate: "baseline_relative" (improvement over ``baseline``) or "human_normalized".
        baseline: the column improvements are relative to, if any.
        columns: column key -> Column.
        rows: per-game rows as stored (game, split, category, scores, and for Table 3 seeds).
        aggregates: the aggregate rows as printed.
    """

    number: str
    title: str
    setting: str
    aggregate: str
    baseline: str | None
    columns: dict[str, Column]
    rows: tuple[dict, ...]
    aggregates: tuple[AggregateRow, ...]

    @property
    def source(self) -> str:
        return f"{PAPER}, Table {self.number}"

    def recompute(self) -> tuple[AggregateRow, ...]:
        """The aggregate rows computed from the per-game rows, in the layout of ``aggregates``."""
        if self.aggregate == "baseline_relative":
            groups: dict[str, list[dict]] = {}
            for row in self.rows:
                groups.setdefault(row["category"], []).append(row)
            groups[OVERALL] = list(self.rows)
            out = []
            for group, rows in groups.items():
                stats = {
                    k: mean_and_median([baseline_relative(r["scores"][k], r["scores"][self.baseline]) for r in rows])
                    for k in self.columns
                }
                out.append(AggregateRow(group, "mean_improvement", {k: v[0] for k, v in stats.items()}))
                out.append(AggregateRow(group, "median_improvement", {k: v[1] for k, v in stats.items()}))
            return tuple(out)
        rows = [r for r in self.rows if get_game(r["game"]).has_human_reference]
        stats = {k: mean_and_median([human_normalized(r["game"], r["scores"][k]) for r in rows]) for k in self.columns}
        return (
            AggregateRow("all", "human_normalized_mean", {k: v[0] for k, v in stats.items()}),
            AggregateRow("all", "human_normalized_median", {k: v[1] for k, v in stats.items()}),
        )


def _table(data: dict) -> PublishedTable:
    columns = {k: Column(k, c["label"], c.get("agent"), c.get("split")) for k, c in data["columns"].items()}
    aggregates = tuple(AggregateRow(a["group"], a["statistic"], a["values"]) for a in data["aggregates"])
    return PublishedTable(
        data["table"],
        data["title"],
        data["setting"],
        data["aggregate"],
        data.get("baseline"),
        columns,
        tuple(data["rows"]),
        aggregates,
    )


def load_tables() -> tuple[PublishedTable, ...]:
    """Every bundled table, in the paper's order."""
    folder = resources.files("xtra_bench.report") / "published"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name)
    return tuple(_table(json.loads(f.read_text())) for f in files)


def _matches(column: Column, row_split: str, agent: str, split: str) -> bool:
    if column.agent != agent:
        return False
    return split == (column.split or row_split)


@dataclasses.dataclass(frozen=True)
class PublishedValue:
    """A published number and where it is printed."""

    value: float
    table: str
    label: str


def published_score(tables: tuple[PublishedTable, ...], agent: str, split: str, game: str) -> PublishedValue | None:
    """The paper's score of ``agent`` on ``game`` in the setting of ``split``, from the first table
    that prints it, or None."""
    for table in tables:
        for row in table.rows:
            if row["game"] != game:
                continue
            for column in table.columns.values():
                if column.key in row["scores"] and _matches(column, row["split"], agent, split):
                    return PublishedValue(float(row["scores"][column.key]), table.number, column.label)
    return None


def published_aggregates(
    tables: tuple[PublishedTable, ...], setting: str, agent: str, split: str
) -> list[tuple[AggregateRow, PublishedValue]]:
    """The paper's aggregate rows for a measured method, with the value printed for it.

    Args:
        tables: the bundled tables.
        setting: the measured table's setting.
        agent: the method's agent.
        split: a split the method was run on (tells the task-count variants apart).

    Returns:
        (row, value) for every printed aggregate row of a matching column.
    """
    out = []
    for table in tables:
        for column in table.columns.values():
            if table.setting != setting or column.agent != agent:
                continue
            # A column naming a split matches only that split; the others, the setting's own splits.
            fits = column.split == split if column.split else method_label(agent, split) == agent
            if not fits:
                continue
            for row in table.aggregates:
                if column.key in row.values:
                    out.append((row, PublishedValue(float(row.values[column.key]), table.number, column.label)))
    return out
