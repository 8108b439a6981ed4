"""Row indices of training windows over flat, step-aligned rows: the one place both samplers use.

Rows follow the dataset format (an episode of T transitions is T+1 rows; row r holds the frame
seen before action r and the reward after it). Two numbers per start row t describe its window:
``first``, the earliest row its frame stacks may use (the game's first row, or the first stored
history frame of a replay episode), and ``end``, the row that ends its learning episode (the
game's last row or, when life losses end learning episodes, the first state after a life loss).
Nothing here reads frames or rewards: the offline dataset sampler (``xtra_bench.data.sampler``)
and the online replay of an agent both gather their arrays with these indices.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Windows(NamedTuple):
    """Row indices of B windows from start rows t (S stacked frames, K unroll steps, W rewards).

    Attributes:
        frames: int64 [B, S + K + lookahead], rows of the frames t-S+1 .. t+K+lookahead, clipped
            to [first, end]: stacks at a game's start repeat its first frame, positions past the
            end repeat the end frame. ``frames[:, j : j + S]`` is position j's stacked observation.
        positions: int64 [B, K + 1], rows of positions t .. t+K, clipped to ``end``.
        valid: bool [B, K + 1], position t+k lies inside the learning episode (t + k <= end).
        transitions: int64 [B, W], rows of transitions t, t+1, ... (their actions and rewards),
            clipped to [t, max(end - 1, t)]; use them where ``live``.
        live: bool [B, W], transition t+i exists (t + i < end).
        bootstrap: int64 [B, K + 1], the row whose value completes position k's n-step return:
            min(t + k + n, end), so a return stops at the episode's end (for positions past the
            end: ``end``). Its stacked observation starts at ``frames`` column bootstrap - t.
        steps_left: int64 [B], transitions from t to the end (end - t).
    """

    frames: np.ndarray
    positions: np.ndarray
    valid: np.ndarray
    transitions: np.ndarray
    live: np.ndarray
    bootstrap: np.ndarray
    steps_left: np.ndarray


def unroll_windows(
    start: np.ndarray,
    first: np.ndarray,
    end: np.ndarray,
    *,
    frame_stack: int,
    unroll_steps: int,
    n_step: int | np.ndarray,
    reward_width: int | None = None,
    lookahead: int = 0,
) -> Windows:
    """Turns start rows into the rows of their stacks, unroll positions, rewards and n-step bootstraps.

    Args:
        start: int [B] start rows t (rows that have an action: t < end).
        first: int [B] earliest frame row of each window's episode.
        end: int [B] the row ending each window's learning episode.
        frame_stack: S.
        unroll_steps: K.
        n_step: n of the n-step returns, one for all windows or int [B] one per window (e.g.
            EfficientZero's off-policy correction, fewer steps for older data).
        reward_width: W, transitions covered from t (default K + the largest n: every reward an
            n-step return of the unroll can use).
        lookahead: extra frame rows after t+K (the largest n lets the bootstrap stacks be cut
            from ``frames`` without a second gather).

    Returns:
        The indices, see ``Windows``.

    Raises:
        ValueError: a start row at or past its end, or an n below 1.
    """
    start, first, end = (np.asarray(a, dtype=np.int64).reshape(-1, 1) for a in (start, first, end))
    n = np.broadcast_to(np.asarray(n_step, dtype=np.int64).reshape(-1, 1), start.shape)
    if (start >= end).any() or (start < first).any():
        raise ValueError("every start row must lie in [first, end)")
    if (n < 1).any():
        raise ValueError("n_step must be >= 1")
    width = unroll_steps + int(n.max(initial=1)) if reward_width is None else reward_width
    k = np.arange(unroll_steps + 1)
    frames = np.clip(start + np.arange(1 - frame_stack, unroll_steps + 1 + lookahead), first, end)
    positions = start + k
    transitions = start + np.arange(width)
    return Windows(
        frames=frames,
        positions=np.minimum(positions, end),
        valid=positions <= end,
        transitions=np.minimum(transitions, end - 1),
        live=transitions < end,
        bootstrap=np.minimum(positions + n, end),
        steps_left=(end - start)[:, 0],
    )


def learning_bounds(is_last: np.ndarray, ends_learning: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of concatenated whole games: its game's first row and the end of the learning episode it starts.

    Args:
        is_last: bool [N], the game's last row (its final frame, no action).
        ends_learning: bool [N], rows that end a learning episode besides last rows (a game over,
            or the first state after a life loss when life losses end learning episodes).

    Returns:
        first: int64 [N], the first row of each row's game.
        end: int64 [N], for a row with an action, the first later row that is a last row or ends
            learning; for a last row, itself. A row that ends one learning episode starts the next.
    """
    is_last = np.asarray(is_last, dtype=bool)
    n = len(is_last)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    game = np.concatenate([[0], np.cumsum(is_last[:-1])]).astype(np.int64)
    game_first = np.concatenate([[0], np.flatnonzero(is_last)[:-1] + 1]).astype(np.int64)
    end_rows = np.flatnonzero(is_last | np.asarray(ends_learning, dtype=bool))
    after = np.searchsorted(end_rows, np.arange(n), side="right")
    end = np.where(is_last, np.arange(n), end_rows[np.minimum(after, len(end_rows) - 1)])
    return game_first[game], end.astype(np.int64)
