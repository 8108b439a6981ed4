"""CURL's contrastive task on constructed batches, its crops and key-encoder EMA, and one learner on a fixed batch."""

import math

import numpy as np
import pytest
import torch

from baselines.curl.config import preset_config
from baselines.curl.contrastive import contrastive_loss, crop_augment, momentum_update
from baselines.curl.learner import CurlLearner, RainbowBatch
from baselines.curl.networks import CurlNet



@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_identical_orthonormal_keys_and_queries_with_identity_w(scale):
    # logits = I; shifted by the row max: 0 on the diagonal, -1 elsewhere; times the scale.
    # Each row's loss is -log(1 / (1 + (B - 1) e^-scale)).
    batch = 4
    z = torch.eye(batch)
    loss = contrastive_loss(z, z, torch.eye(batch), scale)
    assert loss.item() == pytest.approx(math.log(1 + (batch - 1) * math.exp(-scale)), rel=1e-6)


def test_zero_w_cannot_tell_the_positive_apart():
    z = torch.randn(6, 5)
    assert contrastive_loss(z, z, torch.zeros(5, 5), 1.0).item() == pytest.approx(math.log(6), rel=1e-6)


def test_loss_falls_when_the_positive_scores_higher():
    queries, keys = torch.eye(3), torch.eye(3)
    swapped = keys[[1, 0, 2]]  # rows 0 and 1 now face another sample's key on the diagonal
    w = 5 * torch.eye(3)
    assert contrastive_loss(queries, keys, w, 1.0) < contrastive_loss(queries, swapped, w, 1.0)


def test_crop_pad_crop_reads_a_shifted_window_with_replicated_edges():
    size, margin = 12, 4
    x = torch.arange(64 * size * size, dtype=torch.float32).view(64, 1, size, size).repeat(1, 3, 1, 1)
    assert torch.equal(crop_augment(x, 0), x)
    out = crop_augment(x, margin)
    assert out.shape == x.shape and torch.equal(out[:, 0], out[:, 2])  # one crop for all channels of a sample
    local = out[:, 0].long() - (torch.arange(64) * size * size)[:, None, None]  # pixel ids within each sample
    rows, cols = local[:, :, 0] // size, local[:, 0, :] % size
    for b in range(64):
        # Separable: pixel (i, j) comes from (rows[i], cols[j]) of the same sample.
        assert torch.equal(local[b], rows[b][:, None] * size + cols[b][None, :])
        for coords in (rows[b], cols[b]):
            steps = coords[1:] - coords[:-1]
            # A window of the size - margin inner crop: steps of 1, repeats only where the padding replicates an edge.
            assert ((steps == 0) | (steps == 1)).all() and len(set(coords.tolist())) == size - margin
            assert coords.min() >= 0 and coords.max() <= size - 1
    assert len({(r.tolist()[0], c.tolist()[0]) for r, c in zip(rows, cols)}) > 1  # offsets differ across samples


def test_momentum_update_moves_keys_a_fraction_towards_queries():
    key, query = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(key.weight), torch.nn.init.zeros_(key.bias)
    torch.nn.init.ones_(query.weight), torch.nn.init.ones_(query.bias)
    momentum_update(key, query, 0.9)
    assert torch.allclose(key.weight, torch.full((1, 2), 0.1)) and torch.allclose(key.bias, torch.full((1,), 0.1))


def test_learner_fits_a_fixed_terminal_batch():
    torch.manual_seed(0)
    cfg = preset_config("smoke", lr=3e-3, num_atoms=11, v_min=-2.0, v_max=2.0)
    net = CurlNet((10, 10, 4), 3, cfg)
    learner = CurlLearner(net, cfg, frame_size=10)
    rng = np.random.default_rng(0)
    obs = torch.from_numpy(rng.integers(0, 256, (8, 4, 10, 10, 4), dtype=np.uint8))
    actions = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    returns = torch.tensor([1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 1.0, -1.0])
    legal = torch.ones(8, 3, dtype=torch.bool)
    batch = RainbowBatch(obs, actions, returns, torch.zeros(8), obs, torch.ones(8), legal)
    first = learner.update(batch)
    for _ in range(80):
        last = learner.update(batch)
    # The targets are point masses at the returns: the loss starts near log(11) and falls towards 0.
    assert first.metrics["distributional_loss"] > 1.5
    assert last.metrics["distributional_loss"] < 0.3 * first.metrics["distributional_loss"]
    assert last.losses.shape == (8,) and learner.steps == 81
    net.eval()
    with torch.no_grad():
        q = net.q_values(net.log_probs(obs.permute(0, 1, 4, 2, 3).reshape(8, 16, 10, 10).float() / 255))
    np.testing.assert_allclose(q[torch.arange(8), actions].numpy(), returns.numpy(), atol=0.35)
