"""The sampler: window boundaries, stacked frames, hand-checked n-step targets, priorities, targets join.

The vectorised sampler is checked against a plain per-sample loop written from the rules in the
format's docstring, and against hand-computed returns on constructed episodes.
"""

from __future__ import annotations

import numpy as np
import pytest
from data_synthetic import isolated_data_root, random_episodes, tagged_episode, write_synthetic  # noqa: F401

from xtra_bench.data import Dataset, DatasetError, Sampler, SamplerConfig, read_targets, write_targets


def reference_sample(columns, t, cfg):
    """One sample by plain loops: walk the rows of the file from start row t."""
    n_rows = len(columns["action"])
    first = t
    while not columns["is_first"][first]:
        first -= 1

    def ends_learning(row):
        return columns["is_last"][row] or columns["is_terminal"][row] or (cfg.life_loss_terminal and columns["life_loss"][row])

    end = t + 1
    while not ends_learning(end):
        end += 1
    reward = np.sign(columns["reward"]) if cfg.clip_rewards else columns["reward"]
    frames = [columns["frame"][min(max(t + o, first), end)] for o in range(1 - cfg.frame_stack, cfg.unroll_steps + 1)]
    out = {"frames": np.stack(frames), "mask": [], "ret": [], "boot": [], "disc": [], "actions": [], "rewards": []}
    for j in range(cfg.unroll_steps + 1):
        row = t + j
        if j < cfg.unroll_steps:
            inside = row + 1 <= end
            out["actions"].append(columns["action"][row] if inside else 0)
            out["rewards"].append(reward[row] if inside else 0.0)
        if row > end:
            out["mask"].append(False), out["ret"].append(0.0), out["boot"].append(-1), out["disc"].append(0.0)
            continue
        ret, k = 0.0, 0
        while k < cfg.n_step and row + k < end:
            ret += cfg.discount**k * reward[row + k]
            k += 1
        terminal = row + k == end and (columns["is_terminal"][end] or (cfg.life_loss_terminal and columns["life_loss"][end]))
        out["mask"].append(True), out["ret"].append(ret)
        out["boot"].append(-1 if terminal else row + k)
        out["disc"].append(0.0 if terminal else cfg.discount**k)
    assert end < n_rows
    return out


@pytest.mark.parametrize(
    "cfg",
    [
        SamplerConfig(batch_size=300, unroll_steps=5, n_step=3, discount=0.9),
        SamplerConfig(batch_size=300, frame_stack=2, unroll_steps=0, n_step=1, clip_rewards=False, life_loss_terminal=False),
        SamplerConfig(batch_size=300, unroll_steps=7, n_step=10, discount=0.5, life_loss_terminal=False),
    ],
    ids=["life-loss-terminal", "raw-rewards-no-unroll", "long-n-step"],
)
def test_batches_match_a_plain_reference_loop(tmp_path, cfg):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=11, count=30)))
    columns = dataset.read_columns()
    batch = Sampler(dataset, cfg).sample()
    for b, t in enumerate(batch.rows):
        ref = reference_sample(columns, int(t), cfg)
        np.testing.assert_array_equal(batch.frames[b], ref["frames"])
        np.testing.assert_array_equal(batch.mask[b], ref["mask"])
        np.testing.assert_array_equal(batch.actions[b], ref["actions"])
        np.testing.assert_allclose(batch.rewards[b], ref["rewards"])
        np.testing.assert_allclose(batch.nstep_return[b], ref["ret"], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(batch.bootstrap_rows[b], ref["boot"])
        np.testing.assert_allclose(batch.bootstrap_discount[b], ref["disc"], rtol=1e-6)


def test_windows_never_leave_the_start_rows_episode(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=12, count=40, max_steps=6)))
    sampler = Sampler(dataset, SamplerConfig(batch_size=2000, unroll_steps=6, life_loss_terminal=False))
    batch = sampler.sample()
    episode_tag = dataset.read_columns(["frame"])["frame"][batch.rows][:, 0, 0, 0]
    assert (batch.frames[..., 0] == episode_tag[:, None, None, None]).all()
    # Within the episode, frames run forward in time and never past its last row.
    steps = batch.frames[:, :, 0, 0, 1].astype(int)
    assert (np.diff(steps, axis=1) >= 0).all()


