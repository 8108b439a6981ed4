"""Self-play hands long episodes to the replay in EfficientZero's blocks (history_length steps plus their reach)."""

import numpy as np

from baselines.efficientzero.config import preset_config
from baselines.efficientzero.selfplay import SelfPlay
from baselines.efficientzero.timing import StageTimer
from xtra_bench.envs import StepBatch

STACK = 4


class CountingEnv:
    """One env whose frame is the step count (mod 256) and whose game ends after ``length`` steps."""

    num_envs = 1

    def __init__(self, length: int):
        self.length, self.t = length, 0

    def _obs(self) -> np.ndarray:
        frames = [max(self.t - i, 0) for i in range(STACK - 1, -1, -1)]
        return np.asarray(frames, dtype=np.uint8).reshape(1, STACK, 1, 1, 1)

    def reset(self) -> np.ndarray:
        self.t = 0
        return self._obs()

    def step(self, actions: np.ndarray) -> StepBatch:
        self.t += 1
        over = np.array([self.t == self.length])
        final = self._obs()
        reward = np.array([float(self.t)], dtype=np.float32)
        obs = self.reset() if over[0] else final
        return StepBatch(obs, reward, over, np.zeros(1, bool), np.zeros(1, bool), over, final)


class RecordingReplay:
    def __init__(self):
        self.added = []

    def add_episode(self, frames, actions, rewards, policies, env_steps, terminal, startable=None):
        self.added.append((frames[:, 0, 0, 0].tolist(), env_steps.tolist(), rewards.tolist(), terminal, startable))


def test_a_long_episode_arrives_in_overlapping_blocks_and_its_end_whole():
    cfg = preset_config("smoke", history_length=3, num_unroll_steps=1, td_steps=2)  # blocks of 3 steps reaching 3 more
    replay = RecordingReplay()
    play = SelfPlay(CountingEnv(10), replay, np.ones(2, bool), np.arange(2), cfg, np.random.default_rng(0), StageTimer())
    for step in range(10):
        play.step_uniform(step)
    # Blocks go when 6 steps are held: after steps 6 and 9 (the second holds steps 3..8); the
    # game's end at step 10 sends what is left (steps 6..9), every one of them a start row.
    assert [(a[1], a[4], a[3]) for a in replay.added] == [
        ([0, 1, 2, 3, 4, 5], 3, False),
        ([3, 4, 5, 6, 7, 8], 3, False),
        ([6, 7, 8, 9], None, True),
    ]
    # Each block's frames: the 3 history frames of its first step, then one per observation.
    assert replay.added[0][0] == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6]
    assert replay.added[1][0] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert replay.added[2][0] == [3, 4, 5, 6, 7, 8, 9, 10]
    assert replay.added[2][2] == [7.0, 8.0, 9.0, 10.0]


def test_an_episode_shorter_than_a_block_arrives_whole():
    cfg = preset_config("smoke", history_length=400)
    replay = RecordingReplay()
    play = SelfPlay(CountingEnv(50), replay, np.ones(2, bool), np.arange(2), cfg, np.random.default_rng(0), StageTimer())
    for step in range(50):
        play.step_uniform(step)
    assert [(len(a[1]), a[4], a[3]) for a in replay.added] == [(50, None, True)]
