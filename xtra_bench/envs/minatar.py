"""The MinAtar suite behind the same interface as Atari: a small, fast proxy for development.

Frames are the game's boolean channels padded to a common channel count (so one network serves
every game) and scaled to {0, 255} (so the same uint8 normalisation applies as for Atari). MinAtar's
actions map into the shared 18-action Atari space (no-op, fire, up, right, left, down).
"""

from __future__ import annotations

import numpy as np

from xtra_bench.envs.base import EnvSpec, StepBatch, VectorEnv, check_actions, learning_done
from xtra_bench.games import Game

MINATAR_CHANNELS = 10
"""Channels of the padded frame: the most any MinAtar game has (Seaquest)."""

MINATAR_SETTINGS = {
    "sticky_action_prob": 0.0,
    "difficulty_ramping": True,
    "frame_stack": 4,
    "max_episode_steps": 27_000,
    "channels": MINATAR_CHANNELS,
}


def minatar_spec(game: Game, mode: str, *, max_episode_steps: int) -> EnvSpec:
    import minatar

    settings = dict(MINATAR_SETTINGS, max_episode_steps=max_episode_steps)
    settings.update(rom=game.rom, minatar_version=getattr(minatar, "__version__", "unknown"), mode=mode)
    return EnvSpec(game.name, "minatar", (10, 10, MINATAR_CHANNELS), settings["frame_stack"], game.action_set, mode, settings)


class MinAtarEnv(VectorEnv):
    """E MinAtar games stepped in a loop; see ``VectorEnv``. MinAtar has no lives: ``life_loss`` is always False.

    Args:
        game: the catalog entry (its ``rom`` is MinAtar's game name).
        num_envs: how many games run side by side.
        mode: "train" or "eval" (identical here, as there are no lives).
        seed: seeds every game.
        max_episode_steps: step cap of a game (the analogue of Atari's 108k frames / frame skip 4).
    """

    def __init__(
        self,
        game: Game,
        num_envs: int = 1,
        *,
        mode: str = "train",
        seed: int = 0,
        max_episode_steps: int = MINATAR_SETTINGS["max_episode_steps"],
    ):
        import minatar

        self.spec = minatar_spec(game, mode, max_episode_steps=max_episode_steps)
        self.num_envs = num_envs
        self._seeds = np.random.default_rng(seed)
        self._envs = [
            minatar.Environment(game.rom, sticky_action_prob=0.0, difficulty_ramping=True)
            for _ in range(num_envs)
        ]
        # MinAtar numbers its own actions 0..5 as (no-op, left, up, right, down, fire); the shared space's
        # id of each is the Atari action with the same meaning.
        self._minatar_ids = np.array([(0, 4, 2, 3, 5, 1).index(a) for a in game.action_set])
        self._stacks = np.zeros((num_envs, *self.spec.obs_shape), np.uint8)
        self._steps = np.zeros(num_envs, np.int64)

    def _draw_seed(self) -> int:
        return int(self._seeds.integers(0, 2**31 - 1))

    def _frame(self, env) -> np.ndarray:
        state = env.state()
        frame = np.zeros(self.spec.frame_shape, np.uint8)
        frame[..., : state.shape[-1]] = state.astype(np.uint8) * 255
        return frame

    def _start(self, i: int) -> None:
        env = self._envs[i]
        env.seed(self._draw_seed())
        env.reset()
        self._stacks[i] = self._frame(env)
        self._steps[i] = 0

    def reset(self) -> np.ndarray:
        for i in range(self.num_envs):
            self._start(i)
        return self._stacks.copy()

    def step(self, actions: np.ndarray) -> StepBatch:
        actions = check_actions(actions, self.num_envs, self.spec.num_actions)
        n = self.num_envs
        reward = np.zeros(n, np.float32)
        terminated = np.zeros(n, bool)
        for i, env in enumerate(self._envs):
            r, term = env.act(int(self._minatar_ids[actions[i]]))
            reward[i], terminated[i] = r, term
            self._stacks[i, :-1] = self._stacks[i, 1:]
            self._stacks[i, -1] = self._frame(env)
        self._steps += 1
        truncated = ~terminated & (self._steps >= self.spec.settings["max_episode_steps"])
        ended = terminated | truncated
        final_obs = self._stacks.copy()
        for i in np.flatnonzero(ended):
            self._start(i)
        life_loss = np.zeros(n, bool)
        done = learning_done(self.spec.mode, terminated, truncated, life_loss)
        return StepBatch(self._stacks.copy(), reward, terminated, truncated, life_loss, done, final_obs)
