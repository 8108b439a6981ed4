"""Reanalysis: fresh targets for a drawn batch from the target network.

Values bootstrap from the target network's value of the n-step rows; for ``reanalyze_ratio`` of
the windows the policy targets are the visit distributions of a new MCTS with the target network
(root noise included, as in EfficientZero), the others keep acting's search policy.
"""

from __future__ import annotations

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.graphs import recurrent_function
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet, obs_to_input
from baselines.efficientzero.replay import ReplaySample
from baselines.efficientzero.speed import flag_active
from baselines.efficientzero.targets import bootstrap_needed, unroll_masks, value_prefix_targets, value_targets
from baselines.efficientzero.transfer import to_device
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
    return run_search(root, recurrent_function(net, cfg), legal, search_config(cfg), noise, seed)


@torch.no_grad()
def reanalyze(
    sample: ReplaySample,
    target_net: EfficientZeroNet,
    legal_row: np.ndarray,
    cfg: EfficientZeroConfig,
    rng: np.random.Generator,
    device: torch.device,
    reanalyze_ratio: float,
) -> TrainBatch:
    """Turns a replay sample into a training batch with the target network's targets.

    Args:
        sample: the drawn windows.
        target_net: the target network (kept in eval mode here).
        legal_row: bool [A] legal head entries of the game.
        cfg: discount, unroll, value-prefix horizon and search settings.
        rng: root noise and search seeds.
        device: where the training batch goes.
        reanalyze_ratio: share of the windows (the first ones) whose policy targets come from a
            new search; the others keep ``sample.search_policy``.

    Returns:
        The ``TrainBatch`` on ``device``.
    """
    b, k1 = sample.bootstrap_index.shape
    k, stack = k1 - 1, cfg.frame_stack
    target_net.eval()
    pin = flag_active(cfg, "pin_memory", device)
    # One host->device copy of every frame the batch needs; the stacks are cut on the device.
    frames = to_device(sample.frames, device, pin)
    stack_offsets = torch.arange(stack, device=device)
    # Only the rows whose value enters a target are evaluated (none past an episode's end or at a terminal one).
    window, position = np.nonzero(bootstrap_needed(sample.steps_left, sample.terminal, sample.td, k))
    boot_values = np.zeros((b, k1), dtype=np.float32)
    if len(window):
        rows = torch.from_numpy(sample.bootstrap_index[window, position]).to(device)[:, None] + stack_offsets  # [N, S]
        boot = frames[torch.from_numpy(window).to(device)[:, None], rows]
        boot_values[window, position] = target_net.initial_inference(obs_to_input(boot)).value.float().cpu().numpy()
    target_value = value_targets(sample.rewards, boot_values, sample.steps_left, sample.terminal, sample.td, cfg.discount, k)
    target_prefix = value_prefix_targets(sample.rewards, sample.steps_left, cfg.value_prefix_horizon, k)
    policy_mask, unroll_mask = unroll_masks(sample.steps_left, k)

    policy = sample.search_policy.copy()
    count = int(round(reanalyze_ratio * b))
    # Positions past an episode's end have no policy target: they are not searched.
    window, position = np.nonzero(policy_mask[:count])
    if len(window):
        starts = torch.from_numpy(position).to(device)[:, None] + stack_offsets  # [N, S]
        positions = frames[torch.from_numpy(window).to(device)[:, None], starts]
        legal = np.broadcast_to(legal_row, (len(window), len(legal_row)))
        result = search(target_net, positions, legal, cfg, rng, cfg.reanalyze_noise)
        policy[:count] = 0.0
        policy[window, position] = result.policy

    def put(x: np.ndarray) -> torch.Tensor:
        return to_device(x, device, pin)

    return TrainBatch(
        frames=frames[:, : stack + k],
        actions=put(sample.actions),
        target_value=put(target_value),
        target_value_prefix=put(target_prefix),
        target_policy=put(policy),
        unroll_mask=put(unroll_mask),
        weights=put(sample.weights),
        legal=put(np.broadcast_to(legal_row, (b, len(legal_row)))),
    )
