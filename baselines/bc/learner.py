"""Behaviour-cloning updates: the masked cross-entropy, minibatches from offline tasks, SGD stages.

The target of a row is its dataset's teacher policy where the task has teacher targets, else the
one-hot of the action taken; both live on the game's action set, placed into the 18-action head.
The policy is a softmax over the game's own head entries only (the others get ``ILLEGAL_LOGIT``),
so no probability ever falls on another game's actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch.nn import functional as F

from baselines.bc.config import BCConfig
from baselines.bc.networks import BCNet
from baselines.efficientzero.augment import augment
from baselines.efficientzero.networks import mask_logits, obs_to_input
from baselines.offline import OfflineTask, task_shares

logger = logging.getLogger(__name__)


def cloning_loss(logits: torch.Tensor, target: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of target distributions under the legal-masked policy.

    Args:
        logits: float [B, A] policy logits.
        target: float [B, A] target distributions, zero outside each row's legal entries.
        legal: bool [B, A] each row's legal head entries.

    Returns:
        float [B] -sum_a target(a) log softmax_legal(logits)(a).
    """
    return -(target * F.log_softmax(mask_logits(logits, legal), dim=-1)).sum(-1)


class BCBatch(NamedTuple):
    """One minibatch on the training device (B rows, S stacked frames, A = 18 head entries).

    Attributes:
        obs: uint8 [B, S, H, W, C].
        target: float32 [B, A] target policy on the head.
        legal: bool [B, A] head entries of each row's game.
    """

    obs: torch.Tensor
    target: torch.Tensor
    legal: torch.Tensor


def task_rows(task: OfflineTask, size: int, use_targets: bool) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``size`` rows of one task: (obs uint8 [size, S, *frame], head targets float32 [size, A])."""
    batch = task.sampler.sample(size)
    target = np.zeros((size, len(task.legal)), np.float32)
    if use_targets and task.has_targets:
        target[:, task.env_to_head] = batch.policy[:, 0]
    else:
        target[np.arange(size), task.env_to_head[batch.actions[:, 0]]] = 1.0
    return batch.stack(0), target


def offline_batch(tasks: Sequence[OfflineTask], batch_size: int, use_targets: bool, device: torch.device) -> BCBatch:
    """A minibatch giving every task an equal share of ``batch_size`` rows."""
    obs, targets, legal = [], [], []
    for task, size in zip(tasks, task_shares(batch_size, len(tasks))):
        task_obs, task_target = task_rows(task, size, use_targets)
        obs.append(task_obs)
        targets.append(task_target)
        legal.append(np.broadcast_to(task.legal, task_target.shape))
    arrays = (np.concatenate(obs), np.concatenate(targets), np.concatenate(legal))
    return BCBatch(*(torch.from_numpy(a).to(device, non_blocking=True) for a in arrays))


class BCLearner:
    """SGD on the cloning loss with EfficientZero's augmentation; one learner per training stage.

    Args:
        net: the network to train (already on its device).
        cfg: optimisation settings.
        total_updates: updates of this stage (sets the warm-up length).
    """

    def __init__(self, net: BCNet, cfg: BCConfig, total_updates: int):
        self.net, self.cfg = net, cfg
        self.warmup = int(cfg.lr_warmup_fraction * total_updates)
        self.optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        self.steps = 0

    def learning_rate(self) -> float:
        """Linear warm-up over the stage's first updates, then ``lr``."""
        return self.cfg.lr * min(1.0, (self.steps + 1) / self.warmup) if self.warmup else self.cfg.lr

    def update(self, batch: BCBatch) -> dict[str, float]:
        """One SGD step; returns the mean loss, the accuracy of the policy's argmax against the target's, lr and grad norm."""
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        x = augment(obs_to_input(batch.obs), self.cfg.shift_pad, self.cfg.intensity_scale)
        logits = self.net(x)
        loss = cloning_loss(logits, batch.target, batch.legal).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.max_grad_norm)
        self.optimizer.step()
        self.steps += 1
        with torch.no_grad():
            agree = (mask_logits(logits, batch.legal).argmax(1) == batch.target.argmax(1)).float().mean()
        loss_value, accuracy, norm = torch.stack([loss.detach(), agree, grad_norm]).cpu().tolist()
        return {"loss": loss_value, "accuracy": accuracy, "lr": lr, "grad_norm": norm}


def train_stage(
    net: BCNet,
    tasks: Sequence[OfflineTask],
    updates: int,
    cfg: BCConfig,
    device: torch.device,
    stage: str,
    report: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, float]:
    """Runs ``updates`` cloning updates of ``net`` on ``tasks``; returns the last update's metrics.

    Every ``log_interval`` updates the metrics are logged and passed to ``report``, with
    ``<stage>_updates`` counting the updates done.
    """
    learner = BCLearner(net, cfg, updates)
    metrics: dict[str, float] = {}
    for _ in range(updates):
        metrics = learner.update(offline_batch(tasks, cfg.batch_size, cfg.use_teacher_targets, device))
        metrics[f"{stage}_updates"] = learner.steps
        if cfg.log_interval and learner.steps % cfg.log_interval == 0:
            logger.info("%s update %d: %s", stage, learner.steps, {k: round(v, 4) for k, v in metrics.items()})
            if report:
                report(metrics)
    return metrics
