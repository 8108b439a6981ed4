"""Report numbers on a constructed results tree, against values computed by hand."""

import json

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner
from report_trees import write_job, write_protocol, write_report

from xtra_bench.cli import main
from xtra_bench.report.aggregates import AggregateConfig, rliable_results, score_matrices
from xtra_bench.report.scores import mean_ci, score_tables
from xtra_bench.report.store import load_results

# Reference scores written out by hand (the standard Atari table).
ASSAULT = (222.4, 742.0)
ALIEN = (227.8, 7127.7)


def hn(score, ref):
    return (score - ref[0]) / (ref[1] - ref[0])


@pytest.fixture
def tree(tmp_path):
    """Two seeds of efficientzero and xtra on Assault and Carnival (shooter) and Alien (maze).

    Per-seed scores (mean of each seed's final episodes):
        efficientzero: Assault 590, 610; Carnival 2000, 2000; Alien 590, 610
    (the baseline's intervals exclude 0, so improvements are ratios)
        xtra:          Assault 900, 1100; Carnival 3000, 2000; Alien 300, 300
    """
    root = tmp_path / "runs"
    write_protocol(root)
    finals = {
        ("efficientzero", "Assault"): ([580.0, 600.0], [620.0, 600.0]),
        ("efficientzero", "Carnival"): ([2000.0], [1000.0, 3000.0]),
        ("efficientzero", "Alien"): ([590.0], [610.0]),
        ("xtra", "Assault"): ([900.0], [1100.0]),
        ("xtra", "Carnival"): ([3000.0], [2000.0]),
        ("xtra", "Alien"): ([300.0], [300.0]),
    }
    for (agent, game), per_seed in finals.items():
        split = "maze" if game == "Alien" else "shooter"
        for seed, final in enumerate(per_seed):
            # periodic evaluations land a few steps past the 10k grid, as agents report them
            periodic = {10_003: [seed * 10.0 + 300.0], 20_006: [seed * 10.0 + 600.0]}
            etas = {"Phoenix": [(0, 1.0), (10_000, 0.5 + 0.2 * seed)]} if agent == "xtra" else None
            write_job(root, agent, game, seed, final, split=split, periodic=periodic, etas=etas)
    return root


def test_per_game_scores_and_paper_aggregates(tree):
    (table,) = score_tables(load_results([tree]), "efficientzero")
    assert table.setting == "similar"
    assert table.games == ("Assault", "Carnival", "Alien")  # shooter targets first, as in Table 1
    assert table.methods == ("efficientzero", "xtra")
    ez = table.cells["efficientzero", "Assault"]
    assert (ez.seeds, ez.episodes, ez.mean) == (2, (2, 2), 600.0)
    # Student t with 1 degree of freedom: t(0.975, 1) = 12.7062047; std of (590, 610) = 14.142, / sqrt(2) = 10
    assert (ez.ci_low, ez.ci_high) == pytest.approx((600 - 12.7062047 * 10, 600 + 12.7062047 * 10))
    assert ez.human_normalized == pytest.approx(hn(600, ASSAULT))
    assert table.cells["xtra", "Assault"].human_normalized == pytest.approx(hn(1000, ASSAULT))
    assert table.cells["xtra", "Carnival"].human_normalized is None
    rel = {g: table.cells["xtra", g].relative for g in table.games}
    assert rel == pytest.approx({"Assault": 1000 / 600, "Carnival": 2500 / 2000, "Alien": 300 / 600})
    shooter, maze, overall = (table.improvement[g]["xtra"] for g in ("Shooter", "Maze", "Overall"))
    assert (shooter.mean, shooter.median, shooter.games) == pytest.approx(((1000 / 600 + 1.25) / 2, (1000 / 600 + 1.25) / 2, 2))
    assert (maze.mean, maze.median) == pytest.approx((0.5, 0.5))
    assert (overall.mean, overall.median, overall.games) == pytest.approx(((1000 / 600 + 1.25 + 0.5) / 3, 1.25, 3))
    human = table.human["xtra"]  # Carnival has no human score and is left out
    assert (human.mean, human.median, human.games) == pytest.approx(((hn(1000, ASSAULT) + hn(300, ALIEN)) / 2,) * 2 + (2,))


