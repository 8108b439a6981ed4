"""The train env of a job: every game ends at an evaluation point and play restarts from a state set by the step count."""

import numpy as np

from xtra_bench.envs import make_env
from xtra_bench.runner.train_env import EvalAlignedTrainEnv, segment_seed

GAME = "MinAtar-Breakout"


def test_games_run_unchanged_between_evaluation_points():
    wrapped = EvalAlignedTrainEnv(GAME, 2, seed=3, eval_interval=100)
    plain = make_env(GAME, 2, mode="train", seed=segment_seed(3, 0))
    np.testing.assert_array_equal(wrapped.reset(), plain.reset())
    rng = np.random.default_rng(0)
    for _ in range(49):  # 98 agent steps: no evaluation point crossed yet
        actions = rng.integers(0, plain.spec.num_actions, 2)
        a, b = wrapped.step(actions), plain.step(actions)
        for field in a._fields:
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_crossing_an_evaluation_point_ends_every_game_and_starts_a_fresh_env():
    env = EvalAlignedTrainEnv(GAME, 3, seed=1, eval_interval=6)
    env.reset()
    env.step(np.zeros(3, np.int64))  # 3 steps
    before = env.step(np.zeros(3, np.int64))  # 6 steps: crosses the point at 6
    assert env.steps == 6
    assert before.done.all() and (before.truncated | before.terminated).all()
    fresh = make_env(GAME, 3, mode="train", seed=segment_seed(1, 6)).reset()
    np.testing.assert_array_equal(before.obs, fresh)


def test_final_obs_is_the_last_observation_of_the_game_cut_short():
    wrapped = EvalAlignedTrainEnv(GAME, 1, seed=0, eval_interval=2)
    plain = make_env(GAME, 1, mode="train", seed=segment_seed(0, 0))
    wrapped.reset(), plain.reset()
    wrapped.step(np.zeros(1, np.int64)), plain.step(np.zeros(1, np.int64))
    cut, uncut = wrapped.step(np.zeros(1, np.int64)), plain.step(np.zeros(1, np.int64))
    assert not uncut.done[0]  # a Breakout game lasts longer than two steps
    np.testing.assert_array_equal(cut.final_obs, uncut.obs)
    assert cut.truncated[0] and not cut.terminated[0]


def test_a_resumed_env_sees_the_games_of_an_uninterrupted_one():
    rng = np.random.default_rng(5)
    actions = rng.integers(0, 3, (40, 2))
    uninterrupted = EvalAlignedTrainEnv(GAME, 2, seed=7, eval_interval=20)
    uninterrupted.reset()
    for a in actions[:10]:  # 20 agent steps, ending on the evaluation point
        last = uninterrupted.step(a)
    resumed = EvalAlignedTrainEnv(GAME, 2, seed=7, eval_interval=20, start_step=20)
    np.testing.assert_array_equal(resumed.reset(), last.obs)
    for a in actions[10:]:
        x, y = uninterrupted.step(a), resumed.step(a)
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.reward, y.reward)


def test_segment_seeds_differ_by_job_seed_and_step():
    seeds = {segment_seed(s, step) for s in range(3) for step in (0, 10, 20)}
    assert len(seeds) == 9
