"""The report's training-log tables on a constructed results tree, against values computed by hand."""

import json

import numpy as np
import pytest
from report_trees import write_job, write_protocol, write_report

from xtra_bench.protocol import Protocol
from xtra_bench.report.scores import score_tables
from xtra_bench.report.store import load_results
from xtra_bench.report.training import task_weight_summaries, training_returns

NAN = float("nan")


@pytest.fixture
def tree(tmp_path):
    """Two xtra seeds on Breakout with a 20k budget (blocks of 5k):

    seed 0 training rows (step, games, mean): (3000, 3, 1.0), (4500, 1, 5.0) -> block 0: (3 + 5) / 4 = 2.0;
        (6000, 1, 4.0) -> block 1: 4.0; none in block 2; (20004, 1, 2.0), past the budget -> block 3: 2.0
    seed 1: (4000, 1, 3.0) -> block 0; (12000, 3, 2.0) -> block 2; a row with no game ended is ignored
    eta of Asterix: seed 0 1.0 until 10k, then 0.5 to 20k (mean over steps 0.75); seed 1 1.0 from 0 to 20k
    cosines of Asterix: seed 0 0.2, -0.1; seed 1 0.3
    """
    root = tmp_path / "runs"
    write_protocol(root, Protocol(env_steps=20_000))
    write_job(
        root, "xtra", "MinAtar-Breakout", 0, [5.0], split="minatar",
        training=[(3000, 3, 1.0), (4500, 1, 5.0), (6000, 1, 4.0), (20_004, 1, 2.0)],
        etas={"MinAtar-Asterix": [(0, 1.0), (10_000, 0.5), (20_000, 0.5)]},
        cosines={"MinAtar-Asterix": [(10_000, 0.2), (10_010, -0.1)]},
    )  # fmt: skip
    write_job(
        root, "xtra", "MinAtar-Breakout", 1, [3.0], split="minatar",
        training=[(4000, 1, 3.0), (8000, 0, 0.0), (12_000, 3, 2.0)],
        etas={"MinAtar-Asterix": [(0, 1.0), (20_000, 1.0)]},
        cosines={"MinAtar-Asterix": [(10_000, 0.3)]},
    )  # fmt: skip
    return root


def test_training_returns_per_block_weight_every_game_once(tree):
    (table,) = score_tables(load_results([tree]), "efficientzero")
    r = training_returns(table, 20_000)["xtra", "MinAtar-Breakout"]
    assert r.edges.tolist() == [0, 5000, 10_000, 15_000, 20_000]
    np.testing.assert_allclose(r.per_seed, [[2.0, 4.0, NAN, 2.0], [3.0, NAN, 2.0, NAN]])
    # the mean over the seeds that have a value in each block
    np.testing.assert_allclose(r.mean, [2.5, 4.0, 2.0, 2.0])


def test_task_weights_are_averaged_over_env_steps(tree):
    (table,) = score_tables(load_results([tree]), "efficientzero")
    s = task_weight_summaries(table)["xtra", "MinAtar-Breakout"]["MinAtar-Asterix"]
    assert s.seeds == 2 and s.cosine_steps == 3
    assert s.mean_eta == pytest.approx((0.75 + 1.0) / 2)
    assert s.final_eta == pytest.approx((0.5 + 1.0) / 2)
    assert s.mean_cosine == pytest.approx((0.05 + 0.3) / 2)
    assert s.max_cosine == pytest.approx(0.3)


def test_report_shows_both_tables(tree, tmp_path):
    out = tmp_path / "report"
    md = write_report(tree, out, reps=100)
    assert "| MinAtar-Breakout | xtra | 2 | 2.50 | 4.00 | 2.00 | 2.00 |" in md
    assert "| xtra | MinAtar-Breakout | MinAtar-Asterix | 2 | 0.88 | 0.75 | 0.175 | 0.300 | 3 |" in md
    assert "training-episode returns" in (out / "index.html").read_text()
    summary = json.loads((out / "summary.json").read_text())["settings"]["minatar"]
    assert summary["training_returns"]["mean"]["xtra"]["MinAtar-Breakout"] == pytest.approx([2.5, 4.0, 2.0, 2.0])
    assert summary["task_weights"]["xtra"]["MinAtar-Breakout"]["MinAtar-Asterix"]["max_cosine"] == pytest.approx(0.3)


def test_periodic_table_lists_every_run_on_the_evaluation_grid(tmp_path):
    """Two seeds whose periodic evaluations land a few steps past the 2k grid (as 8 envs make them),
    one missing the 4k evaluation: each row holds that seed's own means, snapped to the grid."""
    root = tmp_path / "runs"
    write_protocol(root, Protocol(env_steps=4000, eval_interval=2000))
    write_job(root, "efficientzero", "MinAtar-Freeway", 0, [12.0, 14.0], split="minatar",
              periodic={2004: [0.0, 1.0], 4002: [21.0, 20.0]})  # fmt: skip
    write_job(root, "efficientzero", "MinAtar-Freeway", 1, [0.0, 0.0], split="minatar", periodic={2001: [3.0, 3.0]})
    md = write_report(root, tmp_path / "report", reps=100)
    assert "| Game | Method | Seed | 2k | 4k | Final |" in md
    assert "| MinAtar-Freeway | efficientzero | 0 | 0.5 | 20.5 | 13.0 |" in md
    assert "| MinAtar-Freeway | efficientzero | 1 | 3.0 | - | 0.0 |" in md
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())["settings"]["minatar"]
    assert summary["periodic_runs"]["efficientzero"]["MinAtar-Freeway"] == {"0": {"2000": 0.5, "4000": 20.5}, "1": {"2000": 3.0}}
