"""Targets on a constructed trajectory, against numbers computed by hand (discount 0.5 keeps them exact)."""

import numpy as np
import pytest

from baselines.efficientzero.targets import (
    learning_rewards,
    off_policy_td_steps,
    unroll_masks,
    value_prefix_targets,
    value_targets,
)

# One learning episode of T = 8 transitions; row r's target-network value is 10 + r (rows 0..8).
RAW = np.array([2.0, 0.0, -3.0, 1.0, 0.0, 5.0, 0.0, 1.0])
CLIPPED = np.array([1.0, 0.0, -1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
T, K, G = 8, 3, 0.5
ROW_VALUE = 10.0 + np.arange(T + 1)


def window(t: int, width: int = K + 5) -> np.ndarray:
    out = np.zeros(width)
    seg = CLIPPED[t : t + width]
    out[: len(seg)] = seg
    return out


def test_learning_rewards_are_sign_clipped():
    assert np.array_equal(learning_rewards(RAW, clip=True), CLIPPED)
    assert np.array_equal(learning_rewards(RAW, clip=False), RAW)


def test_off_policy_td_steps():
    ages = np.array([0, 29_999, 30_000, 95_000, 1_000_000])
    assert off_policy_td_steps(ages, 5, 30_000, 1).tolist() == [5, 5, 4, 2, 1]


@pytest.mark.parametrize(
    "t, terminal, expected",
    [
        # t=3, n=3: k=0: 1 + .5*0 + .25*1 + .125*V6(16) = 3.25; k=1: 0 + .5 + 0 + .125*V7(17) = 2.625;
        # k=2: 1 + 0 + .25*1, its horizon reaches the terminal row 8 -> 1.25; k=3: n=2: 0 + .5*1 = 0.5.
        pytest.param(3, True, [3.25, 2.625, 1.25, 0.5], id="mid-terminal"),
        # Truncated instead: k=2 adds .125*V8(18) -> 3.5; k=3 adds .25*18 -> 5.0.
        pytest.param(3, False, [3.25, 2.625, 3.5, 5.0], id="mid-truncated"),
        # t=6: k=0: 0 + .5*1 = .5; k=1: 1; k=2 is the terminal row itself: 0; k=3 is past the end: 0.
        pytest.param(6, True, [0.5, 1.0, 0.0, 0.0], id="end-terminal"),
        # Truncated: k=0: .5 + .25*18 = 5; k=1: 1 + .5*18 = 10; k=2: V8 = 18; k=3 past the end: 0.
        pytest.param(6, False, [5.0, 10.0, 18.0, 0.0], id="end-truncated"),
    ],
)
def test_value_targets_hand_computed(t, terminal, expected):
    td = off_policy_td_steps(np.array([25]), 5, 10, 1)  # age 25 at interval 10: n = 5 - 2 = 3
    assert td.tolist() == [3]
    steps_left = np.array([T - t])
    bootstrap = ROW_VALUE[np.minimum(t + np.arange(K + 1) + 3, T)][None]  # rows min(t + k + n, T)
    z = value_targets(window(t)[None], bootstrap, steps_left, np.array([terminal]), td, G, K)
    assert z.shape == (1, K + 1)
    assert z[0].tolist() == pytest.approx(expected)


def test_value_targets_are_batched_per_window():
    t = np.array([3, 6])
    td = np.array([3, 3])
    steps_left = T - t
    bootstrap = ROW_VALUE[np.minimum(t[:, None] + np.arange(K + 1) + td[:, None], T)]
    z = value_targets(np.stack([window(3), window(6)]), bootstrap, steps_left, np.array([True, False]), td, G, K)
    assert z.tolist() == [pytest.approx([3.25, 2.625, 1.25, 0.5]), pytest.approx([5.0, 10.0, 18.0, 0.0])]


def test_value_targets_need_a_wide_enough_reward_window():
    with pytest.raises(ValueError, match="K \\+ max n"):
        value_targets(np.zeros((1, 4)), np.zeros((1, K + 1)), np.array([8]), np.array([True]), np.array([3]), G, K)


def test_value_prefix_resets_every_horizon():
    # t=3, rewards 1, 0, 1: horizon 2 resets before k=2, so [1, 1, 1]; horizon 5 never resets: [1, 1, 2].
    assert value_prefix_targets(window(3)[None], np.array([5]), 2, K).tolist() == [[1.0, 1.0, 1.0]]
    assert value_prefix_targets(window(3)[None], np.array([5]), 5, K).tolist() == [[1.0, 1.0, 2.0]]
    # t=6: rewards 0, 1 then the end; the reset at k=2 lands past the end, so the prefix drops to 0.
    assert value_prefix_targets(window(6)[None], np.array([2]), 2, K).tolist() == [[0.0, 1.0, 0.0]]
    # Past the end without a reset the prefix is held: t=5, horizon 5: 1, 1, 2(held).
    assert value_prefix_targets(window(5)[None], np.array([3]), 5, 4).tolist() == [[1.0, 1.0, 2.0, 2.0]]


def test_paper_horizon_over_five_steps():
    # t=0, rewards 1, 0, -1, 1, 0 with K=5 and horizon 5: running sums, no reset inside the unroll.
    assert value_prefix_targets(window(0, 10)[None], np.array([8]), 5, 5).tolist() == [[1.0, 1.0, 0.0, 1.0, 1.0]]


def test_unroll_masks_near_the_end():
    policy, consistency = unroll_masks(np.array([2, 8]), K)
    assert policy.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert consistency.tolist() == [[1, 1, 0], [1, 1, 1]]
