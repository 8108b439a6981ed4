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



def tiny_config(**kw):
    return preset_config("smoke", batch_size=8, num_simulations=3, min_replay_size=8, **kw)


def segment_env(step: int):
    """The runner's env for the segment starting at ``step``: every segment starts fresh games."""
    return make_env(GAME, num_envs=2, mode="train", seed=1000 + step)


def assert_same_state(a: EfficientZeroAgent, b: EfficientZeroAgent) -> None:
    assert (a.env_steps, a.learner.steps) == (b.env_steps, b.learner.steps)
    for net in ("net", "target_net", "actor_net"):
        for name, tensor in getattr(a, net).state_dict().items():
            assert torch.equal(tensor, getattr(b, net).state_dict()[name]), f"{net}.{name}"
    momentum_a = [s["momentum_buffer"] for s in a.learner.optimizer.state.values()]
    momentum_b = [s["momentum_buffer"] for s in b.learner.optimizer.state.values()]
    assert all(torch.equal(x, y) for x, y in zip(momentum_a, momentum_b))
    assert np.array_equal(a.replay.priorities, b.replay.priorities)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two segments of 20 env steps, as the runner plays them: a checkpoint at each evaluation point."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    agent = EfficientZeroAgent(segment_env(0).spec, preset="smoke", seed=0, config=tiny_config())
    root = tmp_path_factory.mktemp("ckpt")
    evals, metrics = [], []

    def on_eval(step):
        evals.append(step)
        agent.save(root / str(step))

    for start, stop in ((0, 20), (20, 40)):
        agent.train(segment_env(start), stop, eval_every=20, on_eval=on_eval, on_metrics=lambda *m: metrics.append(m))
    torch.set_num_threads(threads)
    return agent, root, evals, metrics


def test_smoke_run_learns(trained):
    agent, _, evals, _ = trained
    assert agent.env_steps == 40 and agent.learner.steps == 40
    assert evals == [20, 40]
    # Zero-initialised heads start the value loss at (K + 1) * log(601) ~ 38.4; training must go well below.
    assert agent.last_metrics["value_loss"] < 0.5 * 6 * math.log(601)
    assert agent.last_metrics["value_prefix_loss"] < 0.5 * 5 * math.log(601)


def test_metrics_report_throughput(trained):
    _, _, _, metrics = trained
    # log_interval 20: updates 20 and 40, reported with the env steps at which they ran.
    assert [m["update"] for _, m in metrics] == [20, 40]
    assert [steps for steps, _ in metrics] == [m["env_steps"] for _, m in metrics]
    for _, m in metrics:
        assert m["updates_per_s"] > 0 and m["env_steps_per_s"] > 0
        shares = [m[f"share_{stage}"] for stage in ("train", "reanalyze", "search", "env", "data")]
        assert all(0 < share < 1 for share in shares)
        # Only reanalysis may run beside another stage (in its worker thread).
        assert sum(shares) - m["share_reanalyze"] <= 1 + 1e-6


def test_resume_from_an_evaluation_point_continues_bit_for_bit(trained):
    # The checkpoint written at the evaluation callback of step 20, continued in the same fresh env
    # the uninterrupted agent got for its second segment, must reach the very same weights.
    agent, root, _, _ = trained
    resumed = EfficientZeroAgent.load(root / "20")
    assert (resumed.env_steps, resumed.learner.steps) == (20, 20)
    resumed.train(segment_env(20), 40, eval_every=20, on_eval=lambda step: None)
    assert_same_state(resumed, agent)


def test_checkpoint_resumes_to_the_same_step(trained):
    agent, root, _, _ = trained
    loaded = EfficientZeroAgent.load(root / "40")
    assert_same_state(loaded, agent)
    assert len(loaded.replay) == len(agent.replay)
    # Same weights and RNG states: the same actions.
    obs = make_env(GAME, num_envs=3, mode="eval", seed=5).reset()
    assert np.array_equal(loaded.act(obs, greedy=False), EfficientZeroAgent.load(root / "40").act(obs, greedy=False))
    loaded.train(segment_env(40), 44)
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
