"""Reanalysis: fresh targets for a drawn batch from the target network.

Values bootstrap from the target network's value of the n-step rows; for ``reanalyze_ratio`` of
the windows the policy targets are the visit distributions of a new MCTS with the target network
(root noise included, as in EfficientZero), the others keep acting's search policy.
"""

from __future__ import annotations

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet, obs_to_input
from baselines.efficientzero.replay import ReplaySample
from baselines.efficientzero.targets import unroll_masks, value_prefix_targets, value_targets
from xtra_bench.search import SearchConfig, dirichlet_noise, run_search


def search_config(cfg: EfficientZeroConfig) -> SearchConfig:
    """The MCTS settings of an EfficientZero config."""
    return SearchConfig(
        num_simulations=cfg.num_simulations,
        discount=cfg.discount,
        pb_c_base=cfg.pb_c_base,
        pb_c_init=cfg.pb_c_init,
        dirichlet_alpha=cfg.dirichlet_alpha,
        exploration_fraction=cfg.exploration_fraction,
        value_prefix_horizon=cfg.value_prefix_horizon,
        num_threads=cfg.search_threads,
    )


@torch.no_grad()
def search(
    net: EfficientZeroNet,
    obs: torch.Tensor,
    legal: np.ndarray,
    cfg: EfficientZeroConfig,
    rng: np.random.Generator,
    add_noise: bool,
):
    """MCTS from a batch of stacked observations with ``net`` in eval mode.

    Args:
        net: the network searching.
        obs: uint8 [N, S, H, W, C] stacked observations on the network's device.
        legal: bool [N, A] legal head entries.
        cfg: search settings.
        rng: draws the root noise and the tie-breaking seed.
        add_noise: mix Dirichlet noise into the root priors.

    Returns:
        The contract's ``SearchResult`` (visit counts, root values, policy), host arrays.
    """
    net.eval()
    root = net.initial_inference(obs_to_input(obs))
    noise = dirichlet_noise(legal, cfg.dirichlet_alpha, rng) if add_noise else None
    seed = int(rng.integers(2**31))
    return run_search(root, net.recurrent_inference, legal, search_config(cfg), noise, seed)


@torch.no_grad()
def reanalyze(
    sample: ReplaySample,
    target_net: EfficientZeroNet,
    legal_row: np.ndarray,
    cfg: EfficientZeroConfig,
    rng: np.random.Generator,
    device: torch.device,
) -> TrainBatch:
    """Turns a replay sample into a training batch with the target network's targets.

    Args:
        sample: the drawn windows.
        target_net: the target network (kept in eval mode here).
        legal_row: bool [A] legal head entries of the game.
        cfg: discount, unroll, value-prefix horizon, reanalysis ratio and search settings.
        rng: root noise and search seeds.
        device: where the training batch goes.

    Returns:
        The ``TrainBatch`` on ``device``.
    """
    b, k1 = sample.bootstrap_frames.shape[:2]
    k = k1 - 1
    target_net.eval()
    boot = torch.from_numpy(sample.bootstrap_frames.reshape(b * k1, *sample.bootstrap_frames.shape[2:])).to(device)
    boot_values = target_net.initial_inference(obs_to_input(boot)).value.float().cpu().numpy().reshape(b, k1)
    target_value = value_targets(sample.rewards, boot_values, sample.steps_left, sample.terminal, sample.td, cfg.discount, k)
    target_prefix = value_prefix_targets(sample.rewards, sample.steps_left, cfg.value_prefix_horizon, k)
    policy_mask, consistency_mask = unroll_masks(sample.steps_left, k)

    policy = sample.search_policy.copy()
    count = int(round(cfg.reanalyze_ratio * b))
    frames = torch.from_numpy(sample.frames).to(device)
    if count:
        stack = cfg.frame_stack
        positions = torch.stack([frames[:count, j : j + stack] for j in range(k1)], dim=1).flatten(0, 1)
        legal = np.broadcast_to(legal_row, (count * k1, len(legal_row)))
        result = search(target_net, positions, legal, cfg, rng, cfg.reanalyze_noise)
        policy[:count] = result.policy.reshape(count, k1, -1) * policy_mask[:count, :, None]

    def put(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(device)

    return TrainBatch(
        frames=frames,
        actions=put(sample.actions),
        target_value=put(target_value),
        target_value_prefix=put(target_prefix),
        target_policy=put(policy),
        consistency_mask=put(consistency_mask),
        weights=put(sample.weights),
        legal=put(np.broadcast_to(legal_row, (b, len(legal_row)))),
    )
