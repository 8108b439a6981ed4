"""Multi-task offline pretraining of CURL (XTRA, Appendix G): the online loss on batches of every dataset.

Every update draws an equal share of the minibatch from each pretraining dataset, with n-step
returns of clipped rewards from the dataset sampler (a life loss ends the return, as online), each
game's actions mapped into the shared 18-action head and its other entries masked. Each dataset
keeps its own priorities, set from the per-sample losses as in the online replay.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from baselines.curl.config import CurlConfig
from baselines.curl.learner import CurlLearner, RainbowBatch
from baselines.curl.replay import Transitions
from baselines.offline import OfflineTask
from xtra_bench.data import SamplerConfig

logger = logging.getLogger(__name__)


def sampler_config(cfg: CurlConfig, seed: int) -> SamplerConfig:
    """Dataset batches laid out for CURL: the stack at t, the action at t (one unroll step) and n-step returns."""
    return SamplerConfig(
        batch_size=cfg.pretrain_batch_per_task,
        frame_stack=cfg.frame_stack,
        unroll_steps=1,
        n_step=cfg.n_step,
        discount=cfg.discount,
        clip_rewards=cfg.clip_rewards,
        life_loss_terminal=True,
        seed=seed,
    )


def task_transitions(task: OfflineTask, beta: float) -> Transitions:
    """One task's share of a minibatch (unnormalised importance weights (N P(i))^-beta)."""
    batch = task.sampler.sample()
    rows = batch.bootstrap_rows[:, 0]
    # A return that ends at a terminal has no bootstrap row; any observation fills its slot.
    next_obs = task.sampler.stacked_frames(np.where(rows >= 0, rows, batch.rows))
    weights = (task.dataset.total_steps * batch.probability.astype(np.float64)) ** -beta
    return Transitions(
        rows=batch.rows,
        obs=batch.stack(0),
        actions=task.env_to_head[batch.actions[:, 0]],
        returns=batch.nstep_return[:, 0],
        bootstrap_discount=batch.bootstrap_discount[:, 0],
        next_obs=next_obs,
        weights=weights.astype(np.float32),
    )


def offline_batch(tasks: Sequence[OfflineTask], beta: float, device: torch.device) -> tuple[RainbowBatch, list[Transitions]]:
    """A minibatch with every task's share, weights max-normalised over the whole batch; also each share."""
    shares = [task_transitions(task, beta) for task in tasks]
    joined = Transitions(*(np.concatenate(parts) for parts in zip(*shares)))
    joined = joined._replace(weights=joined.weights / joined.weights.max())
    legal = np.concatenate([np.broadcast_to(t.legal, (len(s.rows), len(t.legal))) for t, s in zip(tasks, shares)])
    return RainbowBatch.from_host(joined, legal, device), shares


def pretrain_network(
    learner: CurlLearner,
    tasks: Sequence[OfflineTask],
    cfg: CurlConfig,
    device: torch.device,
) -> dict[str, float]:
    """Runs ``cfg.pretrain_updates`` updates of ``learner`` on the tasks; returns the last update's metrics."""
    metrics: dict[str, float] = {}
    for update in range(cfg.pretrain_updates):
        beta = cfg.priority_beta_start + (1 - cfg.priority_beta_start) * update / max(1, cfg.pretrain_updates - 1)
        batch, shares = offline_batch(tasks, beta, device)
        result = learner.update(batch)
        start = 0
        for task, share in zip(tasks, shares):
            losses = result.losses[start : start + len(share.rows)]
            task.sampler.update_priorities(share.rows, (losses.astype(np.float64) + cfg.priority_eps) ** cfg.priority_alpha)
            start += len(share.rows)
        metrics = {**result.metrics, "pretrain_update": update + 1}
        if cfg.log_interval and (update + 1) % cfg.log_interval == 0:
            logger.info("pretrain update %d: %s", update + 1, {k: round(v, 4) for k, v in result.metrics.items()})
    return metrics
