"""Prioritised replay of online learning episodes, held in memory as flat step-aligned rows.

The layout follows the dataset format: a learning episode of T transitions is T+1 rows (the last
row holds its final frame and no action), preceded here by ``frame_stack - 1`` history rows: the
frames the environment stacked before the episode's first observation (after a life loss those
are real frames of the running game, at a game's start the first frame repeated). Only complete
episodes are added, so every window is final when it is drawn.

Priorities: P(i) = p_i^alpha / sum_j p_j^alpha over transition rows; new episodes enter at the
largest priority seen; importance weights (N P(i))^-beta are normalised by the batch maximum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from baselines.efficientzero.targets import bootstrap_offsets, learning_rewards, off_policy_td_steps


class WindowRows(NamedTuple):
    """Row indices of a batch of unroll windows (B windows, S stacked frames, K unroll steps).

    Attributes:
        frames: int64 [B, S + K], rows of the frames t-S+1 .. t+K (clamped to the episode's rows).
        positions: int64 [B, K + 1], rows of positions t..t+K (clamped to the episode's last row).
        rewards: int64 [B, width], rows of transitions t, t+1, ... (clamped; mask with ``steps_left``).
        steps_left: int64 [B], transitions from t to the episode's last row.
    """

    frames: np.ndarray
    positions: np.ndarray
    rewards: np.ndarray
    steps_left: np.ndarray


def window_rows(start: np.ndarray, first: np.ndarray, last: np.ndarray, stack: int, num_unroll: int, width: int) -> WindowRows:
    """The one place that turns start rows into the rows of their stacks, unroll and n-step windows.

    Windows never leave their episode: frames before ``first`` (the earliest stored frame of the
    episode) and positions after ``last`` (its final row) are clamped to those rows, which repeats
    the first or final frame, as the dataset sampler does.

    Args:
        start: int [B] start rows t (transition rows).
        first: int [B] earliest frame row of each window's episode (history rows included).
        last: int [B] final row of each window's episode.
        stack: S.
        num_unroll: K.
        width: transitions covered by the reward window (K + the largest n).

    Returns:
        The rows, see ``WindowRows``.
    """
    start, first, last = (np.asarray(a, dtype=np.int64)[:, None] for a in (start, first, last))
    frames = np.clip(start + np.arange(1 - stack, num_unroll + 1), first, last)
    positions = np.minimum(start + np.arange(num_unroll + 1), last)
    rewards = np.minimum(start + np.arange(width), np.maximum(last - 1, start))
    return WindowRows(frames, positions, rewards, (last - start)[:, 0])


class ReplaySample(NamedTuple):
    """A drawn batch before reanalysis (host arrays; B windows, K unroll steps, A actions).

    Attributes:
        rows: int64 [B] start rows (give them back to ``update_priorities``).
        frames: uint8 [B, S + K, H, W, C] frames t-S+1 .. t+K.
        actions: int64 [B, K] actions t..t+K-1, uniformly random past the episode's end.
        rewards: float32 [B, K + max n] learning rewards of transitions t, t+1, ... (0 past the end).
        steps_left: int64 [B] transitions from t to the episode's end.
        terminal: bool [B] the episode ended in a terminal state (no bootstrap from its last row).
        td: int64 [B] the off-policy corrected n of each window.
        bootstrap_frames: uint8 [B, K + 1, S, H, W, C] stacks whose value bootstraps each position.
        search_policy: float32 [B, K + 1, A] acting's search policy (0 past the episode's end).
        weights: float32 [B] importance-sampling weights, max-normalised.
    """

    rows: np.ndarray
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    steps_left: np.ndarray
    terminal: np.ndarray
    td: np.ndarray
    bootstrap_frames: np.ndarray
    search_policy: np.ndarray
    weights: np.ndarray


class PrioritizedReplay:
    """Online episodes in preallocated row arrays, oldest episodes dropped when full.

    Args:
        frame_shape: one frame (H, W, C).
        num_actions: A, width of the stored search policies.
        capacity: transitions kept (rows are allocated for them plus per-episode overhead).
        frame_stack, num_unroll, td_steps, td_age_interval, min_td_steps: window layout and the
            off-policy correction (see ``EfficientZeroConfig``).
        alpha: priority exponent.
        clip_rewards: learn from sign-clipped rewards.
        seed: seeds draws and padding actions.
    """

    def __init__(
        self,
        frame_shape: tuple[int, ...],
        num_actions: int,
        capacity: int,
        *,
        frame_stack: int,
        num_unroll: int,
        td_steps: int,
        td_age_interval: int,
        min_td_steps: int,
        alpha: float,
        clip_rewards: bool,
        seed: int = 0,
    ):
        self.capacity = capacity
        self.stack, self.num_unroll = frame_stack, num_unroll
        self.td_steps, self.td_age_interval, self.min_td_steps = td_steps, td_age_interval, min_td_steps
        self.alpha, self.clip_rewards = alpha, clip_rewards
        self.num_actions = num_actions
        # Every episode costs S rows beyond its transitions; episodes are rarely shorter than 8 steps.
        rows = capacity + capacity // 8 * frame_stack + 1024
        self.frames = np.zeros((rows, *frame_shape), dtype=np.uint8)
        self.actions = np.zeros(rows, dtype=np.int64)
        self.rewards = np.zeros(rows, dtype=np.float32)
        self.policies = np.zeros((rows, num_actions), dtype=np.float32)
        self.env_steps = np.zeros(rows, dtype=np.int64)
        self.priorities = np.zeros(rows, dtype=np.float64)  # 0 on history and final rows: never drawn
        self.first = np.zeros(rows, dtype=np.int64)  # per row: its episode's earliest frame row
        self.last = np.zeros(rows, dtype=np.int64)  # per row: its episode's final row
        self.terminal = np.zeros(rows, dtype=bool)  # per row: its episode ended in a terminal state
        self.size = 0  # rows in use
        self.num_transitions = 0
        self.max_priority = 1.0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.num_transitions

    def add_episode(
        self,
        frames: np.ndarray,
        actions: np.ndarray,
        raw_rewards: np.ndarray,
        policies: np.ndarray,
        env_steps: np.ndarray,
        terminal: bool,
    ) -> None:
        """Appends one complete learning episode of T transitions.

        Args:
            frames: uint8 [S - 1 + T + 1, H, W, C]: the history frames, then the frame of every observation.
            actions: int [T] actions taken (indices into the policy head).
            raw_rewards: float [T] raw rewards.
            policies: float [T, A] acting's search policy at each step.
            env_steps: int [T] the agent's env-step counter when each action was taken.
            terminal: the episode ended at a life loss or game over (not at the frame cap).
        """
        steps = len(actions)
        rows = len(frames)
        if rows != self.stack + steps or steps == 0:
            raise ValueError(f"an episode of {steps} transitions needs {self.stack + steps} frames, got {rows}")
        while self.num_transitions + steps > self.capacity or self.size + rows > len(self.frames):
            self._drop_oldest()
        lo, t0, hi = self.size, self.size + self.stack - 1, self.size + rows
        self.frames[lo:hi] = frames
        self.actions[t0 : t0 + steps] = actions
        self.rewards[t0 : t0 + steps] = learning_rewards(np.asarray(raw_rewards), self.clip_rewards)
        self.policies[t0 : t0 + steps] = policies
        self.env_steps[t0 : t0 + steps] = env_steps
        self.priorities[lo:hi] = 0.0
        self.priorities[t0 : t0 + steps] = self.max_priority
        self.first[lo:hi], self.last[lo:hi], self.terminal[lo:hi] = lo, hi - 1, terminal
        self.size = hi
        self.num_transitions += steps

    def _drop_oldest(self) -> None:
        """Drops the oldest tenth of the transitions (whole episodes) and compacts the arrays."""
        if self.size == 0:
            raise ValueError("an episode longer than the replay's capacity cannot be stored")
        cut = 0
        target = max(1, self.num_transitions // 10)
        dropped = 0
        while dropped < target and cut < self.size:
            end = self.last[cut] + 1
            dropped += end - cut - self.stack
            cut = end
        for array in (self.frames, self.actions, self.rewards, self.policies, self.env_steps, self.priorities, self.terminal):
            array[: self.size - cut] = array[cut : self.size]
        for array in (self.first, self.last):
            array[: self.size - cut] = array[cut : self.size] - cut
        self.size -= cut
        self.num_transitions -= dropped

    def sample(self, batch_size: int, beta: float, env_step: int) -> ReplaySample:
        """Draws ``batch_size`` windows by priority.

        Args:
            batch_size: B.
            beta: importance-sampling exponent.
            env_step: the agent's current env-step counter (for the age of each window).
        """
        scaled = self.priorities[: self.size] ** self.alpha
        cdf = np.cumsum(scaled)
        start = np.searchsorted(cdf, self.rng.random(batch_size) * cdf[-1], side="right")
        start = np.minimum(start, self.size - 1)
        probability = scaled[start] / cdf[-1]
        weights = (self.num_transitions * probability) ** -beta
        td = off_policy_td_steps(env_step - self.env_steps[start], self.td_steps, self.td_age_interval, self.min_td_steps)
        k = self.num_unroll
        rows = window_rows(start, self.first[start], self.last[start], self.stack, k, k + self.td_steps)
        steps_left = rows.steps_left
        moves = np.arange(k)[None, :] < steps_left[:, None]
        padding = self.rng.integers(0, self.num_actions, size=(batch_size, k))
        live = np.arange(rows.rewards.shape[1])[None, :] < steps_left[:, None]
        boot = start[:, None] + bootstrap_offsets(steps_left, td, k)  # [B, K+1]
        boot_frames = np.maximum(boot[..., None] + np.arange(1 - self.stack, 1), self.first[start][:, None, None])
        has_action = np.arange(k + 1)[None, :] < steps_left[:, None]
        return ReplaySample(
            rows=start,
            frames=self.frames[rows.frames],
            actions=np.where(moves, self.actions[rows.positions[:, :-1]], padding),
            rewards=np.where(live, self.rewards[rows.rewards], 0.0).astype(np.float32),
            steps_left=steps_left,
            terminal=self.terminal[start],
            td=td,
            bootstrap_frames=self.frames[boot_frames],
            search_policy=self.policies[rows.positions] * has_action[..., None],
            weights=(weights / weights.max()).astype(np.float32),
        )

    def update_priorities(self, rows: np.ndarray, priorities: np.ndarray) -> None:
        """Sets new priorities of start rows drawn by ``sample`` (rows dropped since are skipped by the caller)."""
        self.priorities[rows] = priorities
        self.max_priority = max(self.max_priority, float(np.max(priorities)))

    def state_dict(self) -> dict:
        """Every array in use plus counters and the RNG state, for checkpoints."""
        n = self.size
        arrays = {
            name: getattr(self, name)[:n].copy()
            for name in ("frames", "actions", "rewards", "policies", "env_steps", "priorities", "first", "last", "terminal")
        }
        return {**arrays, "num_transitions": self.num_transitions, "max_priority": self.max_priority, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        n = len(state["frames"])
        for name in ("frames", "actions", "rewards", "policies", "env_steps", "priorities", "first", "last", "terminal"):
            getattr(self, name)[:n] = np.asarray(state[name])
        self.size = n
        self.num_transitions = int(state["num_transitions"])
        self.max_priority = float(state["max_priority"])
        self.rng.bit_generator.state = state["rng"]
