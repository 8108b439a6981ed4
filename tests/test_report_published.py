"""The bundled published tables reproduce the paper's own aggregate rows from its per-game rows."""

import numpy as np
import pytest

from xtra_bench.games import get_game
from xtra_bench.report.published import load_tables, published_aggregates, published_score

TABLES = {t.number: t for t in load_tables()}
# The paper prints 0.60 for pretrained CURL's human-normalised mean in Table 4, but its own per-game
# row gives 0.6100 (Assault 0.705, BattleZone 0.405, Hero 0.177, Krull 1.756, Seaquest 0.008).
PAPER_SLIPS = {("4", "all", "human_normalized_mean", "curl-pretrained"): 0.61}
# Printed values are rounded to 2 decimals; so are the per-game scores they were computed from.
ROUNDING = 0.005 + 1e-9


def test_every_table_is_bundled():
    assert sorted(TABLES) == ["1", "2", "3", "4", "5", "6", "7"]


@pytest.mark.parametrize("number", sorted(TABLES))
def test_aggregate_rows_follow_from_the_per_game_rows(number):
    table = TABLES[number]
    recomputed = {(r.group, r.statistic): r.values for r in table.recompute()}
    assert set(recomputed) == {(r.group, r.statistic) for r in table.aggregates}
    for row in table.aggregates:
        for column, printed in row.values.items():
            expected = PAPER_SLIPS.get((number, row.group, row.statistic, column), printed)
            assert recomputed[row.group, row.statistic][column] == pytest.approx(expected, abs=ROUNDING), (row, column)


@pytest.mark.parametrize(
    ("number", "group", "statistic", "column", "printed"),
    [
        pytest.param("2", "all", "human_normalized_mean", "xtra", 1.87, id="T2-xtra-mean"),
        pytest.param("2", "all", "human_normalized_mean", "efficientzero", 1.29, id="T2-ez-mean"),
        pytest.param("1", "Overall", "mean_improvement", "xtra", 1.23, id="T1-xtra-overall-mean"),
        pytest.param("1", "Overall", "median_improvement", "xtra", 1.25, id="T1-xtra-overall-median"),
        pytest.param("1", "Shooter", "mean_improvement", "xtra-constant-weights", 2.06, id="T1-no-weights-shooter"),
        pytest.param("3", "all", "human_normalized_mean", "xtra", 1.45, id="T3-mean"),
        pytest.param("3", "all", "human_normalized_median", "xtra", 0.36, id="T3-median"),
    ],
)
def test_headline_numbers(number, group, statistic, column, printed):
    recomputed = {(r.group, r.statistic): r.values for r in TABLES[number].recompute()}
    assert round(recomputed[group, statistic][column], 2) == printed


def test_table2_xtra_mean_by_hand():
    # (score - random) / (human - random), random and human as printed in Table 2.
    hn = [
        (1742.2 - 222.4) / (742.0 - 222.4),
        (14631.3 - 2360.0) / (37187.5 - 2360.0),
        (10631.8 - 1027.0) / (30826.4 - 1027.0),
        (7735.8 - 1598.0) / (2665.5 - 1598.0),
        (749.5 - 68.4) / (42054.7 - 68.4),
    ]
    (mean_row, median_row) = TABLES["2"].recompute()
    assert mean_row.values["xtra"] == pytest.approx(np.mean(hn))
    assert median_row.values["xtra"] == pytest.approx(np.median(hn))


def test_table3_columns_follow_from_the_seeds():
    # seeds and statistics are both printed to 0.01, so each side is off by up to 0.005
    for row in TABLES["3"].rows:
        seeds = np.array(row["seeds"]["xtra"])
        assert seeds.mean() == pytest.approx(row["scores"]["xtra"], abs=0.01)
        assert np.median(seeds) == pytest.approx(row["printed"]["median"], abs=0.01)
        assert seeds.std(ddof=1) == pytest.approx(row["printed"]["std"], abs=0.01)


def test_printed_reference_scores_and_categories_match_the_game_catalog():
    for table in TABLES.values():
        for row in table.rows:
            game = get_game(row["game"])
            if row.get("reference"):
                assert (row["reference"]["random"], row["reference"]["human"]) == (game.random, game.human)
            if "category" in row:
                assert row["category"] == game.category


def test_lookup_matches_agent_game_and_split():
    assert published_score(load_tables(), "xtra", "shooter", "Assault").value == 1294.6
    diverse = published_score(load_tables(), "xtra", "diverse", "Assault")
    assert (diverse.value, diverse.table) == (1742.2, "2")
    assert published_score(load_tables(), "xtra", "diverse-4", "Hero").value == 9654.9
    assert published_score(load_tables(), "efficientzero", "diverse-4", "Hero") is None
    assert published_score(load_tables(), "xtra", "minatar", "MinAtar-Breakout") is None


def test_aggregate_lookup_keeps_task_count_variants_apart():
    rows = published_aggregates(load_tables(), "diverse", "xtra", "diverse-4")
    assert {(r.statistic, v.value, v.table) for r, v in rows} == {
        ("human_normalized_mean", 1.74, "7"),
        ("human_normalized_median", 0.29, "7"),
    }
    main = published_aggregates(load_tables(), "diverse", "xtra", "diverse")
    assert {v.value for r, v in main if r.statistic == "human_normalized_mean"} == {1.87}
