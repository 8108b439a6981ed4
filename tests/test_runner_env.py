"""The train env of a job: every game ends at an evaluation point and play restarts from a state set by
the step count, or, with the protocol's ``train_games="play-out"``, games run across evaluation points."""

import json

import numpy as np
import pytest

from xtra_bench import agents
from xtra_bench.agents import AgentRegistry, RandomAgent
from xtra_bench.envs import make_env
from xtra_bench.errors import ConfigError
from xtra_bench.protocol import Protocol
from xtra_bench.runner import RunConfig, run
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


def test_played_out_games_cross_evaluation_points_unchanged():
    wrapped = EvalAlignedTrainEnv(GAME, 2, seed=3, eval_interval=6, end_games_at_evaluations=False)
    plain = make_env(GAME, 2, mode="train", seed=segment_seed(3, 0))
    np.testing.assert_array_equal(wrapped.reset(), plain.reset())
    actions = np.random.default_rng(1).integers(0, plain.spec.num_actions, (20, 2))
    for a in actions:  # 40 agent steps: six evaluation points crossed
        x, y = wrapped.step(a), plain.step(a)
        for field in x._fields:
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))
    assert wrapped.steps == 40


class LongestGameAgent(RandomAgent):
    """Random play that logs the longest training game its env has run so far."""

    name = "longest-game"
    description = "random actions; logs the length of its longest training game"

    def train(self, env, steps, *, eval_every=0, on_eval=None, on_metrics=None):
        env.reset()
        longest = 0
        while self.steps_done < steps:
            before = self.steps_done
            env.step(self.act(np.empty((env.num_envs, 0)), greedy=False))
            self.steps_done += env.num_envs
            longest = max(longest, int(env.episode_frames.max()))
            on_metrics(self.steps_done, {"longest_game": float(longest)})
            if eval_every and self.steps_done // eval_every > before // eval_every:
                on_eval(self.steps_done)


# Cut: the 100th step of a game ends it, and what the agent reads after that step is the fresh game.
@pytest.mark.parametrize("train_games, longest", [("end-at-evaluations", 99), ("play-out", 300)])
def test_a_job_ends_its_training_games_at_evaluations_unless_they_are_played_out(monkeypatch, tmp_path, train_games, longest):
    registry = AgentRegistry(include_entry_points=False)
    registry.register(LongestGameAgent)
    monkeypatch.setattr(agents, "default_registry", lambda: registry)
    # A MinAtar Freeway game lasts 2,501 steps whatever the play, so only the cut can end one here.
    config = RunConfig(agents=("longest-game",), pretrain=("MinAtar-Asterix",), targets=("MinAtar-Freeway",), seeds=(0,),
                       preset="smoke", env_steps=300, eval_interval=100, eval_episodes=1, periodic_eval_episodes=1,
                       train_games=train_games, out=tmp_path, progress=False)  # fmt: skip
    run(config)
    metrics = [json.loads(line) for line in (tmp_path / "jobs/longest-game/MinAtar-Freeway/seed-0/metrics.jsonl").read_text().splitlines()]
    assert max(m["longest_game"] for m in metrics) == longest
    recorded = json.loads((tmp_path / "protocol.json").read_text())
    assert recorded["hash"] == config.protocol().hash()
    assert recorded["protocol"].get("train_games", "end-at-evaluations") == train_games


def test_the_choice_keeps_the_hash_of_protocols_from_before_it():
    # results/minatar-v1 and results/minatar-curves were run before the choice existed, under this hash.
    study = dict(env_steps=20_000, eval_episodes=16, eval_interval=2_000)
    assert Protocol(**study).hash() == "a26f100462d4d25f"
    assert "train_games" not in Protocol(**study).to_json()
    played_out = Protocol(**study, train_games="play-out")
    assert played_out.hash() != "a26f100462d4d25f" and played_out.to_json()["train_games"] == "play-out"
    with pytest.raises(ConfigError, match="train-games must be one of end-at-evaluations, play-out"):
        Protocol(train_games="never")
