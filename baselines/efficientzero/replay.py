"""Prioritised replay of learning episodes, held in memory as flat step-aligned rows.

The layout follows the dataset format: a learning episode of T transitions is T+1 rows (the last
row holds its final frame and no action), preceded here by ``frame_stack - 1`` history rows: the
frames the environment stacked before the episode's first observation (after a life loss those
are real frames of the running game, at a game's start the first frame repeated). A long episode
arrives in blocks, as EfficientZero's self-play pushes its games every ``history_length`` steps: a
block's first transitions start windows and its last ``num_unroll + td_steps`` only extend them
(they are the next block's first), so every window is final when it is drawn. Windows are cut by
``xtra_bench.data.windows.unroll_windows``, the function the offline dataset sampler uses too.

Priorities: P(i) = p_i^alpha / sum_j p_j^alpha over transition rows; a batch is drawn without
replacement (as EfficientZero's ``np.random.choice(..., replace=False)``); new episodes enter at the
largest priority now in the buffer (1 in an empty one); importance weights (N P(i))^-beta are
normalised by the batch maximum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from baselines.efficientzero.targets import learning_rewards, off_policy_td_steps
from xtra_bench.data.windows import unroll_windows


def draw_without_replacement(weights: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Draws ``count`` distinct indices, each next one with probability proportional to ``weights`` among those left.

    The Gumbel-top-k trick: the ``count`` largest log w_i + Gumbel noise are distributed exactly as
    successive draws without replacement, in O(N) instead of a loop of renormalisations. Entries of
    weight 0 are never drawn.

    Args:
        weights: float [N] non-negative, at least ``count`` of them positive.
        count: indices to draw.
        rng: the generator.

    Returns:
        int64 [count] indices, in draw order.
    """
    positive = int(np.count_nonzero(weights > 0))
    if positive < count:
        raise ValueError(f"cannot draw {count} distinct rows from {positive} with a positive priority")
    with np.errstate(divide="ignore"):
        keys = np.log(weights) + rng.gumbel(size=len(weights))
    top = np.argpartition(-keys, count - 1)[:count]
    return top[np.argsort(-keys[top])].astype(np.int64)


