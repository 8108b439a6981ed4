"""CURL's learning targets against hand values: the C51 projection, n-step returns, and the replay's windows."""

import numpy as np
import pytest
import torch

from baselines.curl.replay import EpisodeReplay
from baselines.curl.targets import nstep_targets, project_distribution

SUPPORT = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
POINT_AT_ZERO = [0.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "next_probs, ret, discount, expected",
    [
        pytest.param(POINT_AT_ZERO, 0.5, 0.9, [0, 0, 0.5, 0.5, 0], id="between-atoms-splits-evenly"),
        pytest.param(POINT_AT_ZERO, 0.25, 0.9, [0, 0, 0.75, 0.25, 0], id="closer-atom-gets-more"),
        pytest.param(POINT_AT_ZERO, 1.0, 0.9, [0, 0, 0, 1, 0], id="on-an-atom-keeps-all-mass"),
        pytest.param([0.2] * 5, 0.0, 1.0, [0.2] * 5, id="identity"),
        pytest.param([0.2] * 5, 1.5, 0.0, [0, 0, 0, 0.5, 0.5], id="terminal-puts-all-mass-at-the-return"),
        pytest.param([0.2] * 5, 5.0, 0.0, [0, 0, 0, 0, 1], id="clamped-above"),
        # Tz = -1 + 0.5 z = [-2, -1.5, -1, -0.5, 0]: the masses at -1.5 and -0.5 split between their neighbours.
        pytest.param([0.1, 0.2, 0.3, 0.4, 0.0], -1.0, 0.5, [0.2, 0.6, 0.2, 0, 0], id="shrink-and-shift"),
    ],
)
def test_projection_hand_values(next_probs, ret, discount, expected):
    out = project_distribution(torch.tensor([next_probs]), torch.tensor([ret]), torch.tensor([discount]), SUPPORT)
    assert torch.allclose(out, torch.tensor([expected], dtype=out.dtype), atol=1e-6)


def reference_projection(probs, ret, discount, support):
    """A plain loop over atoms: C51's projection as Bellemare et al. write it."""
    v_min, v_max, n = support[0], support[-1], len(support)
    delta = (v_max - v_min) / (n - 1)
    out = np.zeros(n)
    for j in range(n):
        tz = min(max(ret + discount * support[j], v_min), v_max)
        b = (tz - v_min) / delta
        lo, hi = int(np.floor(b)), int(np.ceil(b))
        if lo == hi:
            out[lo] += probs[j]
        else:
            out[lo] += probs[j] * (hi - b)
            out[hi] += probs[j] * (b - lo)
    return out


def test_projection_matches_a_reference_loop_on_51_atoms():
    rng = np.random.default_rng(0)
    support = np.linspace(-10, 10, 51)
    probs = rng.dirichlet(np.ones(51), size=64)
    returns = rng.uniform(-12, 12, size=64)
    discounts = rng.choice([0.0, 0.99**20, 0.99**3, 1.0], size=64)
    out = project_distribution(
        torch.tensor(probs), torch.tensor(returns), torch.tensor(discounts), torch.tensor(support)
    ).numpy()
    expected = np.stack([reference_projection(p, r, d, support) for p, r, d in zip(probs, returns, discounts)])
    np.testing.assert_allclose(out, expected, atol=1e-9)
    np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-9)


def test_nstep_targets_hand_values():
    # g = 0.5, n = 3; rows: a full window, one cut by a terminal end, one cut by a truncated end.
    rewards = np.array([[1.0, 2.0, 4.0], [1.0, 1.0, 9.0], [2.0, 9.0, 9.0]])
    out = nstep_targets(rewards, steps_left=np.array([5, 2, 1]), terminal=np.array([True, True, False]), discount=0.5)
    np.testing.assert_allclose(out.returns, [1 + 0.5 * 2 + 0.25 * 4, 1 + 0.5 * 1, 2.0])
    np.testing.assert_array_equal(out.offsets, [3, 2, 1])
    np.testing.assert_allclose(out.bootstrap_discount, [0.125, 0.0, 0.5])


def frames_tagged(values):
    """One 1x1x1 frame per value, so a stack can be read back as numbers."""
    return np.asarray(values, np.uint8).reshape(-1, 1, 1, 1)