def test_stacks_at_an_episode_start_repeat_its_first_frame(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", [tagged_episode(1, [0.0] * 3), tagged_episode(2, [0.0] * 5)]))
    sampler = Sampler(dataset, SamplerConfig(frame_stack=4))
    second_start = 4  # episode 1 has rows 0..3
    stack = sampler.stacked_frames(np.array([second_start, second_start + 2]))
    assert [int(f[0, 0, 1]) for f in stack[0]] == [0, 0, 0, 0]
    assert [int(f[0, 0, 1]) for f in stack[1]] == [0, 0, 1, 2]
    assert (stack[..., 0] == 2).all()
    batch = sampler.sample(500)
    starts = batch.rows == second_start
    assert starts.any()
    np.testing.assert_array_equal(batch.stack(0)[starts][:, :, 0, 0, 1], 0)


# One game: rewards 1, 0, 2, -3, 1 (clipped: 1, 0, 1, -1, 1), a life lost during transition 1, discount
# 0.5, n = 3. Rows 0..5; row 2 carries the life loss; row 5 is the last row.
HAND = dict(rewards=[1.0, 0.0, 2.0, -3.0, 1.0], life_loss_after=(1,))


@pytest.mark.parametrize(
    "terminated, life_loss_terminal, expected",
    [
        # row: (n-step return, bootstrap row, bootstrap discount)
        (True, False, {0: (1.25, 3, 0.125), 1: (0.25, 4, 0.125), 2: (0.75, -1, 0.0), 3: (-0.5, -1, 0.0), 4: (1.0, -1, 0.0)}),
        (False, False, {0: (1.25, 3, 0.125), 1: (0.25, 4, 0.125), 2: (0.75, 5, 0.125), 3: (-0.5, 5, 0.25), 4: (1.0, 5, 0.5)}),
        (True, True, {0: (1.0, -1, 0.0), 1: (0.0, -1, 0.0), 2: (0.75, -1, 0.0), 3: (-0.5, -1, 0.0), 4: (1.0, -1, 0.0)}),
    ],
    ids=["game-over", "frame-cap", "life-loss-ends-episode"],
)
def test_n_step_returns_by_hand(tmp_path, terminated, life_loss_terminal, expected):
    episode = tagged_episode(1, HAND["rewards"], terminated=terminated, life_loss_after=HAND["life_loss_after"])
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", [episode]))
    cfg = SamplerConfig(batch_size=400, unroll_steps=0, n_step=3, discount=0.5, life_loss_terminal=life_loss_terminal)
    batch = Sampler(dataset, cfg).sample()
    assert set(batch.rows.tolist()) == set(expected)
    for b, t in enumerate(batch.rows.tolist()):
        ret, boot, disc = expected[t]
        assert batch.nstep_return[b, 0] == pytest.approx(ret)
        assert batch.bootstrap_rows[b, 0] == boot
        assert batch.bootstrap_discount[b, 0] == pytest.approx(disc)


def test_unroll_mask_stops_at_a_life_loss_when_it_is_terminal(tmp_path):
    episode = tagged_episode(1, HAND["rewards"], life_loss_after=HAND["life_loss_after"])
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", [episode]))
    batch = Sampler(dataset, SamplerConfig(batch_size=400, unroll_steps=3)).sample()
    from_zero = batch.rows == 0
    np.testing.assert_array_equal(batch.mask[from_zero][0], [True, True, True, False])
    np.testing.assert_array_equal(batch.actions[from_zero][0], [0, 1, 0])  # the third move crosses the life loss
    np.testing.assert_array_equal(batch.frames[from_zero][0, :, 0, 0, 1], [0, 0, 0, 0, 1, 2, 2])


def test_priorities_steer_the_draws(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", [tagged_episode(t, [0.0] * 4) for t in (1, 2, 3)]))
    sampler = Sampler(dataset, SamplerConfig(batch_size=1000))
    uniform = sampler.sample()
    np.testing.assert_allclose(uniform.probability, 1 / 12)
    sampler.set_episode_priorities(np.array([0.0, 1.0, 3.0]))
    batch = sampler.sample()
    assert set(np.unique(batch.frames[:, 0, 0, 0, 0]).tolist()) == {2, 3}
    share = np.mean(batch.frames[:, 0, 0, 0, 0] == 3)
    assert 0.7 < share < 0.8  # 3 / (1 + 3)
    np.testing.assert_allclose(batch.probability[batch.frames[:, 0, 0, 0, 0] == 3], 3 / 16)
    sampler.update_priorities(np.arange(sampler.num_rows), np.zeros(sampler.num_rows))
    sampler.update_priorities(np.array([11]), np.array([2.0]))
    only = sampler.sample(50)
    assert (only.rows == 11).all() and np.allclose(only.probability, 1.0)
    with pytest.raises(DatasetError, match="non-negative"):
        sampler.update_priorities(np.array([0]), np.array([-1.0]))


def test_teacher_targets_are_joined_at_every_position(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=13, count=10)))
    n, a = dataset.header.num_rows, dataset.num_actions
    policy = np.zeros((n, a), np.float32)
    policy[np.arange(n), np.arange(n) % a] = 1
    path = write_targets(
        tmp_path / "d.targets-t.hdf5",
        dataset,
        teacher_id="t",
        policy=policy,
        root_value=np.arange(n, dtype=np.float32),
        checkpoint_sha256="0" * 64,
        search={},
    )
    targets = read_targets(path, dataset)
    batch = Sampler(dataset, SamplerConfig(batch_size=200, unroll_steps=3), targets=targets).sample()
    rows = batch.rows[:, None] + np.arange(4)
    np.testing.assert_array_equal(batch.root_value, np.where(batch.mask, rows, 0))
    np.testing.assert_array_equal(batch.policy.argmax(-1)[batch.mask], (rows % a)[batch.mask])
    assert (batch.policy[~batch.mask] == 0).all()


def test_targets_must_fit_the_dataset(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=14, count=2)))
    n = dataset.header.num_rows
    with pytest.raises(DatasetError, match="must be policy"):
        write_targets(tmp_path / "t.hdf5", dataset, teacher_id="t", policy=np.ones((n, 2)), root_value=np.zeros(n), checkpoint_sha256="", search={})
    with pytest.raises(DatasetError, match="sums to"):
        write_targets(tmp_path / "t.hdf5", dataset, teacher_id="t", policy=np.ones((n, 3)), root_value=np.zeros(n), checkpoint_sha256="", search={})


def test_a_view_samples_only_its_episodes(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", [tagged_episode(t, [1.0] * 3) for t in (1, 2, 3)]))
    batch = Sampler(dataset.select([2]), SamplerConfig(batch_size=100)).sample()
    assert (batch.frames[..., 0] == 3).all()
