"""The task weights eta_i of the offline tasks: DESIGN.md's gradient-cosine rule (the paper's Appendix B).

Updates are numbered from 0 (the learner's count before the update). Every eta is
``initial_weight`` until the first window ends. Windows open at ``start`` and then every ``cycle``
updates and last ``window`` updates: update s is a window step when s >= start and
(s - start) % cycle < window. On each window step the learner measures, on that step's batches,
cos(grad of the target loss, grad of task i's loss) over the shared parameters, each gradient
first clamped element-wise to +-``clamp``; a cosine above ``threshold`` counts. After the window's
last step, eta_i = round((start_count + count_i) / (start_count + window), decimals), used from the
next update on and held until the next window ends.

XTRA's code (``pcgrad_amp.py``) starts both of its counters, the steps above the threshold and the
steps seen, at 1 (``start_count`` = 1: a task that never agrees still gets 1/501) and clamps every
gradient to its max_grad_norm (5) before the cosine; both are settings here (0 gives the plain rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from baselines.xtra.config import XtraConfig

Gradients = Sequence[torch.Tensor]
"""One gradient per shared parameter, in a fixed parameter order (zeros where a loss does not reach one)."""


def flatten(grads: Gradients) -> torch.Tensor:
    """The gradients of every shared parameter as one float64 vector [P]."""
    return torch.cat([g.reshape(-1) for g in grads]).double()


def gradient_cosines(target: Gradients, tasks: Sequence[Gradients], clamp: float = 0.0) -> np.ndarray:
    """Cosine similarity between the flattened target gradient and each task's flattened gradient.

    Args:
        target: the target loss's gradient, one tensor per shared parameter.
        tasks: K gradients in the same parameter order.
        clamp: every gradient is first clamped element-wise to [-clamp, clamp] (0: not clamped).

    Returns:
        float64 [K]; 0 where either gradient is zero.
    """
    if not tasks:
        return np.zeros(0)

    def flat(grads: Gradients) -> torch.Tensor:
        vector = flatten(grads)
        return vector.clamp(-clamp, clamp) if clamp > 0 else vector

    t = flat(target)
    matrix = torch.stack([flat(g) for g in tasks])  # [K, P]
    cosines = (matrix @ t) / (matrix.norm(dim=1) * t.norm()).clamp_min(1e-30)
    # One transfer for all K values: the gradients may live on a GPU.
    return cosines.cpu().numpy()


class TaskWeights:
    """The eta_i of K offline tasks and the window counters behind them.

    Args:
        tasks: names of the offline tasks (their games), in the learner's order.
        adaptive: apply the rule; False keeps every eta at ``initial``.
        initial: eta before the first window ends.
        start, cycle, window, threshold, decimals, start_count: the rule's settings (see the module docstring).
    """

    def __init__(
        self,
        tasks: Sequence[str],
        *,
        adaptive: bool = True,
        initial: float = 1.0,
        start: int = 10_000,
        cycle: int = 5_000,
        window: int = 500,
        threshold: float = 0.1,
        decimals: int = 2,
        start_count: int = 0,
    ):
        self.tasks = tuple(tasks)
        self.adaptive = adaptive
        self.start, self.cycle, self.window = start, cycle, window
        self.threshold, self.decimals, self.start_count = threshold, decimals, start_count
        self._eta = np.full(len(self.tasks), float(initial))
        self._counts = np.full(len(self.tasks), start_count, dtype=np.int64)

    @classmethod
    def from_config(cls, tasks: Sequence[str], cfg: XtraConfig) -> TaskWeights:
        return cls(
            tasks,
            adaptive=cfg.adaptive_weights,
            initial=cfg.initial_weight,
            start=cfg.weights_start,
            cycle=cfg.weights_cycle,
            window=cfg.weights_window,
            threshold=cfg.cosine_threshold,
            decimals=cfg.weight_decimals,
            start_count=cfg.count_start,
        )

    @property
    def eta(self) -> np.ndarray:
        """float64 [K]: the weights the next update uses."""
        return self._eta.copy()

    def in_window(self, step: int) -> bool:
        """Whether update ``step`` measures gradient cosines."""
        return self.adaptive and step >= self.start and (step - self.start) % self.cycle < self.window

    def observe(self, step: int, cosines: np.ndarray) -> bool:
        """Counts one window step's cosines; returns True when this step closed the window and set new weights.

        Args:
            step: the update the cosines were measured on (a window step).
            cosines: float [K], cos(target gradient, task i gradient).

        Raises:
            ValueError: ``step`` is not a window step, or K does not match.
        """
        cosines = np.asarray(cosines, dtype=np.float64)
        if not self.in_window(step):
            raise ValueError(f"update {step} is not in a gradient-cosine window")
        if cosines.shape != self._eta.shape:
            raise ValueError(f"expected {len(self._eta)} cosines, got shape {cosines.shape}")
        self._counts += cosines > self.threshold
        if (step - self.start) % self.cycle != self.window - 1:
            return False
        self._eta = np.round(self._counts / (self.start_count + self.window), self.decimals)
        self._counts[:] = self.start_count
        return True

    def metrics(self, cosines: np.ndarray | None = None) -> dict[str, float]:
        """``{"eta/<task>": eta_i}`` for every task, plus ``"cos/<task>"`` when cosines are given."""
        out = {f"eta/{name}": float(e) for name, e in zip(self.tasks, self._eta)}
        if cosines is not None:
            out.update({f"cos/{name}": float(c) for name, c in zip(self.tasks, cosines)})
        return out

    def state_dict(self) -> dict:
        return {"eta": self._eta.tolist(), "counts": self._counts.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self._eta = np.asarray(state["eta"], dtype=np.float64)
        self._counts = np.asarray(state["counts"], dtype=np.int64)