def test_replay_builds_stacks_and_returns_within_episodes():
    replay = EpisodeReplay((1, 1, 1), 100, frame_stack=2, n_step=3, discount=0.5, alpha=0.5, priority_eps=0.0)
    # Episode A (terminal): history frame 9, observations 10..14, 4 transitions.
    replay.add_episode(frames_tagged([9, 10, 11, 12, 13, 14]), np.array([0, 1, 2, 0]), np.array([1.0, 0.0, 2.0, 1.0]), terminal=True)
    # Episode B (truncated): history 20, observations 21..23, 2 transitions.
    replay.add_episode(frames_tagged([20, 21, 22, 23]), np.array([1, 1]), np.array([4.0, 8.0]), terminal=False)
    assert len(replay) == 6
    # Transition rows: A's are 1..4 (row 0 is history, row 5 its last), B's are 7, 8 (row 9 its last).
    out = replay.gather(np.array([1, 2, 3, 7, 8]), np.ones(5))
    np.testing.assert_array_equal(out.obs[:, :, 0, 0, 0], [[9, 10], [10, 11], [11, 12], [20, 21], [21, 22]])
    np.testing.assert_array_equal(out.actions, [0, 1, 2, 1, 1])
    np.testing.assert_allclose(out.returns, [1 + 0 + 0.25 * 2, 0 + 0.5 * 2 + 0.25 * 1, 2 + 0.5 * 1, 4 + 0.5 * 8, 8])
    np.testing.assert_allclose(out.bootstrap_discount, [0.125, 0.0, 0.0, 0.25, 0.5])
    # Bootstrap stacks: row 1 + 3 = row 4 (observations 12, 13); B's returns bootstrap from its last row.
    np.testing.assert_array_equal(out.next_obs[[0, 3, 4], :, 0, 0, 0], [[12, 13], [22, 23], [22, 23]])


def test_replay_draws_by_priority_and_drops_oldest_episodes():
    replay = EpisodeReplay((1, 1, 1), 8, frame_stack=1, n_step=1, discount=1.0, alpha=1.0, priority_eps=0.0, seed=0)
    replay.add_episode(frames_tagged([1, 2, 3]), np.zeros(2), np.zeros(2), terminal=True)
    replay.add_episode(frames_tagged([4, 5, 6]), np.zeros(2), np.zeros(2), terminal=True)
    replay.update_priorities(np.array([0, 1, 3]), np.array([0.0, 0.0, 0.0]))
    drawn = replay.sample(200, beta=1.0)
    assert set(drawn.rows.tolist()) == {4}  # the only row left with priority
    replay.update_priorities(np.array([3, 4]), np.array([1.0, 3.0]))
    drawn = replay.sample(4000, beta=1.0)
    assert abs((drawn.rows == 4).mean() - 0.75) < 0.03
    # Importance weights (N P)^-beta, max-normalised: row 3 (P = 1/4) gets 1, row 4 (P = 3/4) gets 1/3.
    np.testing.assert_allclose(drawn.weights[drawn.rows == 4], 1 / 3, rtol=1e-6)
    # New episodes enter at the largest priority seen (3); 8 transitions fit, a ninth drops the oldest episode.
    replay.add_episode(frames_tagged([7, 8, 9, 10, 11]), np.zeros(4), np.zeros(4), terminal=True)
    assert replay.priorities[6:11].tolist() == [3.0] * 4 + [0.0]
    replay.add_episode(frames_tagged([12, 13]), np.zeros(1), np.zeros(1), terminal=True)
    assert len(replay) == 7 and replay.frames[0, 0, 0, 0] == 4


def test_an_episode_longer_than_the_replay_keeps_its_last_transitions():
    replay = EpisodeReplay((1, 1, 1), 4, frame_stack=2, n_step=2, discount=1.0, alpha=1.0, priority_eps=0.0)
    # History frame 0, observations 1..7 (6 transitions, rewards 1..6); 4 fit.
    replay.add_episode(frames_tagged(range(8)), np.arange(6), np.arange(1.0, 7.0), terminal=True)
    assert len(replay) == 4 and replay.size == 6
    out = replay.gather(np.arange(1, 5), np.ones(4))
    np.testing.assert_array_equal(out.obs[:, :, 0, 0, 0], [[2, 3], [3, 4], [4, 5], [5, 6]])
    np.testing.assert_allclose(out.returns, [3 + 4, 4 + 5, 5 + 6, 6])
