"""Training-episode statistics every online agent logs: what its own games scored while it learned.

Evaluation episodes measure an agent; training episodes show whether it is learning at all, and
they are the only returns that may steer hyper-parameter choices (never the evaluation episodes).
``EpisodeReturns`` follows the vector env step by step and yields, per logging interval:

- ``train/episode_return``: the raw score of each finished game (all its lives, unclipped), the
  number a person would read off the screen;
- ``train/learning_return``: the return of each finished learning episode as the learner sees it
  (sign-clipped rewards; a life loss ends one in train mode);
- ``train/episodes``: games finished in the interval.
"""

from __future__ import annotations

import numpy as np

from xtra_bench.envs import StepBatch


class EpisodeReturns:
    """Accumulates the running games of ``num_envs`` envs and the returns of those that finished.

    Args:
        num_envs: envs stepped together.
    """

    def __init__(self, num_envs: int):
        self._game = np.zeros(num_envs)
        self._learning = np.zeros(num_envs)
        self._finished_games: list[float] = []
        self._finished_learning: list[float] = []

    def record(self, batch: StepBatch) -> None:
        """Adds one step of every env."""
        self._game += batch.reward
        self._learning += np.sign(batch.reward)
        for e in np.flatnonzero(batch.done):
            self._finished_learning.append(float(self._learning[e]))
            self._learning[e] = 0.0
        for e in np.flatnonzero(batch.game_over):
            self._finished_games.append(float(self._game[e]))
            self._game[e] = 0.0

    def drain(self) -> dict[str, float]:
        """The interval's statistics (means over what finished since the last call), then forgets them.

        Returns:
            ``train/episodes`` always; ``train/episode_return`` and ``train/learning_return`` when
            at least one game or learning episode finished.
        """
        out = {"train/episodes": float(len(self._finished_games))}
        if self._finished_games:
            out["train/episode_return"] = float(np.mean(self._finished_games))
        if self._finished_learning:
            out["train/learning_return"] = float(np.mean(self._finished_learning))
        self._finished_games, self._finished_learning = [], []
        return out
