"""A smoke run of the agent on MinAtar: it learns (its loss falls), checkpoints and resumes exactly."""

import math

import numpy as np
import pytest
import torch

from baselines.efficientzero.agent import EfficientZeroAgent, EfficientZeroLAgent
from baselines.efficientzero.config import preset_config
from xtra_bench.agents import AgentRegistry
from xtra_bench.envs import make_env
from xtra_bench.errors import ConfigError

GAME = "MinAtar-Breakout"


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Tiny networks run fastest on one thread, and the test suite shares a small machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(**kw):
    return preset_config("smoke", batch_size=8, num_simulations=3, training_steps=40, min_replay_size=24, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    env = make_env(GAME, num_envs=2, mode="train", seed=0)
    agent = EfficientZeroAgent(env.spec, preset="smoke", seed=0, config=tiny_config())
    evals = []
    agent.train(env, 40, eval_every=20, on_eval=evals.append)
    torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("ckpt") / "ez"
    agent.save(path)
    return agent, env, path, evals


def test_smoke_run_learns(trained):
    agent, _, _, evals = trained
    assert agent.env_steps == 40 and agent.learner.steps == 40
    assert evals == [20, 40]
    # Zero-initialised heads start the value loss at (K + 1) * log(601) ~ 38.4; training must go well below.
    assert agent.last_metrics["value_loss"] < 0.5 * 6 * math.log(601)
    assert agent.last_metrics["value_prefix_loss"] < 0.5 * 5 * math.log(601)


def test_checkpoint_resumes_to_the_same_step(trained):
    agent, env, path, _ = trained
    loaded = EfficientZeroAgent.load(path)
    assert (loaded.env_steps, loaded.learner.steps) == (40, 40)
    for name, tensor in agent.net.state_dict().items():
        assert torch.equal(tensor, loaded.net.state_dict()[name]), name
    assert len(loaded.replay) == len(agent.replay)
    assert np.array_equal(loaded.replay.priorities, agent.replay.priorities)
    # Same weights and RNG states: the same actions.
    obs = make_env(GAME, num_envs=3, mode="eval", seed=5).reset()
    assert np.array_equal(loaded.act(obs, greedy=False), EfficientZeroAgent.load(path).act(obs, greedy=False))
    loaded.train(env, 44)
    assert loaded.env_steps == 44 and loaded.learner.steps == 44


def test_registry_names_and_variant():
    registry = AgentRegistry(include_entry_points=False)
    registry.register(EfficientZeroAgent)
    registry.register(EfficientZeroLAgent)
    spec = make_env(GAME, num_envs=1).spec
    agent = registry.make("efficientzero-l", spec, preset="smoke")
    assert isinstance(agent, EfficientZeroLAgent) and len(agent.net.representation.blocks) == 4
    actions = agent.act(make_env(GAME, num_envs=2).reset())
    assert actions.dtype == np.int64 and actions.shape == (2,) and (actions < spec.num_actions).all()


def test_wrong_frame_stack_is_refused():
    spec = make_env(GAME, num_envs=1).spec
    with pytest.raises(ConfigError, match="stacks 4 frames"):
        EfficientZeroAgent(spec, config=preset_config("smoke", frame_stack=2))
