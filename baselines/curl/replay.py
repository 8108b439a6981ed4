"""Prioritised replay of complete learning episodes, with n-step returns built at sampling time.

Rows follow the dataset format: a learning episode of T transitions is T+1 rows (the last holds
its final frame and no action), preceded by ``frame_stack - 1`` history rows: the frames the env
had stacked before the episode's first observation (real frames after a life loss, the first frame
repeated at a game's start). Stacks and n-step windows never leave their episode.

Priorities (DER): P(i) = p_i^alpha / sum_j p_j^alpha over transition rows, p = the row's last
distributional loss; a new episode enters at the largest p^alpha seen; importance weights
(N P(i))^-beta are normalised by the batch maximum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from baselines.curl.config import CurlConfig
from baselines.curl.targets import nstep_targets


class Transitions(NamedTuple):
    """Host arrays of B sampled transitions (S stacked frames).

    Attributes:
        rows: int64 [B] replay rows (give them back to ``update_priorities``).
        obs: uint8 [B, S, *frame] the stacked observation at t.
        actions: int64 [B] head indices of the actions taken at t.
        returns: float32 [B] n-step discounted reward sums.
        bootstrap_discount: float32 [B] discount of the bootstrap distribution (0: none).
        next_obs: uint8 [B, S, *frame] the stacked observation that bootstraps the return.
        weights: float32 [B] importance-sampling weights, max-normalised.
    """

    rows: np.ndarray
    obs: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    bootstrap_discount: np.ndarray
    next_obs: np.ndarray
    weights: np.ndarray


_ARRAYS = ("frames", "actions", "rewards", "priorities", "first", "last", "terminal")


class EpisodeReplay:
    """Online episodes in preallocated row arrays, oldest episodes dropped when full.

    Args:
        frame_shape: one frame (H, W, C).
        capacity: transitions kept (rows are allocated for them plus per-episode overhead).
        frame_stack: S.
        n_step: transitions summed before bootstrapping.
        discount: per-step discount of the returns.
        alpha: priority exponent.
        priority_eps: added to every priority.
        seed: seeds the draws.
    """

    def __init__(
        self,
        frame_shape: tuple[int, ...],
        capacity: int,
        *,
        frame_stack: int,
        n_step: int,
        discount: float,
        alpha: float,
        priority_eps: float,
        seed: int = 0,
    ):
        self.capacity, self.stack, self.n_step, self.discount = capacity, frame_stack, n_step, discount
        self.alpha, self.priority_eps = alpha, priority_eps
        # Every episode costs S rows beyond its transitions; episodes are rarely shorter than 8 steps.
        rows = capacity + capacity // 8 * frame_stack + 1024
        self.frames = np.zeros((rows, *frame_shape), np.uint8)
        self.actions = np.zeros(rows, np.int64)
        self.rewards = np.zeros(rows, np.float32)
        self.priorities = np.zeros(rows, np.float64)  # p^alpha; 0 on history and final rows: never drawn
        self.first = np.zeros(rows, np.int64)  # per row: its episode's earliest frame row
        self.last = np.zeros(rows, np.int64)  # per row: its episode's final row
        self.terminal = np.zeros(rows, bool)  # per row: its episode ended in a terminal state
        self.size = 0
        self.num_transitions = 0
        self.max_priority = 1.0
        self.rng = np.random.default_rng(seed)

    @classmethod
    def for_config(cls, cfg: CurlConfig, frame_shape: tuple[int, ...], capacity: int, seed: int = 0) -> EpisodeReplay:
        """A replay with ``cfg``'s stack, n-step, discount and priority settings."""
        return cls(
            frame_shape,
            capacity,
            frame_stack=cfg.frame_stack,
            n_step=cfg.n_step,
            discount=cfg.discount,
            alpha=cfg.priority_alpha,
            priority_eps=cfg.priority_eps,
            seed=seed,
        )

    def __len__(self) -> int:
        return self.num_transitions

    def add_episode(self, frames: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminal: bool) -> None:
        """Appends one complete learning episode of T transitions.

        Args:
            frames: uint8 [S - 1 + T + 1, *frame]: the history frames, then the frame of every observation.
            actions: int [T] head indices of the actions taken.
            rewards: float [T] learning rewards (clipped by the caller where the protocol clips).
            terminal: the episode ended at a life loss or game over (not at the frame cap).

        An episode longer than the whole capacity keeps its last ``capacity`` transitions.
        """
        steps, rows = len(actions), len(frames)
        if steps == 0 or rows != self.stack + steps:
            raise ValueError(f"an episode of {steps} transitions needs {self.stack + steps} frames, got {rows}")
        if steps > self.capacity:
            cut = steps - self.capacity
            frames, actions, rewards = frames[cut:], actions[cut:], rewards[cut:]
            steps, rows = self.capacity, rows - cut
        while self.num_transitions + steps > self.capacity or self.size + rows > len(self.frames):
            self._drop_oldest()
        lo, t0, hi = self.size, self.size + self.stack - 1, self.size + rows
        self.frames[lo:hi] = frames
        self.actions[lo:hi], self.rewards[lo:hi], self.priorities[lo:hi] = 0, 0.0, 0.0
        self.actions[t0 : t0 + steps] = actions
        self.rewards[t0 : t0 + steps] = rewards
        self.priorities[t0 : t0 + steps] = self.max_priority
        self.first[lo:hi], self.last[lo:hi], self.terminal[lo:hi] = lo, hi - 1, terminal
        self.size = hi
        self.num_transitions += steps

    def _drop_oldest(self) -> None:
        """Drops the oldest tenth of the transitions (whole episodes) and compacts the arrays."""
        cut, dropped, target = 0, 0, max(1, self.num_transitions // 10)
        while dropped < target and cut < self.size:
            end = self.last[cut] + 1
            dropped += end - cut - self.stack
            cut = end
        kept = self.size - cut
        for name in _ARRAYS:
            array = getattr(self, name)
            array[:kept] = array[cut : self.size]
        self.first[:kept] -= cut
        self.last[:kept] -= cut
        self.size = kept
        self.num_transitions -= dropped

    def _stacks(self, rows: np.ndarray) -> np.ndarray:
        """uint8 [B, S, *frame]: the stacked observations ending at ``rows`` (int [B])."""
        window = rows[:, None] + np.arange(1 - self.stack, 1)
        return self.frames[np.maximum(window, self.first[rows][:, None])]

    def gather(self, rows: np.ndarray, weights: np.ndarray) -> Transitions:
        """The transitions starting at ``rows`` (int [B], transition rows) with their n-step targets."""
        rows = np.asarray(rows, np.int64)
        last = self.last[rows]
        reward_rows = np.minimum(rows[:, None] + np.arange(self.n_step), (last - 1)[:, None])
        targets = nstep_targets(self.rewards[reward_rows], last - rows, self.terminal[rows], self.discount)
        return Transitions(
            rows=rows,
            obs=self._stacks(rows),
            actions=self.actions[rows],
            returns=targets.returns,
            bootstrap_discount=targets.bootstrap_discount,
            next_obs=self._stacks(rows + targets.offsets),
            weights=np.asarray(weights, np.float32),
        )

    def sample(self, batch_size: int, beta: float) -> Transitions:
        """Draws ``batch_size`` transitions by priority, with importance weights of exponent ``beta``."""
        cdf = np.cumsum(self.priorities[: self.size])
        rows = np.minimum(np.searchsorted(cdf, self.rng.random(batch_size) * cdf[-1], side="right"), self.size - 1)
        probability = self.priorities[rows] / cdf[-1]
        weights = (self.num_transitions * probability) ** -beta
        return self.gather(rows, weights / weights.max())

    def update_priorities(self, rows: np.ndarray, losses: np.ndarray) -> None:
        """Sets the priorities of sampled rows from their losses (float [B]): p^alpha = (loss + eps)^alpha."""
        scaled = (np.asarray(losses, np.float64) + self.priority_eps) ** self.alpha
        self.priorities[rows] = scaled
        self.max_priority = max(self.max_priority, float(scaled.max()))

    def state_dict(self) -> dict:
        """Every array in use plus counters and the RNG state, for checkpoints."""
        arrays = {name: getattr(self, name)[: self.size].copy() for name in _ARRAYS}
        return {**arrays, "num_transitions": self.num_transitions, "max_priority": self.max_priority, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        size = len(state["frames"])
        for name in _ARRAYS:
            getattr(self, name)[:size] = np.asarray(state[name])
        self.size = size
        self.num_transitions = int(state["num_transitions"])
        self.max_priority = float(state["max_priority"])
        self.rng.bit_generator.state = state["rng"]
