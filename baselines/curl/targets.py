"""Rainbow's learning targets: n-step returns over a replay window and the C51 projection.

The n-step target of transition t is R = sum_{k<m} g^k r_{t+k} + g^m Z(s_{t+m}), with m = min(n,
steps to the episode's end); the bootstrap term is dropped when the episode ended in a terminal
state (game over or life loss) at t + m, and kept for an episode truncated by the frame cap.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


class NStepTargets(NamedTuple):
    """n-step returns of a batch of start transitions.

    Attributes:
        returns: float32 [B] discounted reward sums of the first m transitions.
        offsets: int64 [B] m, the offset from t of the state that bootstraps the return.
        bootstrap_discount: float32 [B] g^m, or 0 where the return ends at a terminal state.
    """

    returns: np.ndarray
    offsets: np.ndarray
    bootstrap_discount: np.ndarray


def nstep_targets(rewards: np.ndarray, steps_left: np.ndarray, terminal: np.ndarray, discount: float) -> NStepTargets:
    """n-step returns of windows that start at transitions t (n = the window's width).

    Args:
        rewards: float [B, n] learning rewards of transitions t .. t+n-1 (entries at or past the
            episode's end are ignored).
        steps_left: int [B] transitions from t to the episode's last row (>= 1).
        terminal: bool [B] the episode ended in a terminal state (not at the frame cap).
        discount: g.

    Returns:
        The returns, bootstrap offsets and bootstrap discounts.
    """
    n = rewards.shape[1]
    steps_left = np.asarray(steps_left, np.int64)
    m = np.minimum(n, steps_left)
    k = np.arange(n)[None, :]
    returns = (np.where(k < m[:, None], rewards, 0.0) * discount ** k.astype(np.float64)).sum(1)
    ends_at_terminal = np.asarray(terminal, bool) & (m == steps_left)
    bootstrap_discount = np.where(ends_at_terminal, 0.0, discount ** m.astype(np.float64))
    return NStepTargets(returns.astype(np.float32), m, bootstrap_discount.astype(np.float32))


def project_distribution(
    next_probs: torch.Tensor, returns: torch.Tensor, bootstrap_discount: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """C51's projection of the distribution of R + g^m Z onto the fixed support.

    Each atom z_j of the bootstrapped distribution moves to Tz_j = clamp(R + d z_j, v_min, v_max)
    (d = ``bootstrap_discount``; 0 puts all mass at R) and its probability is split between the
    two neighbouring atoms in proportion to closeness; an atom landing exactly on the support keeps
    all its mass there.

    Args:
        next_probs: float [B, N] probabilities of the bootstrap distribution.
        returns: float [B] n-step reward sums R.
        bootstrap_discount: float [B] d.
        support: float [N] evenly spaced atoms from v_min to v_max.

    Returns:
        float [B, N] the projected target distribution (rows sum to the rows of ``next_probs``).
    """
    num_atoms = support.shape[0]
    v_min, v_max = support[0], support[-1]
    delta = (v_max - v_min) / (num_atoms - 1)
    tz = (returns[:, None] + bootstrap_discount[:, None] * support[None, :]).clamp(v_min, v_max)
    b = ((tz - v_min) / delta).clamp(0, num_atoms - 1)
    lower = b.floor().long()
    upper = (lower + 1).clamp(max=num_atoms - 1)
    upper_weight = b - lower.to(b.dtype)  # 0 when b lands on an atom: all mass stays on ``lower``
    target = torch.zeros_like(next_probs)
    target.scatter_add_(1, lower, next_probs * (1 - upper_weight))
    target.scatter_add_(1, upper, next_probs * upper_weight)
    return target
