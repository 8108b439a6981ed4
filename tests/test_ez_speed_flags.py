"""EfficientZero's speed flags: each one set on a CPU either acts or is skipped for its stated reason, and the numbers do not change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.efficientzero.config import preset_config
from baselines.efficientzero.graphs import GraphedRecurrent, bucket_size, recurrent_function
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet, build_network, obs_to_input
from baselines.efficientzero.reanalyze import reanalyze, search
from baselines.efficientzero.replay import PrioritizedReplay
from baselines.efficientzero.speed import CUDA_ONLY, SPEED_FLAGS, speed_flags
from baselines.efficientzero.transfer import to_device

FRAME = (10, 10, 3)
ACTIONS = 4
CPU = torch.device("cpu")
ALL_ON = dict.fromkeys(SPEED_FLAGS, True)


def config(**flags):
    return preset_config("smoke", batch_size=4, num_simulations=3, **flags)


def batch(cfg, seed: int = 0) -> TrainBatch:
    g = torch.Generator().manual_seed(seed)
    b, k, stack = cfg.batch_size, cfg.num_unroll_steps, cfg.frame_stack
    return TrainBatch(
        frames=torch.randint(0, 256, (b, stack + k, *FRAME), dtype=torch.uint8, generator=g),
        actions=torch.randint(0, ACTIONS, (b, k), generator=g),
        target_value=torch.rand(b, k + 1, generator=g) * 5,
        target_value_prefix=torch.randint(0, 3, (b, k), generator=g).float(),
        target_policy=torch.softmax(torch.randn(b, k + 1, ACTIONS, generator=g), -1),
        unroll_mask=torch.ones(b, k),
        weights=torch.ones(b),
        legal=torch.ones(b, ACTIONS, dtype=torch.bool),
    )


def one_update(cfg):
    """Metrics and weights after one update of a freshly seeded network with ``cfg``."""
    torch.manual_seed(0)
    learner = Learner(build_network(FRAME, ACTIONS, cfg, CPU), cfg, seed=3)
    result = learner.update(batch(cfg))
    return result, {name: value.detach().clone() for name, value in learner.net.state_dict().items()}


def test_cuda_only_flags_are_skipped_on_a_cpu_with_their_reason():
    states = speed_flags(config(**ALL_ON), CPU)
    assert set(states) == set(SPEED_FLAGS)
    for name in CUDA_ONLY:
        assert states[name] == f"skipped: {CUDA_ONLY[name]}"
    assert states["channels_last"] == "on" and states["overlap_reanalysis"] == "on"
    assert speed_flags(config(overlap_reanalysis=False), CPU) == dict.fromkeys(SPEED_FLAGS, "off")


def test_compile_and_amp_on_a_cpu_run_the_eager_update_exactly():
    plain, plain_weights = one_update(config())
    flagged, flagged_weights = one_update(config(compile=True, amp=True))
    np.testing.assert_array_equal(plain.priorities, flagged.priorities)
    assert plain.metrics == flagged.metrics
    for name, value in plain_weights.items():
        assert torch.equal(value, flagged_weights[name]), name


def test_channels_last_changes_the_layout_not_the_update():
    plain, plain_weights = one_update(config())
    flagged, flagged_weights = one_update(config(channels_last=True))
    conv = build_network(FRAME, ACTIONS, config(channels_last=True), CPU).representation.stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    np.testing.assert_allclose(plain.priorities, flagged.priorities, rtol=1e-4, atol=1e-5)
    for name in ("total_loss", "value_loss", "policy_loss", "grad_norm"):
        assert flagged.metrics[name] == pytest.approx(plain.metrics[name], rel=1e-4, abs=1e-6), name
    for name, value in plain_weights.items():
        torch.testing.assert_close(flagged_weights[name], value, rtol=1e-4, atol=1e-5)


def test_cuda_graphs_on_a_cpu_search_with_the_eager_inference():
    torch.manual_seed(0)
    net = build_network(FRAME, ACTIONS, config(), CPU)
    assert recurrent_function(net, config(cuda_graphs=True)) == net.recurrent_inference
    obs = torch.randint(0, 256, (5, 4, *FRAME), dtype=torch.uint8)
    legal = np.ones((5, ACTIONS), dtype=bool)
    plain = search(net, obs, legal, config(), np.random.default_rng(1), add_noise=True)
    flagged = search(net, obs, legal, config(cuda_graphs=True), np.random.default_rng(1), add_noise=True)
    np.testing.assert_array_equal(plain.visit_counts, flagged.visit_counts)
    np.testing.assert_array_equal(plain.root_values, flagged.root_values)


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 7, 9, 100, 257, 1025, 1537, 4000])
def test_a_bucket_holds_its_batch_with_at_most_a_third_of_padding(rows):
    size = bucket_size(rows)
    assert rows <= size and (size - rows) / size <= 1 / 3
    power = 1 << (size.bit_length() - 1)
    assert size in (power, 3 * power // 2)  # a power of two or 1.5 times one: few graphs cover every size
    assert bucket_size(size) == size


def test_a_bucket_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="at least one row"):
        bucket_size(0)


def small_replay(cfg) -> PrioritizedReplay:
    replay = PrioritizedReplay(
        FRAME, ACTIONS, 400, clip_rewards=True, frame_stack=cfg.frame_stack, num_unroll=cfg.num_unroll_steps,
        td_steps=cfg.td_steps, td_age_interval=100, min_td_steps=cfg.min_td_steps, alpha=cfg.priority_alpha, seed=0,
    )
    rng = np.random.default_rng(0)
    for steps in (30, 12, 25):
        frames = rng.integers(0, 256, (cfg.frame_stack + steps, *FRAME), dtype=np.uint8)
        policies = np.full((steps, ACTIONS), 1 / ACTIONS, np.float32)
        replay.add_episode(frames, rng.integers(0, ACTIONS, steps), rng.normal(size=steps), policies, np.arange(steps), True)
    return replay


def test_pin_memory_on_a_cpu_gives_the_same_training_batch():
    cfg = config()
    sample = small_replay(cfg).sample(cfg.batch_size, 1.0, 0)
    torch.manual_seed(0)
    net = build_network(FRAME, ACTIONS, cfg, CPU)
    legal = np.ones(ACTIONS, dtype=bool)
    plain = reanalyze(sample, net, legal, cfg, np.random.default_rng(2), CPU, 1.0)
    pinned = reanalyze(sample, net, legal, config(pin_memory=True), np.random.default_rng(2), CPU, 1.0)
    for name, value in plain._asdict().items():
        assert torch.equal(value, getattr(pinned, name)), name


def test_to_device_on_a_cpu_shares_the_array_whatever_the_flag():
    array = np.arange(24, dtype=np.float32).reshape(4, 6)
    for pin in (False, True):
        tensor = to_device(array, CPU, pin)
        assert tensor.data_ptr() == array.__array_interface__["data"][0]
        np.testing.assert_array_equal(tensor.numpy(), array)
    assert torch.equal(to_device(array[:, ::2], CPU, True), torch.from_numpy(array[:, ::2].copy()))  # strided input


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graphs_replay_the_eager_inference_on_a_gpu():
    device = torch.device("cuda")
    torch.manual_seed(0)
    net = EfficientZeroNet(FRAME, ACTIONS, config()).to(device).eval()
    graphed = GraphedRecurrent(net)
    with torch.no_grad():
        for rows in (5, 6, 13):  # two buckets, one of them twice
            obs = torch.randint(0, 256, (rows, 4, *FRAME), dtype=torch.uint8, device=device)
            root = net.initial_inference(obs_to_input(obs))
            actions = torch.arange(rows, device=device) % ACTIONS
            replayed = graphed(root.latent, root.reward_state, actions)
            eager = net.recurrent_inference(root.latent, root.reward_state, actions)
            assert graphed.failure is None
            torch.testing.assert_close(replayed.latent, eager.latent, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(replayed.value, eager.value, rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(replayed.policy_logits, eager.policy_logits, rtol=1e-4, atol=1e-5)
            for a, b in zip(replayed.reward_state, eager.reward_state):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pinned_copies_arrive_intact_on_a_gpu():
    array = np.random.default_rng(0).integers(0, 256, (8, 14, 96, 96, 3), dtype=np.uint8)
    device = torch.device("cuda")
    assert torch.equal(to_device(array, device, True).cpu(), torch.from_numpy(array))
