"""The gradient-cosine rule for task weights on constructed gradients (hand-computed cosines and counts)."""

import math

import numpy as np
import pytest
import torch

from baselines.xtra.task_weights import TaskWeights, gradient_cosines

# Two shared parameters: a vector of 2 and a 1x1 matrix; the target gradient points along the first axis.
TARGET = [torch.tensor([1.0, 0.0]), torch.tensor([[0.0]])]


def grads(x, y, z=0.0):
    return [torch.tensor([x, y]), torch.tensor([[z]])]


@pytest.mark.parametrize(
    "task, expected",
    [
        (grads(2.0, 0.0), 1.0),
        (grads(1.0, 1.0), 1 / math.sqrt(2)),
        (grads(-1.0, 0.0), -1.0),
        (grads(0.0, 1.0), 0.0),
        (grads(1.0, 10.0), 1 / math.sqrt(101)),  # 0.0995: just below the 0.1 threshold
        (grads(1.0, 0.0, 9.0), 1 / math.sqrt(82)),  # 0.1104: the second parameter counts too
        (grads(0.0, 0.0), 0.0),  # a zero gradient has cosine 0
    ],
)
def test_cosine_of_flattened_gradients(task, expected):
    assert gradient_cosines(TARGET, [task])[0] == pytest.approx(expected, abs=1e-12)


def make_weights():
    # Windows are updates 4-6, 10-12, 16-18, ...
    return TaskWeights(["A", "B"], start=4, cycle=6, window=3, threshold=0.1, decimals=2)


def test_window_steps():
    weights = make_weights()
    assert [s for s in range(20) if weights.in_window(s)] == [4, 5, 6, 10, 11, 12, 16, 17, 18]
    assert not TaskWeights(["A"], adaptive=False, start=0, cycle=1, window=1).in_window(0)


def test_eta_set_at_the_end_of_each_window_and_held():
    weights = make_weights()
    window_1 = {
        4: [grads(2.0, 0.0), grads(0.0, 1.0)],  # cos 1 (counts), 0
        5: [grads(1.0, 1.0), grads(1.0, 10.0)],  # 0.707 (counts), 0.0995
        6: [grads(-1.0, 0.0), grads(1.0, 0.0, 9.0)],  # -1, 0.1104 (counts)
    }
    window_2 = {s: [grads(1.0, 0.0), grads(-1.0, 0.5)] for s in (10, 11, 12)}  # A always counts, B never
    eta_used = {}
    for step in range(14):
        eta_used[step] = weights.eta
        if weights.in_window(step):
            steps = window_1 if step < 10 else window_2
            weights.observe(step, gradient_cosines(TARGET, steps[step]))
    for step in range(7):
        np.testing.assert_array_equal(eta_used[step], [1.0, 1.0])  # initial weights until the first window ends
    for step in range(7, 13):
        np.testing.assert_array_equal(eta_used[step], [0.67, 0.33])  # round(2/3), round(1/3), held through window 2
    np.testing.assert_array_equal(eta_used[13], [1.0, 0.0])


def test_observe_reports_the_window_end_and_refuses_other_steps():
    weights = make_weights()
    assert [weights.observe(s, np.array([0.5, 0.0])) for s in (4, 5, 6)] == [False, False, True]
    assert weights.metrics(np.array([0.25, -0.5])) == {"eta/A": 1.0, "eta/B": 0.0, "cos/A": 0.25, "cos/B": -0.5}
    with pytest.raises(ValueError, match="not in a gradient-cosine window"):
        weights.observe(7, np.array([0.5, 0.5]))


def test_state_round_trip_keeps_counts_mid_window():
    weights = make_weights()
    weights.observe(4, np.array([0.5, 0.5]))
    restored = make_weights()
    restored.load_state_dict(weights.state_dict())
    for s in (5, 6):
        restored.observe(s, np.array([0.5, -1.0]))
    np.testing.assert_array_equal(restored.eta, [1.0, 0.33])
