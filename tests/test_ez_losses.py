"""The loss against values known in closed form at initialisation, the update and its schedule."""

import math

import numpy as np
import pytest
import torch

from baselines.efficientzero.augment import random_intensity, random_shift
from baselines.efficientzero.config import preset_config
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.schedule import RunSchedule, learning_rate, priority_beta, visit_temperature
from baselines.efficientzero.losses import TrainBatch, efficientzero_loss, scale_gradient
from baselines.efficientzero.networks import EfficientZeroNet

K, A, B = 5, 4, 8



def make_batch(cfg, frame=(10, 10, 4), actions=A, legal=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    policy = torch.zeros(B, K + 1, actions)
    policy[..., 1] = 1.0  # one-hot targets on action 1
    return TrainBatch(
        frames=torch.randint(0, 256, (B, cfg.frame_stack + K, *frame), generator=g, dtype=torch.uint8),
        actions=torch.randint(0, A, (B, K), generator=g),
        target_value=torch.rand(B, K + 1, generator=g) * 4,
        target_value_prefix=torch.randint(0, 3, (B, K), generator=g).float(),
        target_policy=policy,
        unroll_mask=torch.ones(B, K),
        weights=torch.ones(B),
        legal=torch.ones(B, actions, dtype=torch.bool) if legal is None else legal,
    )


def test_scale_gradient_keeps_the_value_and_scales_the_gradient():
    x = torch.tensor([2.0, -3.0], requires_grad=True)
    y = scale_gradient(x, 0.5)
    (y * torch.tensor([1.0, 4.0])).sum().backward()
    assert torch.equal(y.detach(), x.detach())
    assert x.grad.tolist() == [0.5, 2.0]


def test_augmentations_keep_shapes_and_shift_by_whole_pixels():
    torch.manual_seed(0)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    shifted = random_shift(x, 2)
    assert shifted.shape == x.shape
    # Away from the replicated border, a shift moves pixels without changing them.
    assert set(shifted[0, 0, 3:5, 3:5].flatten().tolist()) <= set(x[0, 0].flatten().tolist())
    scaled = random_intensity(torch.ones(64, 1, 2, 2), 0.05)
    factors = scaled[:, 0, 0, 0]
    assert factors.min() >= 0.9 - 1e-6 and factors.max() <= 1.1 + 1e-6 and factors.std() > 0
    assert torch.equal(scaled[:, 0], factors.view(-1, 1, 1).expand(-1, 2, 2))


def test_loss_at_initialisation_matches_closed_form():
    # Zero-initialised output layers give uniform heads: each value or prefix term is log(601) and
    # each policy term log(A), whatever the targets; the consistency term is a cosine in [-1, 1].
    cfg = preset_config("smoke")
    torch.manual_seed(0)
    net = EfficientZeroNet((10, 10, 4), A, cfg).train()
    out = efficientzero_loss(net, make_batch(cfg), cfg)
    vp, v, p, c, total = out.parts.tolist()
    assert vp == pytest.approx(K * math.log(601), rel=1e-5)
    assert v == pytest.approx((K + 1) * math.log(601), rel=1e-5)
    assert p == pytest.approx((K + 1) * math.log(A), rel=1e-5)
    assert -K <= c <= K
    assert total == pytest.approx(vp + 0.25 * v + p + 2 * c, rel=1e-5)
    assert out.loss.item() == pytest.approx(total, rel=1e-6)  # gradient scaling leaves the value alone


def test_multi_task_head_only_spreads_over_the_game_actions():
    cfg = preset_config("smoke")
    legal = torch.zeros(B, 18, dtype=torch.bool)
    legal[:, [0, 1, 3, 4]] = True
    net = EfficientZeroNet((10, 10, 4), 18, cfg).train()
    out = efficientzero_loss(net, make_batch(cfg, actions=18, legal=legal), cfg)
    assert out.parts[2].item() == pytest.approx((K + 1) * math.log(4), rel=1e-5)


def test_masked_consistency_and_priorities():
    cfg = preset_config("smoke")
    net = EfficientZeroNet((10, 10, 4), A, cfg).train()
    batch = make_batch(cfg)._replace(unroll_mask=torch.zeros(B, K))
    out = efficientzero_loss(net, batch, cfg)
    assert out.parts[3].item() == 0.0
    # A fresh value head predicts ~0, so the priority is |z_0| + eps.
    assert torch.allclose(out.priorities, batch.target_value[:, 0], atol=1e-3)


def test_learning_rate_schedule_hand_values():
    cfg = preset_config("paper")
    # EfficientZero's 100k + 20k run: warm-up 1000 updates, 0.2 until 101k, 0.02 in the tail.
    paper = RunSchedule(100_000, 20_000)
    assert [learning_rate(s, cfg, paper) for s in (0, 500, 1000, 100_999)] == pytest.approx([0.0, 0.1, 0.2, 0.2])
    assert learning_rate(101_000, cfg, paper) == pytest.approx(0.02)
    # A 200-update run warms up over 2 updates and keeps 0.2 to its end: the schedule follows the run.
    short = RunSchedule(200)
    assert [learning_rate(s, cfg, short) for s in (0, 1, 2, 150, 201)] == pytest.approx([0.0, 0.1, 0.2, 0.2, 0.2])
    assert learning_rate(202, cfg, short) == pytest.approx(0.02)


def test_beta_and_temperature_follow_the_run():
    cfg = preset_config("paper")
    run = RunSchedule(1_000, 250)  # beta over all 1250 updates, temperature over the 1000 main ones
    assert [priority_beta(n, cfg, run) for n in (0, 625, 1250, 5000)] == pytest.approx([0.4, 0.7, 1.0, 1.0])
    assert [visit_temperature(n, cfg, run) for n in (0, 499, 500, 749, 750, 1200)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_updates_lower_the_loss_on_a_fixed_batch():
    cfg = preset_config("smoke", lr=0.05)
    torch.manual_seed(0)
    net = EfficientZeroNet((10, 10, 4), A, cfg)
    learner = Learner(net, cfg)
    learner.run = RunSchedule(1000)
    batch = make_batch(cfg)
    first = learner.update(batch)
    for _ in range(20):
        last = learner.update(batch)
    assert learner.steps == 21
    assert first.priorities.shape == (B,) and first.priorities.dtype == np.float32
    assert last.metrics["total_loss"] < 0.8 * first.metrics["total_loss"]
    assert np.isfinite(last.metrics["grad_norm"])
