import functools
import sys
import textwrap

import numpy as np
import pytest

from xtra_bench.agents import AgentRegistry, RandomAgent, default_registry
from xtra_bench.envs import make_env, make_spec
from xtra_bench.errors import UnknownNameError, XtraBenchError
from xtra_bench.evaluation import episode_quotas, evaluate


def test_random_agent_acts_in_range_and_trains_with_eval_callbacks():
    spec = make_spec("MinAtar-Breakout")
    agent = default_registry().make("random", spec, seed=0)
    acts = agent.act(np.zeros((64, *spec.obs_shape), np.uint8))
    assert acts.shape == (64,) and set(acts.tolist()) == {0, 1, 2}
    evals = []
    with make_env("MinAtar-Breakout", 4) as env:
        agent.train(env, 100, eval_every=20, on_eval=evals.append)
    assert evals == [20, 40, 60, 80, 100]


def test_checkpoint_round_trip_continues_the_same_action_stream(tmp_path):
    spec = make_spec("Pong")
    agent = RandomAgent(spec, seed=3)
    agent.act(np.zeros((5, 1)))
    agent.save(tmp_path / "ckpt")
    restored = default_registry().load_checkpoint(tmp_path / "ckpt")
    assert isinstance(restored, RandomAgent) and restored.spec == spec
    assert (restored.act(np.zeros((50, 1))) == agent.act(np.zeros((50, 1)))).all()
    with pytest.raises(XtraBenchError, match="not an agent checkpoint"):
        default_registry().load_checkpoint(tmp_path)


def test_unknown_agent_and_preset():
    registry = default_registry()
    with pytest.raises(UnknownNameError, match="unknown agent 'randon'. Did you mean 'random'"):
        registry.make("randon", make_spec("Pong"))
    with pytest.raises(UnknownNameError, match="unknown preset"):
        registry.make("random", make_spec("Pong"), preset="huge")


def test_agents_from_other_packages_load_through_entry_points(tmp_path, monkeypatch):
    # An installed distribution, as pip would leave it: a module and a dist-info with the entry point.
    (tmp_path / "plugin_agent.py").write_text(textwrap.dedent("""
        from xtra_bench.agents import RandomAgent
        class PluginAgent(RandomAgent):
            name = "plugin"
            description = "an agent from another package"
    """))
    dist = tmp_path / "plugin_agent-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-agent\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[xtra_bench.agents]\nplugin = plugin_agent:PluginAgent\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = default_registry()
    assert "plugin" in registry.names()
    assert registry.info("plugin").source == "plugin_agent:PluginAgent"
    assert type(registry.make("plugin", make_spec("Pong"))).__name__ == "PluginAgent"
    sys.modules.pop("plugin_agent", None)


def test_registry_refuses_two_agents_with_one_name():
    registry = AgentRegistry(include_entry_points=False)
    registry.register(RandomAgent)

    class Other(RandomAgent):
        name = "random"

    with pytest.raises(ValueError, match="already registered"):
        registry.register(Other)


@pytest.mark.parametrize("episodes, envs, quotas", [(32, 8, [4] * 8), (10, 4, [3, 3, 2, 2]), (3, 3, [1, 1, 1])])
def test_episode_quotas(episodes, envs, quotas):
    assert episode_quotas(episodes, envs).tolist() == quotas


def test_evaluate_plays_exactly_the_asked_episodes_and_is_reproducible():
    agent = RandomAgent(make_spec("MinAtar-Freeway"), seed=0)
    act = functools.partial(agent.act, greedy=True)
    returns = evaluate(act, "MinAtar-Freeway", 5, num_envs=2, max_episode_steps=300)
    assert returns.shape == (5,) and (returns >= 0).all()
    again = evaluate(functools.partial(RandomAgent(agent.spec, seed=0).act), "MinAtar-Freeway", 5, num_envs=2,
                     max_episode_steps=300)
    assert (returns == again).all()


def test_eval_of_a_capped_game_scores_its_whole_game():
    # Pong with a 400-frame cap: every game is truncated after <= 100 steps, long before 21 points.
    agent = RandomAgent(make_spec("Pong"), seed=0)
    returns = evaluate(agent.act, "Pong", 4, num_envs=2, max_episode_frames=400)
    assert returns.shape == (4,) and (returns == returns.round()).all() and (abs(returns) < 21).all()
