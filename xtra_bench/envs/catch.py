"""Catch: a tiny deterministic game with a known optimal return, for learning tests of agents.

A ball starts in the top row of a square board (10x10 by default), in a column drawn at each
game's start, and falls one row per step; the agent moves a paddle in the bottom row left, not at
all, or right. When the ball reaches the bottom row the game ends with reward +1 if the paddle is
under it and -1 if not. Every game lasts ``board - 1`` steps (9) and every ball can be caught, so
the optimal return is exactly +1. The ball's column is uniform and independent of the paddle, so
any policy that does not look at the ball (uniformly random moves, never moving) catches it with
probability 1/board and scores exactly ``blind_return(board)`` (-0.8 on 10x10, -0.6 on 5x5).
Nothing is random but the ball's column, so a learner that reaches near +1 has learnt to predict a
reward ``board - 1`` steps ahead and to act for it: a test no broken MuZero passes by chance. A
smaller board makes the same test quicker to learn (a shorter credit horizon, fewer columns).

It is not in the game catalog (no protocol or dataset uses it); agents see it through the same
``VectorEnv`` interface as MinAtar, with MinAtar-shaped frames (10x10, padded channels, {0, 255}).
"""

from __future__ import annotations

import numpy as np

from xtra_bench.envs.base import EnvSpec, StepBatch, VectorEnv, check_actions, learning_done

BOARD = 10
"""Default side of the square board; a game lasts board - 1 steps."""
CHANNELS = 10
"""Frame channels (MinAtar's padded count, so the MinAtar network variants apply unchanged)."""
ACTION_SET = (0, 4, 3)
"""No-op, left, right as ids of the shared 18-action space (MinAtar's mapping)."""
MOVES = np.array([0, -1, 1])
"""Paddle column change of each action index."""
OPTIMAL_RETURN = 1.0


def blind_return(board: int = BOARD) -> float:
    """Expected return of every policy blind to the ball: 1/board * (+1) + (board-1)/board * (-1)."""
    return (2 - board) / board


BLIND_RETURN = blind_return(BOARD)


def catch_spec(mode: str = "train", frame_stack: int = 4, board: int = BOARD) -> EnvSpec:
    """The spec of ``CatchEnv``: game "Catch", suite "toy", board x board x 10 frames."""
    settings = {"board": board, "channels": CHANNELS, "frame_stack": frame_stack, "mode": mode}
    return EnvSpec("Catch", "toy", (board, board, CHANNELS), frame_stack, ACTION_SET, mode, settings)


class CatchEnv(VectorEnv):
    """E games of Catch stepped together (same-step auto-reset, like the protocol's envs).

    Args:
        num_envs: games side by side.
        mode: "train" or "eval" (identical: Catch has no lives).
        seed: seeds the balls' columns.
        frame_stack: frames per observation.
        board: side of the square board (at least 3: a game lasts board - 1 steps).
    """

    def __init__(self, num_envs: int = 1, *, mode: str = "train", seed: int = 0, frame_stack: int = 4, board: int = BOARD):
        if board < 3:
            raise ValueError(f"a Catch board needs at least 3 rows, not {board}")
        self.board = board
        self.spec = catch_spec(mode, frame_stack, board)
        self.num_envs = num_envs
        self._rng = np.random.default_rng(seed)
        self._ball_row = np.zeros(num_envs, np.int64)
        self._ball_col = np.zeros(num_envs, np.int64)
        self._paddle = np.zeros(num_envs, np.int64)
        self._stacks = np.zeros((num_envs, *self.spec.obs_shape), np.uint8)

    @property
    def episode_frames(self) -> np.ndarray:
        return self._ball_row.copy()

    def _frame(self, i: int) -> np.ndarray:
        frame = np.zeros(self.spec.frame_shape, np.uint8)
        frame[self._ball_row[i], self._ball_col[i], 0] = 255
        frame[self.board - 1, self._paddle[i], 1] = 255
        return frame

    def _start(self, i: int) -> None:
        self._ball_row[i] = 0
        self._ball_col[i] = self._rng.integers(self.board)
        self._paddle[i] = self.board // 2
        self._stacks[i] = self._frame(i)

    def reset(self) -> np.ndarray:
        for i in range(self.num_envs):
            self._start(i)
        return self._stacks.copy()

    def step(self, actions: np.ndarray) -> StepBatch:
        actions = check_actions(actions, self.num_envs, self.spec.num_actions)
        self._paddle = np.clip(self._paddle + MOVES[actions], 0, self.board - 1)
        self._ball_row += 1
        terminated = self._ball_row == self.board - 1
        reward = np.where(terminated, np.where(self._paddle == self._ball_col, 1.0, -1.0), 0.0).astype(np.float32)
        for i in range(self.num_envs):
            self._stacks[i, :-1] = self._stacks[i, 1:]
            self._stacks[i, -1] = self._frame(i)
        final_obs = self._stacks.copy()
        for i in np.flatnonzero(terminated):
            self._start(i)
        truncated = np.zeros(self.num_envs, bool)
        life_loss = np.zeros(self.num_envs, bool)
        done = learning_done(self.spec.mode, terminated, truncated, life_loss)
        return StepBatch(self._stacks.copy(), reward, terminated, truncated, life_loss, done, final_obs)
