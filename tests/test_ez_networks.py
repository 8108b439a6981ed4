"""Network shapes (Appendix J), the value-prefix LSTM state and multi-task masking."""

import numpy as np
import pytest
import torch

from baselines.efficientzero.config import preset_config
from baselines.efficientzero.networks import EfficientZeroNet, head_action_mask, mask_logits, obs_to_input


@pytest.fixture(scope="module")
def paper_net():
    torch.manual_seed(0)
    return EfficientZeroNet((96, 96, 3), 6, preset_config("paper")).eval()


def test_atari_latent_is_6x6x64(paper_net):
    assert paper_net.latent_shape == (64, 6, 6)


def test_inference_shapes_follow_the_search_contract(paper_net):
    with torch.no_grad():
        root = paper_net.initial_inference(torch.rand(3, 12, 96, 96))
        step = paper_net.recurrent_inference(root.latent, root.reward_state, torch.tensor([0, 2, 5]))
    for out in (root, step):
        assert out.latent.shape == (3, 64, 6, 6)
        assert out.value.shape == (3,) and out.value_prefix.shape == (3,)
        assert out.policy_logits.shape == (3, 6)
        assert [s.shape for s in out.reward_state] == [(1, 3, 512), (1, 3, 512)]
    assert torch.equal(root.value_prefix, torch.zeros(3))
    # Zero-initialised output layers: uniform policy, value 0 (up to float rounding) before training.
    assert torch.allclose(step.policy_logits, torch.zeros(3, 6))
    assert step.value.abs().max() < 1e-3
    # EfficientZero's Atari config leaves the latent unnormalised (state_norm=False): the dynamics'
    # final ReLU makes it non-negative, but its range is whatever the weights give.
    flat = step.latent.flatten(1)
    assert (flat >= 0).all() and not torch.allclose(flat.max(1).values, torch.ones(3))


def test_state_norm_scales_each_latent_to_the_unit_range():
    torch.manual_seed(0)
    net = EfficientZeroNet((10, 10, 4), 3, preset_config("smoke", state_norm=True)).eval()
    with torch.no_grad():
        root = net.initial_inference(torch.rand(3, 16, 10, 10))
        step = net.recurrent_inference(root.latent, root.reward_state, torch.tensor([0, 1, 2]))
    for latent in (root.latent, step.latent):
        flat = latent.flatten(1)
        assert torch.allclose(flat.min(1).values, torch.zeros(3)) and torch.allclose(flat.max(1).values, torch.ones(3))


def _residual_blocks(module: torch.nn.Module) -> list:
    from baselines.efficientzero.networks import ResidualBlock

    return [m for m in module.modules() if isinstance(m, ResidualBlock)]


def test_efficientzero_l_has_four_blocks_in_every_stage():
    base = EfficientZeroNet((96, 96, 3), 4, preset_config("smoke"))
    large = EfficientZeroNet((96, 96, 3), 4, preset_config("smoke", blocks_per_stage=4))
    # Per stage at C/2, C, after pooling 1, after pooling 2, plus the one strided block between the first two.
    widths = lambda net: [b.conv1.out_channels for b in _residual_blocks(net.representation)]  # noqa: E731
    assert widths(base) == [8, 16, 16, 16, 16]
    assert widths(large) == [8] * 4 + [16] + [16] * 12
    assert len(large.representation.blocks) == 4
    assert large.latent_shape == base.latent_shape == (16, 6, 6)


def _representation_parameters(channels: int, in_channels: int, per_stage: int) -> int:
    """The representation's parameter count written out: 3x3 convs without bias, batch norm's 2 per channel."""
    half = channels // 2
    block = lambda c: 2 * 9 * c * c + 2 * 2 * c  # noqa: E731  two convs + two batch norms
    stem = 9 * in_channels * half + 2 * half
    strided = 9 * half * channels + 9 * channels * channels + 9 * half * channels + 2 * 2 * channels  # two convs, skip conv, two BNs
    return stem + per_stage * block(half) + strided + 3 * per_stage * block(channels)


