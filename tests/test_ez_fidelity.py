"""EfficientZero's released rules, each against an independent expectation (docs/fidelity.md lists them)."""

import numpy as np
import pytest
import torch

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import preset_config
from baselines.efficientzero import losses
from baselines.efficientzero.losses import TrainBatch, efficientzero_loss
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.reanalyze import search_config
from baselines.efficientzero.schedule import RunSchedule
from baselines.efficientzero.targets import value_prefix_targets, value_targets
from xtra_bench.envs.catch import CatchEnv

K, A, B = 5, 3, 6


def batch_of(cfg, frames=None, mask=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    policy = torch.full((B, K + 1, A), 1.0 / A)
    return TrainBatch(
        frames=torch.randint(0, 256, (B, cfg.frame_stack + K, 10, 10, 2), generator=g, dtype=torch.uint8) if frames is None else frames,
        actions=torch.randint(0, A, (B, K), generator=g),
        target_value=torch.rand(B, K + 1, generator=g) * 2 - 1,
        target_value_prefix=torch.randint(-1, 2, (B, K), generator=g).float(),
        target_policy=policy,
        unroll_mask=torch.ones(B, K) if mask is None else mask,
        weights=torch.ones(B),
        legal=torch.ones(B, A, dtype=torch.bool),
    )


def test_discount_is_per_agent_step_in_targets_and_tree():
    g = 0.997**4
    cfg = preset_config("paper")
    assert cfg.discount == pytest.approx(0.98806, abs=1e-5)
    assert search_config(cfg).discount == cfg.discount  # every Q in the tree uses it too
    # Transitions t..t+4 rewards 1, 0, 1, 0, 0; the value of row t+3 is 2; n = 3, not terminal.
    z = value_targets(np.array([[1.0, 0, 1, 0, 0, 0, 0, 0, 0]]), np.array([[2.0, 0, 0]]), np.array([9]), np.array([False]), np.array([3]), g, 2)
    assert z[0, 0] == pytest.approx(1.0 + g**2 * 1.0 + g**3 * 2.0)


def test_value_prefix_gradient_into_the_trunk_is_halved():
    # Only the value-prefix loss, one unroll step: every gradient it sends below the dynamics' output
    # passes the 0.5 scale (EfficientZero hooks that tensor); the prefix head's own weights do not.
    def grads(scale):
        cfg = preset_config(
            "smoke", value_loss_weight=0.0, policy_loss_weight=0.0, consistency_loss_weight=0.0, dynamics_grad_scale=scale, frame_stack=2
        )
        torch.manual_seed(0)
        net = EfficientZeroNet((10, 10, 2), A, cfg)
        torch.nn.init.normal_(net.dynamics.value_prefix_head[-1].weight)  # a zero last layer would pass no gradient
        batch = batch_of(cfg)
        one_step = batch._replace(actions=batch.actions[:, :1], frames=batch.frames[:, :3], target_value_prefix=batch.target_value_prefix[:, :1], unroll_mask=batch.unroll_mask[:, :1])
        net.train()
        efficientzero_loss(net, one_step, cfg, train_augment=False).loss.backward()
        return {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    half, full = grads(0.5), grads(1.0)
    trunk = [n for n in full if n.startswith(("representation.", "dynamics.conv", "dynamics.bn", "dynamics.block"))]
    head = [n for n in full if n.startswith("dynamics.value_prefix_head")]
    assert trunk and head
    for n in trunk:
        torch.testing.assert_close(half[n], 0.5 * full[n], rtol=1e-5, atol=1e-8)
    for n in head:
        torch.testing.assert_close(half[n], full[n])


def test_online_stack_and_consistency_targets_get_independent_augmentation(monkeypatch):
    cfg = preset_config("smoke", frame_stack=2, intensity_scale=0.0, shift_pad=2)
    # Every pixel holds 10 * row + column, so a shifted image's centre names its shift.
    board = (10 * np.arange(10)[:, None] + np.arange(10)[None, :]).astype(np.uint8)
    frames = torch.from_numpy(np.broadcast_to(board[None, None, :, :, None], (B, cfg.frame_stack + K, 10, 10, 2)).copy())
    shifts = []
    original = losses.augment

    def recording(x, pad, intensity, generator):
        out = original(x, pad, intensity, generator)
        shifts.append(torch.round(out[:, 0, 5, 5] * 255).long().tolist())
        return out

    monkeypatch.setattr(losses, "augment", recording)
    net = EfficientZeroNet((10, 10, 2), A, cfg)
    efficientzero_loss(net, batch_of(cfg, frames=frames), cfg, generator=torch.Generator().manual_seed(3))
    assert len(shifts) == 2  # one draw for the online stack, one for the frames of the targets
    assert shifts[0] != shifts[1]
    assert all(0 <= v < 100 for v in shifts[0] + shifts[1])


def test_losses_past_the_episode_end_are_masked():
    cfg = preset_config("smoke", frame_stack=2)
    mask = torch.ones(B, K)
    mask[:, 2:] = 0.0  # unroll positions 3..5 lie past the end
    torch.manual_seed(0)
    net = EfficientZeroNet((10, 10, 2), A, cfg)
    for layer in (net.prediction.value_head[-1], net.prediction.policy_head[-1], net.dynamics.value_prefix_head[-1]):
        torch.nn.init.normal_(layer.weight)  # heads that are not uniform, so targets matter
    base = batch_of(cfg, mask=mask)
    other = base._replace(
        target_value=torch.cat([base.target_value[:, :3], 5 + base.target_value[:, 3:]], dim=1),
        target_value_prefix=torch.cat([base.target_value_prefix[:, :2], 3 - base.target_value_prefix[:, 2:]], dim=1),
        target_policy=torch.cat([base.target_policy[:, :3], torch.eye(A)[torch.zeros(B, K - 2, dtype=torch.long)]], dim=1),
    )
    net.eval()  # batch-norm statistics fixed, so the two evaluations see the same network
    with torch.no_grad():
        a = efficientzero_loss(net, base, cfg, train_augment=False).parts
        b = efficientzero_loss(net, other, cfg, train_augment=False).parts
        unmasked = efficientzero_loss(net, other._replace(unroll_mask=torch.ones(B, K)), cfg, train_augment=False).parts
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a[:3], unmasked[:3])  # value prefix, value, policy: the masked targets would count


def release_targets(rewards, values, t, n, num_unroll, discount, horizon):
    """The release's target preparation for one window of a game that ended in a terminal state, as it
    is described: value z = sum of discounted rewards from t+k up to its bootstrap index t+k+n, plus
    g^n times the bootstrap row's value only while that index lies inside the game (index < T);
    positions at or past T get 0. The value prefix adds the reward of each position inside the game
    to a running sum reset every ``horizon`` positions, and holds it past the end."""
    T = len(rewards)
    z, prefix, running = [], [], 0.0
    for j, index in enumerate(range(t, t + num_unroll + 1)):
        boot = index + n
        value = values[boot] * discount**n if boot < T else 0.0
        for i, r in enumerate(rewards[index:boot]):
            value += r * discount**i
        if j % horizon == 0:
            running = 0.0
        if index < T:
            z.append(value)
            running += rewards[index]
        else:
            z.append(0.0)
        prefix.append(running)
    return np.array(z), np.array(prefix[:num_unroll])


def test_targets_equal_an_independent_reading_of_the_release():
    rng = np.random.default_rng(0)
    g, horizon, num_unroll = 0.98806, 5, 5
    checked = 0
    for _ in range(60):
        T = int(rng.integers(1, 14))  # an episode cut by a life loss or the game's end: terminal
        rewards = rng.choice([-1.0, 0.0, 1.0], size=T)
        values = rng.normal(size=T + 1)
        for t in range(T):
            for n in range(1, 6):
                width = num_unroll + 5
                window = np.zeros(width)
                seg = rewards[t : t + width]
                window[: len(seg)] = seg
                k = np.arange(num_unroll + 1)
                boot_rows = np.minimum(t + k + n, T)
                z = value_targets(window[None], values[boot_rows][None], np.array([T - t]), np.array([True]), np.array([n]), g, num_unroll)
                p = value_prefix_targets(window[None], np.array([T - t]), horizon, num_unroll)
                expected_z, expected_p = release_targets(rewards, values, t, n, num_unroll, g, horizon)
                np.testing.assert_allclose(z[0], expected_z, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(p[0], expected_p, atol=1e-6)
                checked += 1
    assert checked > 500


def test_lagged_target_network_and_uniform_first_actions():
    cfg = preset_config("smoke", target_refresh_interval=2, selfplay_refresh_interval=1000, min_replay_size=10_000, batch_size=8, num_simulations=2, num_envs=4)
    env = CatchEnv(4, seed=0)
    agent = EfficientZeroAgent(env.spec, preset="smoke", seed=0, config=cfg)
    agent.train(env, 80)  # the replay never warms up: every action so far is uniformly random
    assert agent.learner.steps == 0
    rows = agent.replay.priorities[: agent.replay.size] > 0
    assert np.allclose(agent.replay.policies[: agent.replay.size][rows], 1.0 / A)
    assert agent.learner.run == RunSchedule(80) and agent.replay.td_age_interval == int(0.3 * 80)

    initial = {k: v.clone() for k, v in agent.net.state_dict().items()}
    agent.learner.run = RunSchedule(100)
    agent.update_loop.run(agent.replay, 2, age_step=80, reanalyze_ratio=1.0, after_update=lambda m: None)
    after_two = {k: v.clone() for k, v in agent.net.state_dict().items()}
    # First refresh (2 updates): the target takes the weights of the previous refresh, the initial ones.
    for name, value in agent.target_net.state_dict().items():
        assert torch.equal(value, initial[name]), name
    agent.update_loop.run(agent.replay, 2, age_step=80, reanalyze_ratio=1.0, after_update=lambda m: None)
    # Second refresh: the weights after two updates, never the current ones.
    assert any(not torch.equal(after_two[n], v) for n, v in agent.net.state_dict().items() if v.is_floating_point())
    for name, value in agent.target_net.state_dict().items():
        assert torch.equal(value, after_two[name]), name


def test_low_lr_tail_is_a_protocol_setting_off_by_default():
    from xtra_bench.agents import RandomAgent
    from xtra_bench.protocol import Protocol
    from xtra_bench.runner.job import protocol_settings

    assert Protocol().low_lr_tail == 0 and preset_config("paper").final_low_lr_steps == 0
    assert Protocol(low_lr_tail=20_000).hash() != Protocol().hash()  # results with and without it never mix
    assert protocol_settings(EfficientZeroAgent, "paper", Protocol(low_lr_tail=20_000)) == {"final_low_lr_steps": 20_000}
    assert protocol_settings(RandomAgent, "paper", Protocol(low_lr_tail=20_000)) == {}
    assert protocol_settings(EfficientZeroAgent, "paper", Protocol()) == {}
    # The tail runs after the last env step at the decayed rate: RunSchedule(100, 20) ends at 120 updates.
    cfg = preset_config("smoke", batch_size=8, num_simulations=2, min_replay_size=16, num_envs=2, final_low_lr_steps=20)
    env = CatchEnv(2, seed=0)
    agent = EfficientZeroAgent(env.spec, preset="smoke", seed=0, config=cfg)
    agent.train(env, 100)
    assert agent.learner.steps == 120 and agent.learner.run == RunSchedule(100, 20)
