"""Batched rliable metrics and the stratified bootstrap, against rliable and hand-computed values."""

import numpy as np
import pytest
from rliable import metrics as rly

from xtra_bench.report import bootstrap
from xtra_bench.report import metrics as batched

RLIABLE = {
    "iqm": (batched.iqm, rly.aggregate_iqm),
    "median": (batched.median_of_means, rly.aggregate_median),
    "mean": (batched.mean_of_means, rly.aggregate_mean),
    "optimality_gap": (batched.optimality_gap, rly.aggregate_optimality_gap),
}


def _cases():
    rng = np.random.default_rng(7)
    return {
        "continuous-5x10": rng.normal(1.0, 1.0, size=(6, 5, 10)),
        "ties-3x4": rng.integers(0, 3, size=(6, 3, 4)).astype(float),  # many ties, odd runs
        "one-run-7-tasks": rng.uniform(0, 2, size=(6, 1, 7)),
    }


@pytest.mark.parametrize("metric", list(RLIABLE))
@pytest.mark.parametrize("case", list(_cases()))
def test_batched_metric_equals_rliable_on_every_replicate(metric, case):
    scores = _cases()[case]
    ours, reference = RLIABLE[metric]
    np.testing.assert_allclose(ours(scores), [reference(s) for s in scores], rtol=1e-12)


def test_iqm_by_hand():
    # 8 values: the 25% trimmed mean drops the two lowest and two highest: mean(3, 4, 5, 6).
    scores = np.array([[[8.0, 1.0, 5.0, 3.0], [2.0, 7.0, 4.0, 6.0]]])
    assert batched.iqm(scores)[0] == pytest.approx(4.5)
    assert batched.optimality_gap(scores / 8)[0] == pytest.approx(1 - (36 / 8) / 8)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        pytest.param([[1.0], [3.0]], [[2.0], [2.0]], 0.5, id="half-the-pairs"),
        pytest.param([[2.0], [3.0]], [[2.0], [1.0]], 3.5 / 4, id="tie-counts-half"),
        pytest.param([[5.0, 0.0]], [[1.0, 1.0]], (1.0 + 0.0) / 2, id="averaged-over-tasks"),
    ],
)
def test_probability_of_improvement_by_hand(x, y, expected):
    x, y = np.array(x), np.array(y)
    assert batched.probability_of_improvement(x[None], y[None])[0] == pytest.approx(expected)
    assert rly.probability_of_improvement(x, y) == pytest.approx(expected)


def test_probability_of_improvement_equals_rliable():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, size=(5, 3, 6)).astype(float), rng.integers(0, 4, size=(5, 4, 6)).astype(float)
    expected = [rly.probability_of_improvement(a, b) for a, b in zip(x, y)]
    np.testing.assert_allclose(batched.probability_of_improvement(x, y), expected)


def test_score_distribution_by_hand():
    scores = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    np.testing.assert_allclose(batched.score_distribution(scores, np.array([-1.0, 0.0, 1.5, 3.0])), [[1.0, 0.75, 0.5, 0.0]])


def test_iqm_curve_is_iqm_at_each_step():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(3, 4, 5, 6))
    expected = [[rly.aggregate_iqm(s[:, :, k]) for k in range(6)] for s in scores]
    np.testing.assert_allclose(batched.iqm_curve(scores), expected)


def test_replicates_resample_runs_within_each_task_as_rliable_does():
    scores = np.arange(12.0).reshape(3, 4)  # run r, task t holds 4 r + t
    rng = np.random.default_rng(1)
    (chunk,) = list(bootstrap.stratified_resamples(scores, 50, rng))
    assert chunk.shape == (50, 3, 4)
    # every replicate keeps each task's column within that task's own runs
    np.testing.assert_array_equal(chunk % 4, np.broadcast_to(np.arange(4), chunk.shape))
    # and the replicate statistics equal rliable's metric on the same index draws
    idx = bootstrap.resample_indices(np.random.default_rng(1), 50, 3, 4)
    manual = scores[idx, np.arange(4)]
    np.testing.assert_allclose(batched.aggregates(chunk)[:, 0], [rly.aggregate_iqm(m) for m in manual])


def test_interval_is_reproducible_and_independent_of_chunking(monkeypatch):
    scores = np.random.default_rng(2).normal(size=(5, 7))
    first = bootstrap.interval(scores, batched.aggregates, 3000, np.random.default_rng(0))
    monkeypatch.setattr(bootstrap, "_CHUNK_ELEMENTS", 35 * 7)  # chunks of 7 replicates
    again = bootstrap.interval(scores, batched.aggregates, 3000, np.random.default_rng(0))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (2, 4) and np.all(first[0] <= first[1])


def test_interval_of_constant_scores_is_a_point_and_contains_the_estimate():
    np.testing.assert_allclose(
        bootstrap.interval(np.full((4, 3), 2.5), batched.aggregates, 200, np.random.default_rng(0))[:, 0], [2.5, 2.5]
    )
    scores = np.random.default_rng(5).normal(size=(10, 8))
    low, high = bootstrap.interval(scores, batched.aggregates, 2000, np.random.default_rng(0))
    point = batched.aggregates(scores[None])[0]
    assert np.all(low <= point) and np.all(point <= high)


def test_paired_interval_of_identical_constant_sets_is_one_half():
    low, high = bootstrap.paired_interval(
        np.ones((3, 2)), np.ones((4, 2)), batched.probability_of_improvement, 100, np.random.default_rng(0)
    )
    assert (low, high) == (0.5, 0.5)
