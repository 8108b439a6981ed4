"""Atari100k with EfficientZero's preprocessing, batched on ale-py's C++ vector environment.

The preprocessing (DESIGN.md, Protocol): no sticky actions, frame skip 4 with a max-pool of the
last two frames, up to 30 no-op starts, 96x96 RGB, 4 stacked frames (a game's first frame repeated
at its start), the game's minimal action set, games capped at 108,000 frames.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from xtra_bench.envs.base import EnvSpec, StepBatch, VectorEnv, check_actions, learning_done
from xtra_bench.games import Game

ATARI_SETTINGS = {
    "repeat_action_probability": 0.0,
    "frameskip": 4,
    "maxpool": True,
    "noop_max": 30,
    "frame_height": 96,
    "frame_width": 96,
    "grayscale": False,
    "frame_stack": 4,
    "max_episode_frames": 108_000,
    "fire_reset": False,
    "full_action_space": False,
}


@lru_cache(maxsize=None)
def rom_md5(rom: str) -> str:
    """md5 of the ROM file ale-py bundles for ``rom`` (identifies the exact game binary)."""
    from ale_py import roms

    return hashlib.md5(roms.get_rom_path(rom).read_bytes()).hexdigest()


def atari_spec(game: Game, mode: str, *, noop_max: int, max_episode_frames: int) -> EnvSpec:
    import ale_py

    settings = dict(ATARI_SETTINGS, noop_max=noop_max, max_episode_frames=max_episode_frames)
    settings.update(rom=game.rom, rom_md5=rom_md5(game.rom), ale_py_version=ale_py.__version__, mode=mode)
    frame = (settings["frame_height"], settings["frame_width"], 3)
    return EnvSpec(game.name, "atari", frame, settings["frame_stack"], game.action_set, mode, settings)


class AtariEnv(VectorEnv):
    """E Atari games on ale-py's threaded vector env; see ``VectorEnv`` for the interface.

    Args:
        game: the catalog entry.
        num_envs: how many games run side by side.
        mode: "train" (life loss ends the learning episode) or "eval" (only the game's end does).
        seed: seeds the first game of every env; ale-py seeds later games from it.
        num_threads: emulator threads (0: one per env up to the CPU count).
        noop_max: most no-ops at the start of a game.
        max_episode_frames: frame cap of a game.
    """

    def __init__(
        self,
        game: Game,
        num_envs: int = 1,
        *,
        mode: str = "train",
        seed: int = 0,
        num_threads: int = 0,
        noop_max: int = ATARI_SETTINGS["noop_max"],
        max_episode_frames: int = ATARI_SETTINGS["max_episode_frames"],
    ):
        from ale_py import LoggerMode, ALEInterface
        from ale_py.vector_env import AtariVectorEnv, AutoresetMode

        ALEInterface.setLoggerMode(LoggerMode.Error)
        self.spec = atari_spec(game, mode, noop_max=noop_max, max_episode_frames=max_episode_frames)
        self.num_envs = num_envs
        s = self.spec.settings
        self._ale = AtariVectorEnv(
            game.rom,
            num_envs,
            num_threads=num_threads,
            max_num_frames_per_episode=max_episode_frames,
            repeat_action_probability=s["repeat_action_probability"],
            full_action_space=False,
            # Same-step resets run inside the emulator threads; a reset call from here costs ~0.1 s.
            autoreset_mode=AutoresetMode.SAME_STEP,
            img_height=s["frame_height"],
            img_width=s["frame_width"],
            grayscale=False,
            stack_num=s["frame_stack"],
            frameskip=s["frameskip"],
            maxpool=s["maxpool"],
            noop_max=noop_max,
            episodic_life=False,
            reward_clipping=False,
            use_fire_reset=False,
        )
        self._seeds = np.random.default_rng(seed)
        self._lives = np.zeros(num_envs, np.int32)
        self._steps_since_reset = np.zeros(num_envs, np.int64)
        self._episode_frames = np.zeros(num_envs, np.int64)

    @property
    def episode_frames(self) -> np.ndarray:
        return self._episode_frames.copy()

    def _repeat_first_frame(self, obs: np.ndarray, steps_since_reset: np.ndarray) -> None:
        """ale-py pads a new game's stack with black frames; the protocol repeats its first frame."""
        stack = self.spec.frame_stack
        for env in np.flatnonzero(steps_since_reset < stack - 1):
            first = stack - 1 - steps_since_reset[env]
            obs[env, :first] = obs[env, first]

    def reset(self) -> np.ndarray:
        obs, info = self._ale.reset(seed=self._seeds.integers(0, 2**31 - 1, size=self.num_envs, dtype=np.int64))
        self._lives = info["lives"].copy()
        self._episode_frames[:] = info["episode_frame_number"]
        self._steps_since_reset[:] = 0
        self._repeat_first_frame(obs, self._steps_since_reset)
        return obs

    def step(self, actions: np.ndarray) -> StepBatch:
        actions = check_actions(actions, self.num_envs, self.spec.num_actions)
        obs, reward, terminated, truncated, info = self._ale.step(actions.astype(np.int32))
        ended = terminated | truncated
        lives = info["lives"]
        # A game that ended reports its next game's lives; losing the last life ends a game with lives.
        life_loss = np.where(ended, terminated & (self._lives > 0), lives < self._lives)
        self._lives = lives.copy()
        self._episode_frames[:] = info["episode_frame_number"]
        self._steps_since_reset += 1
        final_obs = obs
        if ended.any():
            final_obs = obs.copy()
            final_obs[ended] = info["final_obs"][ended]
            self._repeat_first_frame(final_obs, self._steps_since_reset)
            self._steps_since_reset[ended] = 0
        self._repeat_first_frame(obs, self._steps_since_reset)
        done = learning_done(self.spec.mode, terminated, truncated, life_loss)
        return StepBatch(obs, reward.astype(np.float32), terminated, truncated, life_loss, done, final_obs)

    def close(self) -> None:
        self._ale.close()