def test_rliable_inputs_and_iqm_by_hand(tree):
    (table,) = score_tables(load_results([tree]), "efficientzero")
    matrices, note = score_matrices(table, eval_interval=10_000)
    assert (matrices.normalization, matrices.games, matrices.runs) == ("human", ("Assault", "Alien"), {"efficientzero": 2, "xtra": 2})
    assert "Carnival left out" in note
    np.testing.assert_allclose(matrices.scores["xtra"], [[hn(900, ASSAULT), hn(300, ALIEN)], [hn(1100, ASSAULT), hn(300, ALIEN)]])
    assert matrices.steps.tolist() == [10_000, 20_000]
    results = rliable_results(matrices, "efficientzero", AggregateConfig(reps=500))
    # IQM of 4 values drops the lowest and the highest: the two Alien scores are tied lowest.
    assert results.point["xtra"][0] == pytest.approx((hn(300, ALIEN) + hn(900, ASSAULT)) / 2)
    assert results.point["xtra"][2] == pytest.approx((hn(1000, ASSAULT) + hn(300, ALIEN)) / 2)
    # xtra beats efficientzero on Assault in all 4 run pairs, loses on Alien in all 4: P = (1 + 0) / 2
    assert results.improvement["xtra"][0] == pytest.approx(0.5)
    # periodic curve of xtra at 10k: Assault runs 300, 310 and Alien runs 300, 310, normalised; IQM of 4
    at_10k = sorted([hn(300, ASSAULT), hn(310, ASSAULT), hn(300, ALIEN), hn(310, ALIEN)])
    assert results.curve_point["xtra"][0] == pytest.approx((at_10k[1] + at_10k[2]) / 2)


