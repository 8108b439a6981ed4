"""The train-mode env a job hands its agent: games restart at every evaluation point, or play on.

A job checkpoints right after each evaluation. For a resumed job to see exactly the games an
uninterrupted one sees, nothing about the games in progress may outlive a checkpoint. So by default
(the protocol's ``train_games="end-at-evaluations"``), each time the step count crosses a multiple
of the evaluation interval, every game ends there (reported as truncated, with its real last
observation in ``final_obs``) and play goes on in a fresh env seeded from (job seed, step count). A
resumed job builds that same fresh env from the checkpoint's step count, and from then on both runs
play the same games. With ``"play-out"`` games run to their end, as the released agents play them,
and only a resumed job starts fresh games (seeded the same way) at its checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from xtra_bench.envs import StepBatch, VectorEnv, make_env


def segment_seed(job_seed: int, step: int) -> int:
    """The seed of the env that starts at agent step ``step`` of a job seeded ``job_seed``."""
    return int(np.random.SeedSequence([job_seed, step]).generate_state(1)[0])


class EvalAlignedTrainEnv(VectorEnv):
    """``num_envs`` train-mode copies of ``game`` whose games all end at each evaluation point (unless played out).

    Args:
        game: the target's catalog name.
        num_envs: copies stepped together (each ``step`` is ``num_envs`` agent steps).
        seed: the job's seed.
        eval_interval: agent steps between evaluation points (crossings are counted as the
            agents count them: ``steps // eval_interval`` grows).
        start_step: agent steps already taken (a resumed job's checkpoint step).
        on_steps: called with the number of agent steps after every ``step`` (progress reports).
        end_games_at_evaluations: False plays games across evaluation points (``"play-out"``).
        **settings: passed to ``make_env`` (tests use shorter games).
    """

    def __init__(
        self,
        game: str,
        num_envs: int,
        *,
        seed: int,
        eval_interval: int,
        start_step: int = 0,
        on_steps: Callable[[int], None] | None = None,
        end_games_at_evaluations: bool = True,
        **settings,
    ):
        self.game, self.num_envs, self.seed = game, num_envs, seed
        self.eval_interval = eval_interval
        self.end_games_at_evaluations = end_games_at_evaluations
        self.steps = start_step
        self._on_steps = on_steps
        self._settings = settings
        self._env = self._fresh_env()
        self.spec = self._env.spec

    def _fresh_env(self) -> VectorEnv:
        return make_env(self.game, self.num_envs, mode="train", seed=segment_seed(self.seed, self.steps), **self._settings)

    @property
    def episode_frames(self) -> np.ndarray:
        return self._env.episode_frames

    def reset(self) -> np.ndarray:
        """Starts fresh games in an env seeded from the current step count; uint8 [E, stack, *frame]."""
        self._env.close()
        self._env = self._fresh_env()
        return self._env.reset()

    def step(self, actions: np.ndarray) -> StepBatch:
        batch = self._env.step(actions)
        before, self.steps = self.steps, self.steps + self.num_envs
        if self._on_steps:
            self._on_steps(self.num_envs)
        if not self.end_games_at_evaluations or self.steps // self.eval_interval == before // self.eval_interval:
            return batch
        ended = batch.terminated | batch.truncated
        final_obs = np.where(ended.reshape(-1, *[1] * (batch.obs.ndim - 1)), batch.final_obs, batch.obs)
        return batch._replace(
            obs=self.reset(),
            truncated=batch.truncated | ~batch.terminated,
            done=np.ones(self.num_envs, dtype=bool),
            final_obs=final_obs,
        )

    def close(self) -> None:
        self._env.close()
