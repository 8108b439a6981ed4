"""Prioritised replay: window rows, episode boundaries, priorities, eviction and state round trip."""

import numpy as np
import pytest

from baselines.efficientzero.replay import PrioritizedReplay, draw_without_replacement

S, K, A = 2, 2, 3


def make_replay(capacity=100, **kw):
    args = dict(frame_stack=S, num_unroll=K, td_steps=3, td_age_interval=10, min_td_steps=1, alpha=0.6, clip_rewards=True)
    args.update(kw)
    return PrioritizedReplay((1, 1, 1), A, capacity, seed=0, **args)


def episode(tag: int, steps: int, terminal=True, env_step0=0):
    """Frames carry tag * 50 + their index so every gathered frame names its source."""
    frames = (tag * 50 + np.arange(S + steps)).astype(np.uint8).reshape(-1, 1, 1, 1)
    actions = np.arange(steps) % A
    rewards = np.arange(steps, dtype=np.float32) * 2.0 - 3.0  # clipped: -1, -1, 1, 1, ...
    policies = np.tile(np.eye(A, dtype=np.float32)[1], (steps, 1))
    return frames, actions, rewards, policies, env_step0 + np.arange(steps), terminal


def test_sample_gathers_the_windows_of_one_episode():
    replay = make_replay()
    replay.add_episode(*episode(1, 4))
    assert len(replay) == 4 and replay.size == S + 4
    batch = replay.sample(4, beta=0.4, env_step=3)
    assert sorted(batch.rows.tolist()) == [1, 2, 3, 4]  # without replacement: every start row once
    for b in range(4):
        t = batch.rows[b] - (S - 1)  # transition index inside the episode
        assert 0 <= t < 4
        # Frames of rows t-1 .. t+K+3 (the 3 lookahead frames serve the bootstraps), never past
        # the final frame (index S - 1 + 4 = 5).
        expected = [50 + min(t + j, 5) for j in range(0, S + K + 3)]
        assert batch.frames[b, :, 0, 0, 0].tolist() == expected
        # Position k bootstraps from the stack ending at frame min(t + k + n, 4) + 1 (n = 3 here).
        ends = [min(t + k + 3, 4) + 1 for k in range(K + 1)]
        stacks = [batch.frames[b, i : i + S, 0, 0, 0].tolist() for i in batch.bootstrap_index[b]]
        assert stacks == [[50 + e - 1, 50 + e] for e in ends]
        left = 4 - t
        assert batch.steps_left[b] == left
        assert batch.rewards[b, :left].tolist() == [-1.0, -1.0, 1.0, 1.0][t:]
        assert not batch.rewards[b, left:].any()
        assert batch.actions[b, : min(K, left)].tolist() == [t % A, (t + 1) % A][: min(K, left)]
        assert batch.search_policy[b, :left, 1].all() and not batch.search_policy[b, left:].any()
    assert batch.terminal.all() and batch.weights.max() == pytest.approx(1.0)


