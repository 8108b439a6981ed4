"""Learning targets of EfficientZero for a batch of unroll windows.

A window starts at step t of a learning episode (one that ends at a life loss, a game over or the
frame cap) and covers the unroll positions t + k, k = 0..K. ``steps_left`` = T - t counts the
transitions from t to the episode's end; the episode's last observation (row T) has no action.
Positions past the end are padding: value target 0, no policy target, value prefix held constant
and consistency masked, as in EfficientZero. All functions are plain numpy on gathered arrays.
"""

from __future__ import annotations

import numpy as np


def learning_rewards(raw: np.ndarray, clip: bool) -> np.ndarray:
    """Rewards the agent learns from: sign-clipped when ``clip`` (Atari), raw otherwise; float32, same shape."""
    return np.sign(raw).astype(np.float32) if clip else raw.astype(np.float32)


def off_policy_td_steps(age: np.ndarray, td_steps: int, age_interval: int, min_td_steps: int = 1) -> np.ndarray:
    """EfficientZero's off-policy correction: older data bootstraps sooner.

    Args:
        age: int [B] environment steps since each window's first transition was collected.
        td_steps: the largest n (5).
        age_interval: n drops by one every this many steps of age (30,000).
        min_td_steps: the smallest n (1).

    Returns:
        int64 [B] n = clip(td_steps - age // age_interval, min_td_steps, td_steps).
    """
    return np.clip(td_steps - np.asarray(age, dtype=np.int64) // age_interval, min_td_steps, td_steps)


def value_targets(
    rewards: np.ndarray,
    bootstrap_values: np.ndarray,
    steps_left: np.ndarray,
    terminal: np.ndarray,
    td: np.ndarray,
    discount: float,
    num_unroll: int,
) -> np.ndarray:
    """n-step value targets z_k = sum_{i<n_k} g^i r_{t+k+i} + g^{n_k} v(row t + k + n_k).

    n_k = min(n, steps_left - k) so the sum stops at the episode's end; the bootstrap term is dropped
    when the episode ended in a terminal state (life loss or game over) and that state is the
    bootstrap row, and kept for a truncated episode. Positions past the last row get 0.

    Args:
        rewards: float [B, W] learning rewards of transitions t, t+1, ... (W >= K + max n; entries
            past the episode's end are ignored).
        bootstrap_values: float [B, K + 1] the target network's value of row min(t + k + n, end)
            (``xtra_bench.data.windows.Windows.bootstrap``; any number where the position is past
            the end or bootstraps a terminal).
        steps_left: int [B] transitions from t to the end of the episode.
        terminal: bool [B] the episode ended in a terminal state.
        td: int [B] n of each window.
        discount: g.
        num_unroll: K.

    Returns:
        float32 [B, K + 1] value targets.
    """
    batch, width = rewards.shape
    if width < num_unroll + int(np.max(td)):
        raise ValueError(f"rewards cover {width} transitions; the targets need K + max n = {num_unroll + int(np.max(td))}")
    steps_left = np.asarray(steps_left)[:, None]
    td = np.asarray(td)[:, None]
    k = np.arange(num_unroll + 1)[None, :]
    n = np.clip(np.minimum(td, steps_left - k), 0, None)  # [B, K+1]
    # Reward i of position k is transition k + i; it counts when i < n_k.
    i = np.arange(width)[None, None, :]
    index = np.minimum(k[..., None] + i, width - 1)  # [1, K+1, W]
    gathered = np.take_along_axis(rewards[:, None, :], np.broadcast_to(index, (batch, num_unroll + 1, width)), axis=2)
    weights = np.where(i < n[..., None], discount ** i.astype(np.float64), 0.0)
    reward_sum = (gathered * weights).sum(-1)
    ends_at_terminal = np.asarray(terminal)[:, None] & (k + n == steps_left)
    bootstrap = np.where(ends_at_terminal, 0.0, discount ** n.astype(np.float64) * bootstrap_values)
    return np.where(k <= steps_left, reward_sum + bootstrap, 0.0).astype(np.float32)


def bootstrap_needed(steps_left: np.ndarray, terminal: np.ndarray, td: np.ndarray, num_unroll: int) -> np.ndarray:
    """Which positions' value targets use their bootstrap value (the rule of ``value_targets``).

    Position k needs it when it lies inside the episode (k <= steps_left) and its n-step return
    does not stop at a terminal end; elsewhere the target network's value is never read, so
    reanalysis skips those rows.

    Args:
        steps_left: int [B]; terminal: bool [B]; td: int [B] n of each window; num_unroll: K.

    Returns:
        bool [B, K + 1].
    """
    steps_left = np.asarray(steps_left)[:, None]
    k = np.arange(num_unroll + 1)[None, :]
    n = np.clip(np.minimum(np.asarray(td)[:, None], steps_left - k), 0, None)
    return (k <= steps_left) & ~(np.asarray(terminal)[:, None] & (k + n == steps_left))


def value_prefix_targets(rewards: np.ndarray, steps_left: np.ndarray, horizon: int, num_unroll: int) -> np.ndarray:
    """Value-prefix targets: undiscounted reward sums since the last LSTM reset.

    The prediction after k + 1 actions (dynamics step k + 1) targets the sum of rewards t + s .. t + k,
    with s = horizon * (k // horizon) the last reset point; rewards past the episode's end count 0,
    so the prefix is held there.

    Args:
        rewards: float [B, W] learning rewards of transitions t, t+1, ... (W >= K).
        steps_left: int [B] transitions from t to the end of the episode.
        horizon: the reset interval of the value-prefix LSTM (5).
        num_unroll: K.

    Returns:
        float32 [B, K] value-prefix targets.
    """
    k = np.arange(num_unroll)
    live = rewards[:, :num_unroll] * (k[None, :] < np.asarray(steps_left)[:, None])
    prefix = np.zeros_like(live, dtype=np.float32)
    running = np.zeros(live.shape[0], dtype=np.float32)
    for j in range(num_unroll):
        if j % horizon == 0:
            running = np.zeros_like(running)
        running = running + live[:, j]
        prefix[:, j] = running
    return prefix


def unroll_masks(steps_left: np.ndarray, num_unroll: int) -> tuple[np.ndarray, np.ndarray]:
    """Which unroll positions carry a policy target, and which the value, value-prefix and consistency losses.

    Args:
        steps_left: int [B] transitions from t to the end of the episode.
        num_unroll: K.

    Returns:
        policy_mask: float32 [B, K + 1], 1 where position t + k has an action (k < steps_left).
        unroll_mask: float32 [B, K], entry k - 1 is 1 where the observation t + k exists (k <= steps_left):
            EfficientZero masks the value, value-prefix, policy and consistency losses of unroll step k with it.
    """
    steps_left = np.asarray(steps_left)[:, None]
    k = np.arange(num_unroll + 1)[None, :]
    return (k < steps_left).astype(np.float32), (k[:, 1:] <= steps_left).astype(np.float32)
