"""The shared window indexing against indices written out by hand and a plain per-row loop."""

import numpy as np
import pytest

from xtra_bench.data.windows import learning_bounds, unroll_windows


def test_windows_clip_to_the_episode_with_a_per_window_n():
    # One learning episode spans rows 10..16 (first frame row 10, end row 16); S = 3, K = 2.
    # Window 0 starts at t = 11 with n = 3, window 1 at t = 15 with n = 2; W = K + max n = 5.
    w = unroll_windows(np.array([11, 15]), np.array([10, 10]), np.array([16, 16]), frame_stack=3, unroll_steps=2, n_step=np.array([3, 2]))
    assert w.frames.tolist() == [[10, 10, 11, 12, 13], [13, 14, 15, 16, 16]]
    assert w.positions.tolist() == [[11, 12, 13], [15, 16, 16]]
    assert w.valid.tolist() == [[True, True, True], [True, True, False]]
    assert w.transitions.tolist() == [[11, 12, 13, 14, 15], [15, 15, 15, 15, 15]]
    assert w.live.tolist() == [[True] * 5, [True, False, False, False, False]]
    # Bootstraps min(t + k + n, end): 14, 15, 16 for n = 3 from 11; the end row 16 for window 1.
    assert w.bootstrap.tolist() == [[14, 15, 16], [16, 16, 16]]
    assert w.steps_left.tolist() == [5, 1]


def test_rewards_past_the_unroll_and_bootstrap_stacks_from_the_lookahead():
    # Rows 0..9 of one episode, t = 2, S = 2, K = 1, n = 2, rewards wider than K + n, 2 lookahead frames.
    w = unroll_windows(np.array([2]), np.array([0]), np.array([9]), frame_stack=2, unroll_steps=1, n_step=2, reward_width=6, lookahead=2)
    assert w.transitions.tolist() == [[2, 3, 4, 5, 6, 7]] and w.live.all()
    assert w.frames.tolist() == [[1, 2, 3, 4, 5]]  # t-1 .. t+K+2
    assert w.bootstrap.tolist() == [[4, 5]]
    # The stack of bootstrap row 4 (rows 3, 4) starts at column 4 - t = 2.
    assert w.frames[0, 2:4].tolist() == [3, 4]


def test_bootstrap_stacks_match_a_plain_loop():
    rng = np.random.default_rng(0)
    first = rng.integers(0, 20, size=200)
    end = first + rng.integers(1, 12, size=200)
    start = first + (rng.random(200) * (end - first)).astype(int)
    n = rng.integers(1, 6, size=200)
    s, k, lookahead = 4, 5, 5
    w = unroll_windows(start, first, end, frame_stack=s, unroll_steps=k, n_step=n, lookahead=lookahead)
    for b in range(200):
        for j in range(k + 1):
            row = min(start[b] + j + n[b], end[b])
            assert w.bootstrap[b, j] == row
            stack = [max(r, first[b]) for r in range(row - s + 1, row + 1)]
            column = row - start[b]
            assert w.frames[b, column : column + s].tolist() == stack


def test_learning_bounds_split_games_at_life_losses():
    # Game A: rows 0..5, a life lost before row 2 (row 2 ends one learning episode and starts the next).
    # Game B: rows 6..8.
    is_last = np.zeros(9, bool)
    is_last[[5, 8]] = True
    ends = np.zeros(9, bool)
    ends[2] = True
    first, end = learning_bounds(is_last, ends)
    assert first.tolist() == [0, 0, 0, 0, 0, 0, 6, 6, 6]
    assert end.tolist() == [2, 2, 5, 5, 5, 5, 8, 8, 8]
    _, whole_games = learning_bounds(is_last, np.zeros(9, bool))
    assert whole_games.tolist() == [5, 5, 5, 5, 5, 5, 8, 8, 8]


def test_a_start_row_must_have_an_action():
    with pytest.raises(ValueError, match=r"\[first, end\)"):
        unroll_windows(np.array([5]), np.array([0]), np.array([5]), frame_stack=1, unroll_steps=1, n_step=1)
