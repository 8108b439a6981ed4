"""The paper's alternative to distillation (Appendix C): one multi-game student trained by offline RL.

No teachers: one EfficientZero-L with the shared 18-action head learns all pretraining datasets at
once as offline EfficientZero does one (``EfficientZeroAgent.train_offline``): each update draws an
equal share of windows from every dataset by priority, reanalyses each game's share with the
student's own target network under that game's legal actions (value bootstraps and every policy
target), takes one EfficientZero step on the concatenated batch and writes the new priorities back.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.networks import EfficientZeroNet, env_to_head_actions, head_action_mask
from baselines.efficientzero.offline import DatasetReplay
from baselines.efficientzero.reanalyze import reanalyze
from baselines.efficientzero.schedule import RunSchedule, priority_beta
from baselines.xtra.config import equal_share
from baselines.xtra.finetune import concat_batches
from baselines.xtra.student import distill_config
from xtra_bench.data import Dataset


def offline_rl_student(
    datasets: Sequence[Dataset],
    cfg: EfficientZeroConfig,
    *,
    updates: int,
    batch_size: int,
    device: str,
    seed: int,
    progress: bool = True,
) -> EfficientZeroNet:
    """Trains one multi-game student on ``datasets`` by offline EfficientZero.

    Args:
        datasets: one view per pretraining game (frames of one shape).
        cfg: the student's settings (EfficientZero-L, 18-action head); its schedule is stretched over ``updates``.
        updates: SGD updates.
        batch_size: rows per update, ``batch_size // K`` from each of the K datasets.
        device: torch device.
        seed: seeds the weights, the draws, reanalysis and augmentation.
        progress: show a progress bar.

    Returns:
        The trained network.
    """
    from tqdm.auto import tqdm

    cfg = distill_config(cfg)
    width = cfg.multi_task_actions
    seeds = np.random.SeedSequence(seed).spawn(len(datasets) + 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = EfficientZeroNet(tuple(datasets[0].frame_shape), width, cfg).to(device)
    target_net = copy.deepcopy(net)
    learner = Learner(net, cfg, seed=seed)
    learner.run = RunSchedule(updates)
    replays, legal = [], []
    for dataset, stream in zip(datasets, seeds):
        replays.append(
            DatasetReplay(
                dataset,
                env_to_head_actions(tuple(dataset.action_set), width),
                width,
                clip_rewards=cfg.clip_rewards,
                life_loss_terminal=cfg.life_loss_terminal,
                frame_stack=cfg.frame_stack,
                num_unroll=cfg.num_unroll_steps,
                td_steps=cfg.td_steps,
                td_age_interval=1,  # every row has age 0 offline
                min_td_steps=cfg.min_td_steps,
                alpha=cfg.priority_alpha,
                seed=stream,
            )
        )
        legal.append(head_action_mask(tuple(dataset.action_set), width))
    rng = np.random.default_rng(seeds[-1])
    share = equal_share(batch_size, len(datasets))
    torch_device = torch.device(device)
    for step in tqdm(range(updates), desc="offline-RL student", unit="update", disable=not progress, dynamic_ncols=True):
        beta = priority_beta(step, cfg, learner.run)
        samples = [replay.sample(share, beta, 0) for replay in replays]
        batches = [reanalyze(s, target_net, row, cfg, rng, torch_device, 1.0) for s, row in zip(samples, legal)]
        batch = batches[0]
        for more in batches[1:]:
            batch = concat_batches(batch, more)
        result = learner.update(batch)
        for i, (replay, sample) in enumerate(zip(replays, samples)):
            replay.update_priorities(sample.rows, result.priorities[i * share : (i + 1) * share])
        if learner.steps % cfg.target_refresh_interval == 0:
            target_net.load_state_dict(net.state_dict())
    return net
