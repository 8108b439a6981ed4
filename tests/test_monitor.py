"""Training-episode statistics: game scores and learning returns from constructed steps."""

import numpy as np

from xtra_bench.envs import StepBatch
from xtra_bench.monitor import EpisodeReturns


def step(reward, terminated=(False, False), life_loss=(False, False)):
    reward = np.asarray(reward, dtype=np.float32)
    terminated, life_loss = np.asarray(terminated), np.asarray(life_loss)
    truncated = np.zeros(2, bool)
    obs = np.zeros((2, 1, 1, 1, 1), np.uint8)
    return StepBatch(obs, reward, terminated, truncated, life_loss, terminated | life_loss, obs)


def test_game_scores_are_raw_and_learning_returns_clipped_per_life():
    stats = EpisodeReturns(2)
    stats.record(step([5.0, 0.0]))
    stats.record(step([3.0, -2.0], life_loss=(True, False)))  # env 0 loses a life: its learning episode ends
    assert stats.drain() == {"train/episodes": 0.0, "train/learning_return": 2.0}
    stats.record(step([4.0, 1.0], terminated=(True, True)))
    # Env 0's game: 5 + 3 + 4 = 12 raw, its second learning episode 1 clipped; env 1: -2 + 1 = -1, clipped 0.
    out = stats.drain()
    assert out == {"train/episodes": 2.0, "train/episode_return": (12.0 - 1.0) / 2, "train/learning_return": (1.0 + 0.0) / 2}
    assert stats.drain() == {"train/episodes": 0.0}