def test_representation_parameter_counts_of_efficientzero_and_efficientzero_l():
    # The paper's network on 96x96 RGB frames stacked 4 times (12 input channels).
    counts = {}
    for per_stage in (1, 4):
        net = EfficientZeroNet((96, 96, 3), 18, preset_config("paper", blocks_per_stage=per_stage))
        counts[per_stage] = sum(p.numel() for p in net.representation.parameters())
        assert counts[per_stage] == _representation_parameters(64, 12, per_stage)
    assert counts == {1: 318_016, 4: 1_039_552}
    # XTRA's release: about 3.3x EfficientZero's representation (the paper's "4 times more parameters").
    assert 3.2 < counts[4] / counts[1] < 3.4


def test_minatar_frames_skip_downsampling():
    net = EfficientZeroNet((10, 10, 7), 18, preset_config("smoke")).eval()
    with torch.no_grad():
        out = net.initial_inference(torch.rand(2, 28, 10, 10))
    assert net.latent_shape == (16, 10, 10) and out.latent.shape == (2, 16, 10, 10)


def test_projection_has_three_linear_layers_as_released(paper_net):
    # EfficientZero's projection: Linear 2304-1024, BN, ReLU, Linear 1024-1024, BN, ReLU, Linear 1024-1024, BN.
    linears = [m for m in paper_net.projection if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64 * 36, 1024), (1024, 1024), (1024, 1024)]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in paper_net.projection) == 3
    assert isinstance(paper_net.projection[-1], torch.nn.BatchNorm1d)


def test_projection_widths_and_stop_gradient(paper_net):
    latent = torch.rand(4, 64, 6, 6, requires_grad=True)
    online = paper_net.project(latent, with_grad=True)
    target = paper_net.project(latent, with_grad=False)
    assert online.shape == target.shape == (4, 1024)
    assert online.requires_grad and not target.requires_grad


def test_multi_task_mask_keeps_only_the_game_actions():
    mask = head_action_mask((0, 1, 3, 4), 18)
    assert mask.sum() == 4 and mask[[0, 1, 3, 4]].all()
    assert head_action_mask((0, 1, 3, 4), 4).all()
    probs = torch.softmax(mask_logits(torch.zeros(2, 18), torch.from_numpy(mask)), dim=-1)
    assert torch.allclose(probs[:, [0, 1, 3, 4]], torch.full((2, 4), 0.25)) and probs[:, 2].sum() == 0


def test_obs_to_input_orders_channels_frame_by_frame():
    obs = np.zeros((1, 4, 2, 2, 3), dtype=np.uint8)
    obs[0, 2, :, :, 1] = 255  # third frame, green channel
    x = obs_to_input(torch.from_numpy(obs))
    assert x.shape == (1, 12, 2, 2)
    assert x[0, 2 * 3 + 1].eq(1.0).all() and x.sum() == 4


@pytest.mark.parametrize(
    ("head_width", "head_actions", "planes"),
    [
        # The game's own head: EfficientZero's a / |A| over the game's action indices.
        (3, [0, 1, 2], [0.0, 1 / 3, 2 / 3]),
        # XTRA's shared head: the full-action ids of MinAtar-Breakout's (noop, left, right), over 18,
        # as the release's multi-task runs feed its dynamics (game_info.json ids, action_space_size 18).
        (18, [0, 4, 3], [0.0, 4 / 18, 3 / 18]),
    ],
)
def test_dynamics_action_plane_is_the_head_index_over_the_head_width(head_width, head_actions, planes):
    net = EfficientZeroNet((10, 10, 4), head_width, preset_config("smoke")).eval()
    seen = []
    net.dynamics.conv.register_forward_pre_hook(lambda _module, args: seen.append(args[0][:, -1]))
    with torch.no_grad():
        root = net.initial_inference(torch.rand(3, 16, 10, 10))
        net.recurrent_inference(root.latent, root.reward_state, torch.tensor(head_actions))
    (plane,) = seen
    expected = torch.tensor(planes).view(3, 1, 1).expand_as(plane)
    assert torch.allclose(plane, expected)
