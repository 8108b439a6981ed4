"""Training batches from one dataset: stacked frames, unroll windows, n-step targets, priorities.

The sampler loads the view's rows into memory once (decompressing each chunk a single time) and
then builds every batch with vectorised numpy gathers, so a batch costs about as much as gathering
its frames from an in-memory array (``benchmarks/sampler.py`` measures the ratio). Frames that do
not fit stay in the file: ``xtra_bench.data.streaming.StreamingSampler`` is this sampler on frames
read through a bounded chunk cache, with the same draws and so the same batches.

Windows never mix episodes. Frames before an episode's first row repeat that first frame (the
protocol's frame stack at a game's start). An unroll from row t covers positions t..t+K and ends
at the learning episode's end: the first later row that is a game's last row or, with
``life_loss_terminal``, the first state after a life loss. Positions past that end are masked,
their frames repeat the end frame and their actions and rewards are 0. The row indices come from
``xtra_bench.data.windows``, which agents' online replays share.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import COLUMNS, SMALL_COLUMNS
from xtra_bench.data.targets import Targets
from xtra_bench.data.windows import learning_bounds, unroll_windows


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """How batches are cut from a dataset.

    Attributes:
        batch_size: start rows per batch.
        frame_stack: frames per observation.
        unroll_steps: K, model unroll steps; each sample covers K+1 positions.
        n_step: transitions summed before bootstrapping a value target.
        discount: per-step discount of the n-step return.
        clip_rewards: use sign(reward) (the protocol's learning reward) instead of the raw reward.
        life_loss_terminal: a life loss ends the learning episode (the protocol's train mode).
        seed: seeds the row draws.
    """

    batch_size: int = 256
    frame_stack: int = 4
    unroll_steps: int = 5
    n_step: int = 5
    discount: float = 0.997
    clip_rewards: bool = True
    life_loss_terminal: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.batch_size < 1 or self.frame_stack < 1 or self.unroll_steps < 0 or self.n_step < 1:
            raise DatasetError("batch_size, frame_stack and n_step must be >= 1 and unroll_steps >= 0")
        if not 0 < self.discount <= 1:
            raise DatasetError(f"discount must be in (0, 1], got {self.discount}")


class Batch(NamedTuple):
    """B samples, each an unroll of K steps from a start row t; S is the frame stack.

    Attributes:
        rows: int64 [B], start rows (sampler rows: pass them to ``update_priorities``).
        frames: uint8 [B, S+K, *frame], frames of rows t-S+1 .. t+K; ``stack(j)`` is position j's observation.
        actions: int64 [B, K], actions of positions 0..K-1 (0 where masked).
        rewards: float32 [B, K], rewards after those actions, clipped if configured (0 where masked).
        mask: bool [B, K+1], position j lies inside the start row's learning episode; the transition
            j -> j+1 exists where ``mask[:, j+1]``.
        nstep_return: float32 [B, K+1], discounted rewards of up to n transitions from position j.
        bootstrap_rows: int64 [B, K+1], the row whose value completes the n-step target (-1: none,
            the return reached a terminal or the position is masked).
        bootstrap_discount: float32 [B, K+1], discount**steps applied to that value (0 where none).
        probability: float32 [B], the probability of drawing each start row.
        policy: float32 [B, K+1, A] teacher policy at each position, or None without targets.
        root_value: float32 [B, K+1] teacher root value at each position, or None without targets.
        bootstrap_value: float32 [B, K+1] teacher root value of ``bootstrap_rows`` (0 where there is
            none), or None without targets: a teacher's n-step value target is
            ``nstep_return + bootstrap_discount * bootstrap_value``.
        steps_left: int64 [B], transitions from the start row to the end of its learning episode.
    """

    rows: np.ndarray
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    nstep_return: np.ndarray
    bootstrap_rows: np.ndarray
    bootstrap_discount: np.ndarray
    probability: np.ndarray
    policy: np.ndarray | None = None
    root_value: np.ndarray | None = None
    bootstrap_value: np.ndarray | None = None
    steps_left: np.ndarray | None = None

    def stack(self, j: int) -> np.ndarray:
        """uint8 [B, S, *frame]: the stacked observation at unroll position j."""
        stack = self.frames.shape[1] - self.actions.shape[1]
        return self.frames[:, j : j + stack]


class Sampler:
    """Draws ``Batch`` es from a dataset view held in memory.

    Args:
        dataset: the view to sample (its rows are loaded now).
        config: batch layout and learning conventions.
        targets: teacher targets of the dataset's file, joined to every position.
        frames: the view's frames when they come from elsewhere (any array-like that answers
            ``frames[int array]``, e.g. ``xtra_bench.data.streaming.StreamingFrames``); then only
            the other columns are loaded. ``StreamingSampler`` passes its streamed frames here.

    Raises:
        DatasetError: an empty view, or targets of another dataset.
    """

    def __init__(
        self, dataset: Dataset, config: SamplerConfig = SamplerConfig(), targets: Targets | None = None, *, frames=None
    ):
        if len(dataset) == 0 or dataset.total_steps == 0:
            raise DatasetError(f"{dataset.path}: the view has no transition to sample")
        self.config = config
        self.dataset = dataset
        columns = dataset.read_columns(SMALL_COLUMNS if frames is not None else tuple(COLUMNS))
        self.frames = columns["frame"] if frames is None else frames
        self._actions = columns["action"].astype(np.int64)
        reward = columns["reward"]
        self._rewards = np.sign(reward).astype(np.float32) if config.clip_rewards else reward.astype(np.float32)
        is_last = self._is_last = columns["is_last"]
        self._terminal = columns["is_terminal"] | (columns["life_loss"] if config.life_loss_terminal else False)
        lengths = dataset.episode_lengths + 1
        self._episode = np.repeat(np.arange(len(lengths)), lengths)
        # Every window from row r stops at _next_end[r]: the first later row that ends r's learning episode.
        self._episode_first, self._next_end = learning_bounds(is_last, self._terminal)
        self._starts = np.flatnonzero(~is_last)
        self._file_rows = np.concatenate([np.arange(a, b) for a, b in dataset.row_ranges()])
        self._row_priority = (~is_last).astype(np.float64)
        self._episode_priority = np.ones(len(lengths))
        self._cdf: np.ndarray | None = None
        self._uniform = True  # until priorities are set, draws skip the cumulative sum
        self._rng = np.random.default_rng(config.seed)
        self._policy = self._root_value = None
        if targets is not None:
            if targets.dataset_sha256 != dataset.sha256:
                raise DatasetError(f"{targets.path} labels another dataset than {dataset.path}")
            self._policy = targets.policy[self._file_rows]
            self._root_value = targets.root_value[self._file_rows]

    @property
    def num_rows(self) -> int:
        """Rows held (transitions + episodes of the view)."""
        return len(self._actions)

    @property
    def num_starts(self) -> int:
        """Rows a window can start at (the view's transitions): the N of importance weights (N P(i))^-beta."""
        return len(self._starts)

    def state_dict(self) -> dict:
        """The draw generator and every priority (not the data): what a resumed sampler needs to draw the same rows."""
        return {
            "rng": self._rng.bit_generator.state,
            "row_priority": self._row_priority.copy(),
            "episode_priority": self._episode_priority.copy(),
            "uniform": self._uniform,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restores ``state_dict()`` of a sampler over the same view.

        Raises:
            DatasetError: priorities of another number of rows or episodes.
        """
        rows, episodes = np.asarray(state["row_priority"], np.float64), np.asarray(state["episode_priority"], np.float64)
        if rows.shape != self._row_priority.shape or episodes.shape != self._episode_priority.shape:
            raise DatasetError(f"{self.dataset.path}: the saved sampler state belongs to another view ({len(rows)} rows, {len(episodes)} episodes)")
        self._row_priority, self._episode_priority = rows.copy(), episodes.copy()
        self._uniform, self._cdf = bool(state["uniform"]), None
        self._rng.bit_generator.state = state["rng"]

    # ---- priorities -------------------------------------------------------------------------
    def update_priorities(self, rows: np.ndarray, priorities: np.ndarray) -> None:
        """Sets the priority of start rows (e.g. from TD errors); draws are proportional to row x episode priority."""
        priorities = np.asarray(priorities, np.float64)
        if (priorities < 0).any() or not np.isfinite(priorities).all():
            raise DatasetError("priorities must be finite and non-negative")
        rows = np.asarray(rows, np.int64)
        # A last row is never a start row: it keeps priority 0 whatever the caller passes.
        acting = ~self._is_last[rows]
        self._row_priority[rows[acting]] = priorities[acting]
        self._cdf, self._uniform = None, False

    def set_episode_priorities(self, priorities: np.ndarray) -> None:
        """Sets one priority per episode of the view (float [E]); 0 never draws the episode."""
        priorities = np.asarray(priorities, np.float64)
        if priorities.shape != self._episode_priority.shape or (priorities < 0).any() or not np.isfinite(priorities).all():
            raise DatasetError(f"episode priorities must be {len(self._episode_priority)} finite values >= 0")
        self._episode_priority = priorities
        self._cdf, self._uniform = None, False

    def _draw(self, size: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        rng = self._rng if rng is None else rng
        if self._uniform:
            rows = self._starts[rng.integers(len(self._starts), size=size)]
            return rows, np.full(size, 1 / len(self._starts), np.float32)
        if self._cdf is None:
            self._cdf = np.cumsum(self._row_priority * self._episode_priority[self._episode])
        total = self._cdf[-1]
        if total <= 0:
            raise DatasetError("every row has priority 0; nothing can be drawn")
        rows = np.searchsorted(self._cdf, rng.random(size) * total, side="right")
        weight = self._row_priority[rows] * self._episode_priority[self._episode[rows]]
        return rows, (weight / total).astype(np.float32)

    # ---- batches ----------------------------------------------------------------------------
    def stacked_frames(self, rows: np.ndarray) -> np.ndarray:
        """uint8 [M, S, *frame]: the observations at ``rows`` (int [M]), first frames repeated at starts."""
        rows = np.asarray(rows, np.int64)
        window = rows[:, None] + np.arange(1 - self.config.frame_stack, 1)
        return self.frames[np.maximum(window, self._episode_first[rows][:, None])]

    def _windows(self, t: np.ndarray):
        cfg = self.config
        return unroll_windows(
            t, self._episode_first[t], self._next_end[t], frame_stack=cfg.frame_stack, unroll_steps=cfg.unroll_steps, n_step=cfg.n_step
        )

    def sample(self, batch_size: int | None = None) -> Batch:
        """Draws a batch (``config.batch_size`` start rows unless given)."""
        cfg = self.config
        size = batch_size or cfg.batch_size
        k, n = cfg.unroll_steps, cfg.n_step
        t, probability = self._draw(size)
        w = self._windows(t)
        mask, rows = w.valid, w.positions
        moves = w.live[:, :k]
        actions = np.where(moves, self._actions[w.transitions[:, :k]], 0)
        rewards = np.where(w.live, self._rewards[w.transitions], 0).astype(np.float32)  # [B, K + n]

        # n-step targets: rewards of rows r..h-1 with h = w.bootstrap, then the value of row h
        # unless h is a terminal (game over, or a life loss when those end episodes).
        offset = np.arange(k + 1)[:, None] + np.arange(n)  # [K+1, n]: reward i of position j is transition j + i
        summed = np.where(t[:, None, None] + offset < w.bootstrap[..., None], rewards[:, offset], 0)
        nstep_return = (summed * cfg.discount ** np.arange(n)).sum(-1)
        bootstrap = mask & ~self._terminal[w.bootstrap]
        bootstrap_discount = np.where(bootstrap, cfg.discount ** (w.bootstrap - rows), 0)

        policy = root_value = bootstrap_value = None
        if self._policy is not None:
            policy = self._policy[rows] * mask[..., None]
            root_value = self._root_value[rows] * mask
            bootstrap_value = np.where(bootstrap, self._root_value[w.bootstrap], 0).astype(np.float32)
        return Batch(
            rows=t,
            frames=self.frames[w.frames],
            actions=actions,
            rewards=rewards[:, :k],
            mask=mask,
            nstep_return=np.where(mask, nstep_return, 0).astype(np.float32),
            bootstrap_rows=np.where(bootstrap, w.bootstrap, -1),
            bootstrap_discount=bootstrap_discount.astype(np.float32),
            probability=probability,
            policy=policy,
            root_value=root_value,
            bootstrap_value=bootstrap_value,
            steps_left=w.steps_left,
        )
