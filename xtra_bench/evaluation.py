"""Evaluation by the protocol: an agent only chooses actions; the protocol plays and scores the games."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xtra_bench.envs import make_env
from xtra_bench.errors import ConfigError

ActFn = Callable[[np.ndarray], np.ndarray]
"""obs uint8 [B, stack, *frame] -> action indices int [B]."""


def episode_quotas(episodes: int, num_envs: int) -> np.ndarray:
    """How many games each env plays: ``episodes`` spread as evenly as possible, int [num_envs].

    A fixed quota per env (rather than the first N games to finish) keeps short games from being
    over-represented in the result.
    """
    return np.full(num_envs, episodes // num_envs) + (np.arange(num_envs) < episodes % num_envs)


def evaluate(act: ActFn, game: str, episodes: int, *, seed: int = 0, num_envs: int = 8, **env_settings) -> np.ndarray:
    """Plays ``episodes`` full games in eval mode (no life-loss terminal, raw score, frame cap).

    Args:
        act: the policy; typically ``functools.partial(agent.act, greedy=True)``.
        game: catalog name.
        episodes: games to play.
        seed: eval env seed; the same seed gives every agent the same game starts.
        num_envs: games played side by side (capped at ``episodes``).
        **env_settings: passed to ``make_env`` (tests use a smaller frame cap).

    Returns:
        float64 [episodes]: each game's raw score, ordered by env then by game.
    """
    if episodes <= 0:
        raise ConfigError(f"eval episodes must be positive, got {episodes}")
    num_envs = min(num_envs, episodes)
    quotas = episode_quotas(episodes, num_envs)
    returns: list[list[float]] = [[] for _ in range(num_envs)]
    running = np.zeros(num_envs)
    with make_env(game, num_envs, mode="eval", seed=seed, **env_settings) as env:
        obs = env.reset()
        while any(len(r) < q for r, q in zip(returns, quotas)):
            step = env.step(np.asarray(act(obs)))
            running += step.reward
            for i in np.flatnonzero(step.game_over):
                if len(returns[i]) < quotas[i]:
                    returns[i].append(float(running[i]))
                running[i] = 0.0
            obs = step.obs
    return np.array([r for env_returns in returns for r in env_returns])