def test_summary_and_csv_carry_the_same_numbers(tree, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", str(tree), "--out", str(out), "--reps", "300"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    similar = summary["settings"]["similar"]
    assert similar["improvement"]["Overall"]["xtra"]["mean"] == pytest.approx((1000 / 600 + 1.25 + 0.5) / 3)
    assert similar["human_normalized"]["efficientzero"]["mean"] == pytest.approx((hn(600, ASSAULT) + hn(600, ALIEN)) / 2)
    iqm = similar["rliable"]["aggregates"]["xtra"]["IQM"]
    assert iqm["point"] == pytest.approx((hn(300, ALIEN) + hn(900, ASSAULT)) / 2)
    assert iqm["ci"][0] <= iqm["point"] <= iqm["ci"][1]
    assert summary["bootstrap"]["reps"] == 300
    rows = [line.split(",") for line in (out / "scores.csv").read_text().splitlines()]
    header, body = rows[0], rows[1:]
    xtra_assault = dict(zip(header, next(r for r in body if r[1] == "Assault" and r[3] == "xtra")))
    assert float(xtra_assault["mean"]) == 1000.0 and xtra_assault["seeds"] == "2" and xtra_assault["episodes_per_seed"] == "1;1"
    assert (xtra_assault["seed_ids"], xtra_assault["seed_scores"]) == ("0;1", "900.0;1100.0")  # each seed's final-episode mean
    # the paper's Table 1 prints XTRA's Assault score as 1294.6
    assert (xtra_assault["published"], xtra_assault["published_table"]) == ("1294.6", "1")
    assert any(f["name"] == "task-weights-xtra" for f in summary["figures"])


def test_mean_ci_with_one_seed_has_no_interval():
    mean, low, high = mean_ci(np.array([3.0]))
    assert mean == 3.0 and np.isnan(low) and np.isnan(high)


def test_task_weights_are_averaged_over_seeds(tree):
    from xtra_bench.report.weights import eta_curves

    (table,) = score_tables(load_results([tree]), "efficientzero")
    curve = eta_curves(table)["xtra"]["Assault"]["Phoenix"]
    np.testing.assert_allclose(curve, [[0, 10_000], [1.0, (0.5 + 0.7) / 2], [2, 2]])


@pytest.fixture
def minatar_tree(tmp_path):
    """Per-seed MinAtar scores (one final episode each):
        efficientzero: Breakout 19, 21 (95% CI 20 +- 12.7: beyond random's 1); Asterix 0, 4 (CI includes 0 and random's 1)
        xtra:          Breakout 40, 20;                                          Asterix 5, 7
        random:        Breakout 0, 2;                                            Asterix 1, 1
    """
    root = tmp_path / "runs"
    write_protocol(root)
    scores = {
        "efficientzero": {"MinAtar-Breakout": (19.0, 21.0), "MinAtar-Asterix": (0.0, 4.0)},
        "xtra": {"MinAtar-Breakout": (40.0, 20.0), "MinAtar-Asterix": (5.0, 7.0)},
        "random": {"MinAtar-Breakout": (0.0, 2.0), "MinAtar-Asterix": (1.0, 1.0)},
    }
    for agent, per_game in scores.items():
        for game, per_seed in per_game.items():
            for seed, score in enumerate(per_seed):
                write_job(root, agent, game, seed, [score], split="minatar")
    return root


def test_minatar_is_normalised_by_random_and_the_reference(minatar_tree):
    (table,) = score_tables(load_results([minatar_tree]), "efficientzero")
    assert table.setting == "minatar" and table.human == {}
    matrices, note = score_matrices(table, eval_interval=None)
    # (score - random) / (efficientzero - random) on Breakout: random 1, efficientzero 20
    assert matrices.normalization == "reference" and matrices.games == ("MinAtar-Breakout",)
    np.testing.assert_allclose(matrices.scores["xtra"], [[39 / 19], [19 / 19]])
    np.testing.assert_allclose(matrices.scores["random"], [[-1 / 19], [1 / 19]])
    assert "(score - random) / (efficientzero - random)" in note
    assert "MinAtar-Asterix left out: efficientzero within noise of random" in note
    # another reference, chosen by name: xtra's Breakout 30 (CI 30 +- 127, which includes random's 1) is within noise
    assert score_matrices(table, eval_interval=None, reference="xtra")[0] is None


def test_each_method_keeps_its_own_runs(minatar_tree):
    # a third xtra seed (Breakout 30) and a method with one seed (Breakout 10)
    write_job(minatar_tree, "xtra", "MinAtar-Breakout", 2, [30.0], split="minatar")
    write_job(minatar_tree, "xtra", "MinAtar-Asterix", 2, [6.0], split="minatar")
    for game, score in (("MinAtar-Breakout", 10.0), ("MinAtar-Asterix", 3.0)):
        write_job(minatar_tree, "xtra-no-pretraining", game, 0, [score], split="minatar")
    (table,) = score_tables(load_results([minatar_tree]), "efficientzero")
    matrices, note = score_matrices(table, eval_interval=None)
    assert matrices.runs == {"efficientzero": 2, "xtra": 3, "random": 2, "xtra-no-pretraining": 1}
    # normalised by random 1 and efficientzero 20 on Breakout
    np.testing.assert_allclose(matrices.scores["xtra"], [[39 / 19], [19 / 19], [29 / 19]])
    assert "runs per method (efficientzero 2, random 2, xtra 3, xtra-no-pretraining 1)" in note
    assert "xtra-no-pretraining has one run, so its intervals are a single point" in note
    results = rliable_results(matrices, "efficientzero", AggregateConfig(reps=300))
    assert results.point["xtra"][2] == pytest.approx(29 / 19)  # mean of its three runs, none dropped
    np.testing.assert_allclose(results.ci["xtra-no-pretraining"][:, 2], [9 / 19, 9 / 19])
    assert results.ci["xtra"][0, 2] < results.ci["xtra"][1, 2]
    # xtra (39, 19, 29) against efficientzero (18, 20), normalised alike: 5 of 6 pairs won
    assert results.improvement["xtra"][0] == pytest.approx(5 / 6)


def test_no_reference_normalisation_without_random_results(minatar_tree):
    import shutil

    shutil.rmtree(minatar_tree / "jobs" / "random")
    (table,) = score_tables(load_results([minatar_tree]), "efficientzero")
    matrices, note = score_matrices(table, eval_interval=None)
    assert matrices is None and "no 'random' results" in note and "--agent random" in note


def test_improvement_over_a_baseline_within_noise_of_zero_is_a_difference(minatar_tree):
    (table,) = score_tables(load_results([minatar_tree]), "efficientzero")
    # Breakout: efficientzero's CI excludes 0, so a ratio: 30 / 20
    assert table.cells["xtra", "MinAtar-Breakout"].relative == pytest.approx(1.5)
    assert table.cells["xtra", "MinAtar-Breakout"].difference is None
    # Asterix: efficientzero's scores 0, 4 have a CI including 0: no ratio, the difference with Welch's interval
    xtra = table.cells["xtra", "MinAtar-Asterix"]
    assert xtra.relative is None
    var_x, var_b = 2.0 / 2, 8.0 / 2  # sample variance / seeds: (5, 7) and (0, 4)
    dof = (var_x + var_b) ** 2 / (var_x**2 / 1 + var_b**2 / 1)
    half = scipy.stats.t.ppf(0.975, dof) * np.sqrt(var_x + var_b)
    assert xtra.difference == pytest.approx((4.0, 4.0 - half, 4.0 + half))
    # random "3x" efficientzero on Asterix is not a ratio either; the improvement rows leave Asterix out
    assert table.cells["random", "MinAtar-Asterix"].relative is None
    assert table.improvement["Other"]["xtra"].games == 1


def test_report_shows_the_difference_and_names_the_reference(minatar_tree, tmp_path):
    out = tmp_path / "report"
    md = write_report(minatar_tree, out, reps=200)
    assert "reference = efficientzero's, both from these results" in md
    assert "within noise of 0 (its 95% CI includes 0)" in md
    assert "Δ +4.0 [" in md
    rows = [line.split(",") for line in (out / "scores.csv").read_text().splitlines()]
    xtra_asterix = dict(zip(rows[0], next(r for r in rows[1:] if r[1] == "MinAtar-Asterix" and r[3] == "xtra")))
    assert (xtra_asterix["relative_to_baseline"], float(xtra_asterix["difference_to_baseline"])) == ("", 4.0)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference"] == "efficientzero"
    assert summary["settings"]["minatar"]["difference_to_baseline"]["xtra"]["MinAtar-Asterix"]["mean"] == 4.0
    assert summary["settings"]["minatar"]["rliable"]["normalization"] == "reference"


def test_overrides_are_their_own_method(tmp_path):
    root = tmp_path / "runs"
    write_protocol(root)
    write_job(root, "xtra", "Assault", 0, [900.0])
    job = write_job(root, "xtra", "Assault", 0, [1200.0], method_dir="xtra@1234abcd")
    config = json.loads((job / "config.json").read_text())
    (job / "config.json").write_text(json.dumps({**config, "overrides": {"lr": 0.1, "transfer": ["representation"]}}))
    (table,) = score_tables(load_results([root]), "efficientzero")
    assert table.methods == ("xtra", "xtra [lr=0.1, transfer=representation]")
    assert table.cells["xtra [lr=0.1, transfer=representation]", "Assault"].mean == 1200.0


def test_task_count_variant_is_its_own_column_beside_its_published_number(tmp_path):
    # one results tree per split, as `xtra-bench run --split diverse-4 --out ...` writes them
    main_tree, variant_tree = tmp_path / "diverse", tmp_path / "diverse-4"
    write_protocol(main_tree), write_protocol(variant_tree)
    write_job(main_tree, "xtra", "Hero", 0, [9000.0], split="diverse")
    write_job(main_tree, "efficientzero", "Hero", 0, [9000.0], split="diverse")
    write_job(variant_tree, "xtra", "Hero", 0, [9000.0], split="diverse-4")
    args = ["report", str(main_tree), str(variant_tree), "--out", str(tmp_path / "rep"), "--reps", "50"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = {(r[3], r[1]): r for r in (line.split(",") for line in (tmp_path / "rep" / "scores.csv").read_text().splitlines())}
    assert rows["xtra (diverse-4)", "Hero"][-2:] == ["9654.9", "7"]  # Table 7, 4 pretraining tasks
    assert rows["xtra", "Hero"][-2:] == ["10631.8", "2"]


def test_damaged_job_is_one_clear_line(tree, tmp_path):
    config = tree / "jobs" / "xtra" / "Alien" / "seed-0" / "config.json"
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != "agent"}))
    result = CliRunner().invoke(main, ["report", str(tree), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "does not follow the results layout" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_learning_curves_by_hand(tmp_path):
    """Seed 0 evaluates at 1000 (returns 1, 3) and 2000 (5); seed 1 at 1004 (3: snapped to 1000) and 2000 (7, 9)."""
    from xtra_bench.report.curves import learning_curves, periodic_runs

    root = tmp_path / "runs"
    write_protocol(root)
    write_job(root, "efficientzero", "MinAtar-Breakout", 0, [6.0], split="minatar", periodic={1000: [1.0, 3.0], 2000: [5.0]})
    write_job(root, "efficientzero", "MinAtar-Breakout", 1, [8.0], split="minatar", periodic={1004: [3.0], 2000: [7.0, 9.0]})
    write_job(root, "random", "MinAtar-Breakout", 0, [0.0], split="minatar", periodic={3000: [1.0]})
    (table,) = score_tables(load_results([root]), "random")
    curves = learning_curves(periodic_runs(table, eval_interval=1000))
    ez = curves["efficientzero", "MinAtar-Breakout"]
    assert ez.steps.tolist() == [1000, 2000] and ez.seeds == 2
    # Per-seed means: (2, 3) at 1000 and (5, 8) at 2000; two seeds: t(0.975, 1) * sd / sqrt(2).
    np.testing.assert_allclose(ez.mean, [2.5, 6.5])
    half = scipy.stats.t.ppf(0.975, 1) * np.array([np.std([2, 3], ddof=1), np.std([5, 8], ddof=1)]) / np.sqrt(2)
    np.testing.assert_allclose(ez.high - ez.mean, half)
    rnd = curves["random", "MinAtar-Breakout"]
    assert rnd.steps.tolist() == [3000] and rnd.seeds == 1 and np.isnan(rnd.low).all()


def test_learning_curve_axis_spans_the_runs_not_two_seed_bands(tmp_path):
    """Two seeds at 0 and 20 give a t-band of about +-130 around 10; the axis spans the runs' own
    returns, 0-20, padded by 8%."""
    from xtra_bench.report.curves import learning_curves, periodic_runs
    from xtra_bench.report.plots import learning_curves as plot_curves

    root = tmp_path / "runs"
    write_protocol(root)
    write_job(root, "efficientzero", "MinAtar-Freeway", 0, [0.0], split="minatar", periodic={1000: [0.0]})
    write_job(root, "efficientzero", "MinAtar-Freeway", 1, [20.0], split="minatar", periodic={1000: [20.0]})
    (table,) = score_tables(load_results([root]), "efficientzero")
    runs = periodic_runs(table, eval_interval=1000)
    curves = learning_curves(runs)
    assert curves["efficientzero", "MinAtar-Freeway"].high[0] > 100
    fig = plot_curves(table, curves, runs)
    np.testing.assert_allclose(fig.axes[0].get_ylim(), (-1.6, 21.6))


def test_random_as_its_own_reference_names_the_way_out(minatar_tree):
    (table,) = score_tables(load_results([minatar_tree]), "random")
    matrices, note = score_matrices(table, None)
    assert matrices is None
    assert "reference is 'random' itself" in note and "--reference efficientzero" in note
