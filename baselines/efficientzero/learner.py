"""One EfficientZero SGD update: learning-rate schedule, loss, gradient clip, step; priorities out."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.losses import LOSS_PARTS, TrainBatch, efficientzero_loss
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.schedule import RunSchedule, learning_rate
from baselines.efficientzero.speed import flag_active


class UpdateResult(NamedTuple):
    """What one update reports.

    Attributes:
        priorities: float32 [B] new replay priorities of the batch's windows.
        metrics: the loss parts, the learning rate and the gradient norm before clipping.
    """

    priorities: np.ndarray
    metrics: dict[str, float]


class Learner:
    """Owns the trained network's optimiser, update counter, run schedule and augmentation generator.

    Args:
        net: the network to train (already on its device).
        cfg: optimisation settings.
        seed: seeds the augmentation generator.

    Attributes:
        run: the length of the run the updates belong to; whoever starts a run sets it (the
            agent's ``train`` and ``train_offline``), and the schedules read it.
    """

    def __init__(self, net: EfficientZeroNet, cfg: EfficientZeroConfig, seed: int = 0):
        self.net = net
        self.cfg = cfg
        self.steps = 0
        self.run = RunSchedule(main_updates=1)
        self.generator = torch.Generator(device=next(net.parameters()).device).manual_seed(seed)
        self.optimizer = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        device = next(net.parameters()).device
        self._loss = torch.compile(efficientzero_loss) if flag_active(cfg, "compile", device) else efficientzero_loss

    def _autocast(self, device: torch.device):
        if flag_active(self.cfg, "amp", device):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def update(self, batch: TrainBatch) -> UpdateResult:
        """Runs one SGD step on ``batch`` and returns its new priorities and metrics."""
        lr = learning_rate(self.steps, self.cfg, self.run)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        with self._autocast(batch.frames.device):
            out = self._loss(self.net, batch, self.cfg, generator=self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.cfg.max_grad_norm)
        self.optimizer.step()
        self.steps += 1
        host = torch.cat([out.parts.float(), grad_norm.float().view(1), out.priorities.float()]).cpu().numpy()
        metrics = dict(zip(LOSS_PARTS, host[: len(LOSS_PARTS)].tolist()))
        metrics.update(lr=lr, grad_norm=float(host[len(LOSS_PARTS)]))
        return UpdateResult(host[len(LOSS_PARTS) + 1 :].astype(np.float32), metrics)

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "run": [self.run.main_updates, self.run.tail_updates],
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.steps = int(state["steps"])
        self.run = RunSchedule(*(int(n) for n in state["run"]))
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
