"""Stage 2's update (the paper's Eq. 1): the target's EfficientZero loss plus the weighted offline tasks' losses.

Each update: L = L_target + sum_i eta_i L_i, with L_target the ordinary EfficientZero loss of the
reanalysed target batch and L_i the same loss on task i's share of the offline batch (teacher
targets). The target batch gets its own forward pass, so with every eta at 0 the update is exactly
EfficientZero's; the offline rows of all tasks share one forward pass and L_i is the mean over
task i's rows. Tasks whose eta is 0 are left out of the offline batch except on gradient-cosine
window steps, where every task's gradient is measured (see ``task_weights``): there the target's
and each task's gradients are taken separately, their cosines counted, and the update's gradient
is assembled from them (g_target + sum_i eta_i g_i), so a window step costs K extra backward
passes and no extra forward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.learner import Learner, UpdateResult
from baselines.efficientzero.losses import LOSS_PARTS, TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet, scale_gradient
from baselines.efficientzero.schedule import learning_rate
from baselines.xtra.config import XtraConfig, equal_share
from baselines.xtra.offline import OfflineTasks
from baselines.xtra.task_weights import TaskWeights, gradient_cosines

WindowReport = Callable[[dict[str, float]], None]
"""Receives ``{"cos/<Game>": ..., "eta/<Game>": ...}`` after every window step."""


class CrossTaskLearner(Learner):
    """EfficientZero's learner with concurrent offline tasks weighted by eta_i.

    Args:
        net: the network being finetuned (on its device).
        cfg: EfficientZero settings (optimiser, loss, schedule).
        xcfg: XTRA settings (offline batch, task-weight rule, frozen representation).
        tasks: the offline tasks, or None for none (then this is EfficientZero's learner).
        report: called with every window step's cosines and weights.
        seed: seeds the augmentation generator (shared by the target and offline batches, in that order).
    """

    def __init__(
        self,
        net: EfficientZeroNet,
        cfg: EfficientZeroConfig,
        xcfg: XtraConfig,
        tasks: OfflineTasks | None = None,
        report: WindowReport | None = None,
        seed: int = 0,
    ):
        super().__init__(net, cfg, seed=seed)
        self.xcfg = xcfg
        self.report = report
        self.attach(tasks)

    def attach(self, tasks: OfflineTasks | None) -> None:
        """Sets the offline tasks (fresh weights: every eta at ``initial_weight``)."""
        self.tasks = tasks
        games = tasks.games if tasks is not None else ()
        self.weights = TaskWeights.from_config(games, self.xcfg)
        self.rows_per_task = equal_share(self.xcfg.offline_batch_size, len(games)) if games else 0

    def _shared_parameters(self) -> list[torch.nn.Parameter]:
        # One network serves the target and every offline task: all its trainable parameters are shared.
        return [p for p in self.net.parameters() if p.requires_grad]

    def _task_losses(self, which: list[int]) -> torch.Tensor:
        """L_i of the offline tasks ``which``: float [len(which)], gradient-scaled like the target loss."""
        batch = self.tasks.sample(self.rows_per_task, which)
        out = self._loss(self.net, batch, self.cfg, generator=self.generator)
        means = out.per_sample.view(len(which), self.rows_per_task).mean(dim=1)
        return scale_gradient(means, self.cfg.loss_grad_scale)

    def _window_gradients(self, target_loss: torch.Tensor, task_losses: torch.Tensor, eta: np.ndarray) -> np.ndarray:
        """Sets ``.grad`` to g_target + sum_i eta_i g_i from separately taken gradients; returns the K cosines."""
        params = self._shared_parameters()

        def grad(loss: torch.Tensor, retain: bool) -> list[torch.Tensor]:
            grads = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
            return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]

        target = grad(target_loss, retain=False)
        tasks = [grad(task_losses[i], retain=i + 1 < len(task_losses)) for i in range(len(task_losses))]
        for j, p in enumerate(params):
            p.grad = target[j] + sum(float(eta[i]) * tasks[i][j] for i in range(len(tasks)))
        return gradient_cosines(target, tasks)

    def update(self, batch: TrainBatch) -> UpdateResult:
        """One finetuning step on the target ``batch`` (and offline batches drawn here); priorities of ``batch`` out."""
        cfg, step = self.cfg, self.steps
        lr = learning_rate(step, cfg, self.run)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        if self.xcfg.freeze_representation:
            self.net.representation.eval()  # frozen means its batch-norm statistics too
        eta = self.weights.eta
        window = self.tasks is not None and self.weights.in_window(step)
        active = list(range(len(eta))) if window else [i for i in range(len(eta)) if eta[i] > 0]
        with self._autocast(batch.frames.device):
            out = self._loss(self.net, batch, cfg, generator=self.generator)
            task_losses = self._task_losses(active) if active else None
        self.optimizer.zero_grad(set_to_none=True)
        cosines = None
        if window:
            cosines = self._window_gradients(out.loss, task_losses, eta)
        elif task_losses is not None:
            weights = torch.as_tensor(eta[active], dtype=task_losses.dtype, device=task_losses.device)
            (out.loss + (weights * task_losses).sum()).backward()
        else:
            out.loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.steps += 1

        offline = task_losses.detach().float() if task_losses is not None else out.parts.new_zeros(0)
        host = torch.cat([out.parts.float(), grad_norm.float().view(1), offline, out.priorities.float()]).cpu().numpy()
        n_parts, n_off = len(LOSS_PARTS), len(active)
        metrics = dict(zip(LOSS_PARTS, host[:n_parts].tolist()))
        metrics.update(lr=lr, grad_norm=float(host[n_parts]))
        # The offline losses are logged unscaled, like the target's parts.
        games = self.weights.tasks
        metrics.update({f"loss/{games[i]}": float(v) for i, v in zip(active, host[n_parts + 1 : n_parts + 1 + n_off])})
        if cosines is not None:
            self.weights.observe(step, cosines)
            if self.report:
                self.report(self.weights.metrics(cosines))
        metrics.update(self.weights.metrics())
        return UpdateResult(host[n_parts + 1 + n_off :].astype(np.float32), metrics)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "task_weights": self.weights.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.weights.load_state_dict(state["task_weights"])
