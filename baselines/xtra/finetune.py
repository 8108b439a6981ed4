"""Stage 2's update: the target's EfficientZero loss plus the weighted offline tasks' losses.

Per row r the EfficientZero loss l_r (``LossOutput.per_sample``) is weighted by its importance
weight w_r; L_T is the mean of w_r l_r over the B target rows, L_i the mean over task i's n rows
(teacher targets, ``offline``). Two normalisations (``XtraConfig.loss_normalisation``):

- ``release`` (XTRA's code, the default): the B target rows and all K x n offline rows are one
  batch of N = B + K n rows in one forward pass, so batch norm's statistics mix them, and the loss
  is the mean over the N rows of (eta of the row's task, 1 for the target) x w_r l_r
  = (B / N) L_T + (n / N) sum_i eta_i L_i, i.e. 0.5 L_T + (0.5 / K) sum_i eta_i L_i at 256 + 256
  rows. Every task's rows are present on every step, eta 0 included.
- ``eq1`` (the paper's Eq. 1 literally): L_T + sum_i eta_i L_i, the target batch in its own forward
  pass (with every eta at 0 the update is exactly EfficientZero's) and the offline rows of the
  tasks with eta > 0 in another.

On a gradient-cosine window step (``task_weights``) every task is drawn; the gradients of L_T and
of each L_i are taken separately from the same forward pass, their cosines counted, and the
update's gradient is assembled from them with the normalisation's coefficients (K extra backward
passes, no extra forward pass). The offline rows' priorities are set from the same forward pass:
the finetuned model's value error |v_0 - z_0| on each row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.learner import Learner, UpdateResult
from baselines.efficientzero.losses import LOSS_PARTS, TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet, scale_gradient
from baselines.efficientzero.schedule import learning_rate, priority_beta
from baselines.xtra.config import XtraConfig, equal_share
from baselines.xtra.offline import OfflineBatch, OfflineTasks
from baselines.xtra.task_weights import TaskWeights, gradient_cosines

WindowReport = Callable[[dict[str, float]], None]
"""Receives ``{"cos/<Game>": ..., "eta/<Game>": ...}`` after every window step."""



def concat_batches(first: TrainBatch, second: TrainBatch) -> TrainBatch:
    """The rows of ``first`` then those of ``second``, field by field (same devices and trailing shapes)."""
    return TrainBatch(*(torch.cat([a, b]) for a, b in zip(first, second)))


class CrossTaskLearner(Learner):
    """EfficientZero's learner with concurrent offline tasks weighted by eta_i.

    Args:
        net: the network being finetuned (on its device).
        cfg: EfficientZero settings (optimiser, loss, schedule, priority exponent).
        xcfg: XTRA settings (offline batch, normalisation, task-weight rule, frozen representation).
        tasks: the offline tasks, or None for none (then this is EfficientZero's learner).
        report: called with every window step's cosines and weights.
        seed: seeds the augmentation generator (shared by the target and offline batches, in that order).

    The offline draws anneal beta on the run schedule of the target replay (``priority_beta``).
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
        self._restored: dict | None = None  # offline state of a checkpoint loaded before its tasks are attached
        self.attach(tasks)

    def attach(self, tasks: OfflineTasks | None) -> None:
        """Sets the offline tasks: fresh weights (every eta at ``initial_weight``), or a loaded checkpoint's weights and draws."""
        self.tasks = tasks
        games = tasks.games if tasks is not None else ()
        self.weights = TaskWeights.from_config(games, self.xcfg)
        self.rows_per_task = equal_share(self.xcfg.offline_batch_size, len(games)) if games else 0
        restored = self._restored
        if restored is not None and tasks is not None and list(restored["games"]) == list(games):
            self.weights.load_state_dict(restored["task_weights"])
            if restored["offline"] is not None:
                tasks.load_state_dict(restored["offline"])
            self._restored = None

    def _shared_parameters(self) -> list[torch.nn.Parameter]:
        # One network serves the target and every offline task: all its trainable parameters are shared.
        return [p for p in self.net.parameters() if p.requires_grad]

    def _window_gradients(self, target_loss: torch.Tensor, task_losses: torch.Tensor, coefficients: np.ndarray) -> np.ndarray:
        """Sets ``.grad`` to sum_j coefficients[j] g_j over [target, task 1..K] from separately taken gradients; returns the K cosines.

        The cosines use the clamped gradients (``cosine_grad_clamp``), the update the unclamped ones.
        """
        params = self._shared_parameters()
        losses = [target_loss, *task_losses]

        def grad(j: int) -> list[torch.Tensor]:
            grads = torch.autograd.grad(losses[j], params, retain_graph=j + 1 < len(losses), allow_unused=True)
            return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]

        grads = [grad(j) for j in range(len(losses))]
        for k, p in enumerate(params):
            p.grad = sum(float(c) * g[k] for c, g in zip(coefficients, grads))
        return gradient_cosines(grads[0], grads[1:], clamp=self.xcfg.cosine_grad_clamp)

    def update(self, batch: TrainBatch) -> UpdateResult:
        """One finetuning step on the target ``batch`` (and offline batches drawn here); priorities of ``batch`` out."""
        cfg, xcfg, step = self.cfg, self.xcfg, self.steps
        lr = learning_rate(step, cfg, self.run)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        if xcfg.freeze_representation:
            self.net.representation.eval()  # frozen means its batch-norm statistics too
        eta = self.weights.eta
        window = len(eta) > 0 and self.weights.in_window(step)
        release = xcfg.loss_normalisation == "release"
        if self.tasks is None:
            active = []
        elif release or window:
            active = list(range(len(eta)))
        else:
            active = [i for i in range(len(eta)) if eta[i] > 0]
        offline = self.tasks.sample(self.rows_per_task, active, priority_beta(step, cfg, self.run)) if active else None
        b = batch.weights.shape[0]
        with self._autocast(batch.frames.device):
            if offline is not None and release:
                out = self._loss(self.net, concat_batches(batch, offline.batch), cfg, generator=self.generator)
                weighted = out.per_sample * torch.cat([batch.weights, offline.batch.weights])
                target_rows, offline_rows = weighted[:b], weighted[b:]
                priorities, offline_priorities = out.priorities[:b], out.priorities[b:]
            else:
                out = self._loss(self.net, batch, cfg, generator=self.generator)
                target_rows, priorities = out.per_sample * batch.weights, out.priorities
                if offline is not None:
                    off = self._loss(self.net, offline.batch, cfg, generator=self.generator)
                    offline_rows, offline_priorities = off.per_sample * offline.batch.weights, off.priorities
        target_loss = target_rows.mean()
        if offline is not None:
            task_losses = offline_rows.view(len(active), self.rows_per_task).mean(dim=1)
            # (B / N) L_T + (n / N) sum eta_i L_i is the mean over all N rows of row weight x row loss.
            total = b + len(active) * self.rows_per_task
            target_coef, task_coef = (b / total, self.rows_per_task / total) if release else (1.0, 1.0)
            coefficients = np.concatenate([[target_coef], task_coef * eta[active]])
        self.optimizer.zero_grad(set_to_none=True)
        cosines = None
        if window:
            scaled = [scale_gradient(target_loss, cfg.loss_grad_scale), scale_gradient(task_losses, cfg.loss_grad_scale)]
            cosines = self._window_gradients(scaled[0], scaled[1], coefficients)
            objective = (torch.as_tensor(coefficients, dtype=task_losses.dtype, device=task_losses.device) * torch.cat([target_loss.view(1), task_losses])).sum()
        else:
            if offline is None:
                objective = target_loss
            else:
                weights = torch.as_tensor(coefficients[1:], dtype=task_losses.dtype, device=task_losses.device)
                objective = target_coef * target_loss + (weights * task_losses).sum()
            scale_gradient(objective, cfg.loss_grad_scale).backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.steps += 1

        logged = [out.parts.float(), grad_norm.float().view(1), objective.detach().float().view(1), target_loss.detach().float().view(1)]
        if offline is not None:
            logged += [task_losses.detach().float(), offline_priorities.float()]
        host = torch.cat([*logged, priorities.float()]).cpu().numpy()
        n_parts, n_off = len(LOSS_PARTS), len(active)
        metrics = dict(zip(LOSS_PARTS, host[:n_parts].tolist()))
        # The parts are over the rows of the forward pass (target and offline rows under ``release``);
        # total_loss is the objective minimised and loss/target L_T, both before the gradient scale.
        metrics.update(lr=lr, grad_norm=float(host[n_parts]), total_loss=float(host[n_parts + 1]))
        metrics["loss/target"] = float(host[n_parts + 2])
        head = n_parts + 3
        if offline is not None:
            games = self.weights.tasks
            metrics.update({f"loss/{games[i]}": float(v) for i, v in zip(active, host[head : head + n_off])})
            head += n_off
            if self.tasks.prioritised:
                self.tasks.update_priorities(offline, host[head : head + n_off * self.rows_per_task])
            head += n_off * self.rows_per_task
        if cosines is not None:
            self.weights.observe(step, cosines)
            if self.report:
                self.report(self.weights.metrics(cosines))
        metrics.update(self.weights.metrics())
        return UpdateResult(host[head:].astype(np.float32), metrics)

    def state_dict(self) -> dict:
        offline = self.tasks.state_dict() if self.tasks is not None else None
        games = list(self.tasks.games) if self.tasks is not None else []
        return {**super().state_dict(), "games": games, "task_weights": self.weights.state_dict(), "offline": offline}

    def load_state_dict(self, state: dict) -> None:
        """Restores the optimiser and counters now; the task weights and offline draws now or when the same tasks are attached."""
        super().load_state_dict(state)
        self._restored = {"games": state["games"], "task_weights": state["task_weights"], "offline": state["offline"]}
        self.attach(self.tasks)