class ReplaySample(NamedTuple):
    """A drawn batch before reanalysis (host arrays; B windows, S stacked frames, K unroll steps, L = td_steps, A actions).

    Attributes:
        rows: int64 [B] start rows (give them back to ``update_priorities``).
        frames: uint8 [B, S + K + L, H, W, C] frames t-S+1 .. t+K+L (clipped to the episode):
            ``frames[:, k : k + S]`` is position k's observation.
        actions: int64 [B, K] actions t..t+K-1, uniformly random past the episode's end.
        rewards: float32 [B, K + L] learning rewards of transitions t, t+1, ... (0 past the end).
        steps_left: int64 [B] transitions from t to the episode's end.
        terminal: bool [B] the episode ended in a terminal state (no bootstrap from its last row).
        td: int64 [B] the off-policy corrected n of each window.
        bootstrap_index: int64 [B, K + 1] column of ``frames`` where the stack whose value
            bootstraps position k starts (``frames[b, i : i + S]``, i = ``bootstrap_index[b, k]``).
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
    bootstrap_index: np.ndarray
    search_policy: np.ndarray
    weights: np.ndarray


class PrioritizedRows:
    """Prioritised draws of unroll windows over flat rows; subclasses fill the row arrays.

    Row arrays (all [R, ...], the first ``size`` rows in use): ``frames`` uint8 [R, H, W, C],
    ``actions`` int64 (policy-head indices), ``rewards`` float32 (learning rewards),
    ``policies`` float32 [R, A] (acting's search policy), ``env_steps`` int64 (agent's step counter
    when the action was taken), ``priorities`` float64 (0: never a start row), ``first`` and
    ``last`` int64 (per row: the earliest frame row its stacks may use and the row that ends its
    learning episode or block), ``terminal`` bool (that end is a terminal state).

    Args:
        num_actions: A, width of the policy head.
        frame_stack, num_unroll, td_steps, td_age_interval, min_td_steps: window layout and the
            off-policy correction (see ``EfficientZeroConfig``).
        alpha: priority exponent.
        seed: seeds draws and padding actions.
    """

    def __init__(
        self,
        num_actions: int,
        *,
        frame_stack: int,
        num_unroll: int,
        td_steps: int,
        td_age_interval: int,
        min_td_steps: int,
        alpha: float,
        seed: int | np.random.SeedSequence = 0,
    ):
        self.num_actions = num_actions
        self.stack, self.num_unroll = frame_stack, num_unroll
        self.td_steps, self.td_age_interval, self.min_td_steps = td_steps, td_age_interval, min_td_steps
        self.alpha = alpha
        self.size = 0  # rows in use
        self.num_transitions = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.num_transitions

    def sample(self, batch_size: int, beta: float, env_step: int) -> ReplaySample:
        """Draws ``batch_size`` windows by priority.

        Args:
            batch_size: B.
            beta: importance-sampling exponent.
            env_step: the agent's current env-step counter (for the age of each window).
        """
        scaled = self.priorities[: self.size] ** self.alpha
        total = scaled.sum()
        start = draw_without_replacement(scaled, batch_size, self.rng)
        probability = scaled[start] / total
        weights = (self.num_transitions * probability) ** -beta
        td = off_policy_td_steps(env_step - self.env_steps[start], self.td_steps, self.td_age_interval, self.min_td_steps)
        k = self.num_unroll
        w = unroll_windows(
            start,
            self.first[start],
            self.last[start],
            frame_stack=self.stack,
            unroll_steps=k,
            n_step=td,
            reward_width=k + self.td_steps,
            lookahead=self.td_steps,
        )
        padding = self.rng.integers(0, self.num_actions, size=(batch_size, k))
        return ReplaySample(
            rows=start,
            frames=self.frames[w.frames],
            actions=np.where(w.live[:, :k], self.actions[w.transitions[:, :k]], padding),
            rewards=np.where(w.live, self.rewards[w.transitions], 0.0).astype(np.float32),
            steps_left=w.steps_left,
            terminal=self.terminal[start],
            td=td,
            bootstrap_index=w.bootstrap - start[:, None],
            search_policy=self.policies[w.positions] * w.live[:, : k + 1, None],
            weights=(weights / weights.max()).astype(np.float32),
        )

    def update_priorities(self, rows: np.ndarray, priorities: np.ndarray) -> None:
        """Sets new priorities of start rows drawn by ``sample``."""
        self.priorities[rows] = priorities

    @property
    def max_priority(self) -> float:
        """The priority new data enters with: the largest in use (1 while there is none)."""
        largest = float(self.priorities[: self.size].max()) if self.num_transitions else 0.0
        return largest if largest > 0 else 1.0


class PrioritizedReplay(PrioritizedRows):
    """Online episodes in preallocated row arrays, oldest episodes dropped when full.

    Beside the row arrays of ``PrioritizedRows`` it keeps ``startable`` bool (the row may start a
    window: it counts as one of the replay's transitions).

    Args:
        frame_shape: one frame (H, W, C).
        num_actions: A, width of the stored search policies.
        capacity: transitions kept (rows are allocated for them plus per-episode overhead).
        clip_rewards: learn from sign-clipped rewards.
        **layout: the window layout, priority exponent and seed of ``PrioritizedRows``.
    """

    def __init__(self, frame_shape: tuple[int, ...], num_actions: int, capacity: int, *, clip_rewards: bool, **layout):
        super().__init__(num_actions, **layout)
        self.capacity = capacity
        self.clip_rewards = clip_rewards
        # Every episode costs S rows beyond its transitions; episodes are rarely shorter than 8 steps.
        rows = capacity + capacity // 8 * self.stack + 1024
        self.frames = np.zeros((rows, *frame_shape), dtype=np.uint8)
        self.actions = np.zeros(rows, dtype=np.int64)
        self.rewards = np.zeros(rows, dtype=np.float32)
        self.policies = np.zeros((rows, num_actions), dtype=np.float32)
        self.env_steps = np.zeros(rows, dtype=np.int64)
        self.priorities = np.zeros(rows, dtype=np.float64)  # 0 on history and final rows: never drawn
        self.first = np.zeros(rows, dtype=np.int64)
        self.last = np.zeros(rows, dtype=np.int64)
        self.terminal = np.zeros(rows, dtype=bool)
        self.startable = np.zeros(rows, dtype=bool)

    def add_episode(
        self,
        frames: np.ndarray,
        actions: np.ndarray,
        raw_rewards: np.ndarray,
        policies: np.ndarray,
        env_steps: np.ndarray,
        terminal: bool,
        startable: int | None = None,
    ) -> None:
        """Appends one complete learning episode of T transitions, or one block of a running one.

        Args:
            frames: uint8 [S - 1 + T + 1, H, W, C]: the history frames, then the frame of every observation.
            actions: int [T] actions taken (indices into the policy head).
            raw_rewards: float [T] raw rewards.
            policies: float [T, A] acting's search policy at each step.
            env_steps: int [T] the agent's env-step counter when each action was taken.
            terminal: the episode ended at a life loss or game over (not at the frame cap, nor a
                block that the episode goes on after).
            startable: how many of the first transitions may start a window (default all): a block
                of a running episode passes its length without the steps that only extend its windows.
        """
        steps = len(actions)
        rows = len(frames)
        startable = steps if startable is None else startable
        if rows != self.stack + steps or steps == 0:
            raise ValueError(f"an episode of {steps} transitions needs {self.stack + steps} frames, got {rows}")
        if not 0 < startable <= steps:
            raise ValueError(f"{startable} start rows do not fit an episode of {steps} transitions")
        while self.num_transitions + startable > self.capacity or self.size + rows > len(self.frames):
            self._drop_oldest()
        lo, t0, hi = self.size, self.size + self.stack - 1, self.size + rows
        self.frames[lo:hi] = frames
        self.actions[t0 : t0 + steps] = actions
        self.rewards[t0 : t0 + steps] = learning_rewards(np.asarray(raw_rewards), self.clip_rewards)
        self.policies[t0 : t0 + steps] = policies
        self.env_steps[t0 : t0 + steps] = env_steps
        self.priorities[lo:hi] = 0.0
        self.priorities[t0 : t0 + startable] = self.max_priority
        self.startable[lo:hi] = False
        self.startable[t0 : t0 + startable] = True
        self.first[lo:hi], self.last[lo:hi], self.terminal[lo:hi] = lo, hi - 1, terminal
        self.size = hi
        self.num_transitions += startable

    def _drop_oldest(self) -> None:
        """Drops the oldest tenth of the transitions (whole episodes or blocks) and compacts the arrays."""
        if self.size == 0:
            raise ValueError("an episode longer than the replay's capacity cannot be stored")
        cut = 0
        target = max(1, self.num_transitions // 10)
        dropped = 0
        while dropped < target and cut < self.size:
            end = self.last[cut] + 1
            dropped += int(np.count_nonzero(self.startable[cut:end]))
            cut = end
        for array in (self.frames, self.actions, self.rewards, self.policies, self.env_steps, self.priorities, self.terminal, self.startable):
            array[: self.size - cut] = array[cut : self.size]
        for array in (self.first, self.last):
            array[: self.size - cut] = array[cut : self.size] - cut
        self.size -= cut
        self.num_transitions -= dropped

    def state_dict(self) -> dict:
        """Every array in use plus counters and the RNG state, for checkpoints."""
        n = self.size
        arrays = {
            name: getattr(self, name)[:n].copy()
            for name in ("frames", "actions", "rewards", "policies", "env_steps", "priorities", "first", "last", "terminal", "startable")
        }
        return {**arrays, "num_transitions": self.num_transitions, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        n = len(state["frames"])
        for name in ("frames", "actions", "rewards", "policies", "env_steps", "priorities", "first", "last", "terminal", "startable"):
            getattr(self, name)[:n] = np.asarray(state[name])
        self.size = n
        self.num_transitions = int(state["num_transitions"])
        self.rng.bit_generator.state = state["rng"]