def test_off_policy_td_uses_the_age():
    replay = make_replay()
    replay.add_episode(*episode(1, 3, env_step0=0))
    batch = replay.sample(3, beta=1.0, env_step=25)
    ages = 25 - (batch.rows - (S - 1))
    assert batch.td.tolist() == np.clip(3 - ages // 10, 1, 3).tolist()


def test_priorities_steer_the_draws():
    replay = make_replay()
    replay.add_episode(*episode(1, 5))
    rows = np.arange(S - 1, S - 1 + 5)
    replay.update_priorities(rows, np.array([1e-6, 1e-6, 1.0, 1e-6, 1e-6]))
    firsts = np.array([replay.sample(1, beta=1.0, env_step=0).rows[0] for _ in range(200)])
    assert (firsts == S + 1).mean() > 0.95
    # With beta = 1 the weight is 1 / (N P): the most likely row gets the smallest one.
    batch = replay.sample(5, beta=1.0, env_step=0)
    assert batch.weights[batch.rows == S + 1].max() == pytest.approx(batch.weights.min())


def test_draws_without_replacement_follow_the_weights():
    rng = np.random.default_rng(0)
    weights = np.array([0.0, 1.0, 2.0, 0.0, 5.0, 2.0])
    draws = np.array([draw_without_replacement(weights, 3, rng) for _ in range(4000)])
    assert all(len(set(d)) == 3 for d in draws) and not np.isin(draws, [0, 3]).any()
    # The first draw is proportional to the weights: 1/10, 2/10, 5/10, 2/10.
    first = np.bincount(draws[:, 0], minlength=6) / len(draws)
    assert first[[1, 2, 4, 5]] == pytest.approx([0.1, 0.2, 0.5, 0.2], abs=0.025)
    # The second, given the first was row 4 (weight 5): 1/5, 2/5, 2/5 of the rest.
    second = draws[draws[:, 0] == 4, 1]
    assert (np.bincount(second, minlength=6)[[1, 2, 5]] / len(second)) == pytest.approx([0.2, 0.4, 0.4], abs=0.04)
    with pytest.raises(ValueError, match="cannot draw 5 distinct rows from 4"):
        draw_without_replacement(weights, 5, rng)


def test_new_episodes_enter_at_the_current_maximum_priority():
    replay = make_replay()
    replay.add_episode(*episode(1, 3))
    assert replay.priorities[S - 1 : S + 2].tolist() == [1.0, 1.0, 1.0]  # an empty buffer's maximum is 1
    replay.update_priorities(np.arange(S - 1, S + 2), np.array([0.2, 0.5, 0.3]))
    replay.add_episode(*episode(2, 2))
    # EfficientZero: max over the priorities now in the buffer (0.5), not a running maximum floored at 1.
    new = np.flatnonzero(replay.frames[: replay.size, 0, 0, 0] // 50 == 2)
    assert replay.priorities[new].tolist() == [0.0, 0.5, 0.5, 0.0]


def test_full_replay_drops_whole_oldest_episodes():
    replay = make_replay(capacity=10)
    replay.add_episode(*episode(1, 4))
    replay.add_episode(*episode(2, 4))
    replay.add_episode(*episode(3, 4))  # 12 > 10: episode 1 goes
    assert len(replay) == 8
    assert set(replay.frames[: replay.size, 0, 0, 0] // 50) == {2, 3}
    batch = replay.sample(8, beta=0.4, env_step=0)
    assert set(batch.frames[:, 0, 0, 0, 0] // 50) == {2, 3}
    assert (batch.frames // 50 == batch.frames[:, :1] // 50).all()  # windows never mix episodes


def test_state_round_trip_reproduces_the_next_sample():
    replay = make_replay()
    replay.add_episode(*episode(1, 6, terminal=False))
    state = replay.state_dict()
    first = replay.sample(6, beta=0.5, env_step=9)
    other = make_replay()
    other.load_state_dict(state)
    second = other.sample(6, beta=0.5, env_step=9)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not first.terminal.any()


def test_episode_frame_count_is_checked():
    with pytest.raises(ValueError, match="needs 5 frames"):
        make_replay().add_episode(np.zeros((4, 1, 1, 1), np.uint8), np.zeros(3), np.zeros(3), np.zeros((3, A)), np.zeros(3), True)


def test_a_block_starts_windows_only_on_its_first_rows_and_they_reach_past_them():
    replay = make_replay()
    # A block of a running episode: 8 transitions held, the first 3 start windows, the last
    # K + n = 5 only extend them.
    replay.add_episode(*episode(1, 8, terminal=False), startable=3)
    assert len(replay) == 3
    batch = replay.sample(3, beta=0.4, env_step=0)
    assert sorted(batch.rows.tolist()) == [1, 2, 3]
    for b in range(3):
        t = batch.rows[b] - (S - 1)
        # Nothing is clipped: the frames run to row t + S - 1 + K + 3 inside the block.
        assert batch.frames[b, :, 0, 0, 0].tolist() == [50 + t + j for j in range(S + K + 3)]
        assert batch.steps_left[b] == 8 - t
        ends = [t + k + 3 + 1 for k in range(K + 1)]  # every bootstrap at its full n = 3
        assert [batch.frames[b, i + S - 1, 0, 0, 0] - 50 for i in batch.bootstrap_index[b]] == ends
    with pytest.raises(ValueError, match="7 start rows do not fit an episode of 6"):
        replay.add_episode(*episode(2, 6), startable=7)


def test_eviction_counts_only_the_rows_that_start_windows():
    replay = make_replay(capacity=8)
    replay.add_episode(*episode(1, 6, terminal=False), startable=3)
    replay.add_episode(*episode(2, 6, terminal=False), startable=3)
    assert len(replay) == 6
    replay.add_episode(*episode(3, 2))  # 8 fit: nothing goes
    assert len(replay) == 8 and set(replay.frames[: replay.size, 0, 0, 0] // 50) == {1, 2, 3}
    replay.add_episode(*episode(4, 1))  # 9 > 8: the oldest block (3 start rows) goes
    assert len(replay) == 6 and set(replay.frames[: replay.size, 0, 0, 0] // 50) == {2, 3, 4}
    assert np.count_nonzero(replay.priorities[: replay.size]) == 6
