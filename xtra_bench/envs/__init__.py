"""Batched environments of the protocol: Atari100k (ale-py) and MinAtar behind one interface."""

from __future__ import annotations

from xtra_bench.envs.base import FULL_ACTION_COUNT, MODES, EnvSpec, StepBatch, VectorEnv
from xtra_bench.errors import ConfigError
from xtra_bench.games import get_game

__all__ = ["FULL_ACTION_COUNT", "MODES", "EnvSpec", "StepBatch", "VectorEnv", "make_env", "make_spec"]


def make_env(game: str, num_envs: int = 1, *, mode: str = "train", seed: int = 0, **settings) -> VectorEnv:
    """Builds ``num_envs`` copies of ``game`` with the protocol's preprocessing.

    Args:
        game: a catalog name (``xtra-bench games`` lists them).
        num_envs: copies stepped together.
        mode: "train" (a life loss ends the learning episode) or "eval" (only the game's end does).
        seed: makes the sequence of games reproducible.
        **settings: suite-specific overrides for tests and studies (Atari: ``num_threads``,
            ``noop_max``, ``max_episode_frames``; MinAtar: ``max_episode_steps``).

    Raises:
        UnknownNameError: unknown game.
        ConfigError: bad mode or env count.
    """
    entry = get_game(game)
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if num_envs < 1:
        raise ConfigError(f"num_envs must be at least 1, got {num_envs}")
    if entry.suite == "minatar":
        from xtra_bench.envs.minatar import MinAtarEnv

        return MinAtarEnv(entry, num_envs, mode=mode, seed=seed, **settings)
    from xtra_bench.envs.atari import AtariEnv

    return AtariEnv(entry, num_envs, mode=mode, seed=seed, **settings)


def make_spec(game: str, mode: str = "train") -> EnvSpec:
    """The spec ``make_env(game, mode=mode)`` would have, without starting an emulator."""
    entry = get_game(game)
    if entry.suite == "minatar":
        from xtra_bench.envs.minatar import MINATAR_SETTINGS, minatar_spec

        return minatar_spec(entry, mode, max_episode_steps=MINATAR_SETTINGS["max_episode_steps"])
    from xtra_bench.envs.atari import ATARI_SETTINGS, atari_spec

    return atari_spec(entry, mode, noop_max=ATARI_SETTINGS["noop_max"], max_episode_frames=ATARI_SETTINGS["max_episode_frames"])
