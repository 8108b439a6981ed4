"""Smoke runs of ``bc-zero-shot`` and ``bc-finetuned`` on the bundled samples, and the registration of all four new agents."""

import configparser
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.bc.agent import BCFinetunedAgent, BCZeroShotAgent
from baselines.curl.agent import CurlAgent, CurlPretrainedAgent
from xtra_bench.agents import PRESETS
from xtra_bench.data.registry import bundled_manifest
from xtra_bench.envs import make_env
from xtra_bench.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN = [bundled_manifest().parent / "samples" / "MinAtar-Asterix-random-sample.hdf5"]
TARGET = "MinAtar-Breakout"



@pytest.fixture(autouse=True)
def isolated_data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("XTRA_BENCH_REGISTRY", raising=False)


class CountingEnv:
    """Wraps a vector env and counts the steps taken through it."""

    def __init__(self, env):
        self.env, self.spec, self.num_envs, self.steps = env, env.spec, env.num_envs, 0

    def reset(self):
        return self.env.reset()

    def step(self, actions):
        self.steps += 1
        return self.env.step(actions)


def weights(agent):
    return {k: v.clone() for k, v in agent.net.state_dict().items()}


def test_bc_zero_shot_pretrains_and_takes_no_step_on_the_target(tmp_path):
    env = CountingEnv(make_env(TARGET, num_envs=2, seed=0))
    agent = BCZeroShotAgent(env.spec, preset="smoke", seed=0)
    initial = weights(agent)
    agent.pretrain(PRETRAIN, tmp_path / "stage1")
    assert agent.pretrained_from == ["MinAtar-Asterix"]
    assert not torch.equal(initial["representation.stem.0.weight"], agent.net.state_dict()["representation.stem.0.weight"])
    pretrained = weights(agent)
    evals = []
    agent.train(env, 1000, eval_every=100, on_eval=evals.append)
    assert env.steps == 0 and evals == []
    assert all(torch.equal(v, agent.net.state_dict()[k]) for k, v in pretrained.items())
    obs = make_env(TARGET, num_envs=16, mode="eval", seed=3).reset()
    for greedy in (True, False):
        actions = agent.act(obs, greedy=greedy)
        assert actions.dtype == np.int64 and ((actions >= 0) & (actions < env.spec.num_actions)).all()
    agent.save(tmp_path / "ckpt")
    loaded = BCZeroShotAgent.load(tmp_path / "ckpt")
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    assert loaded.pretrained_from == ["MinAtar-Asterix"]


def test_bc_finetuned_clones_the_targets_dataset_from_the_registry(tmp_path):
    env = CountingEnv(make_env(TARGET, num_envs=2, seed=0))
    agent = BCFinetunedAgent(env.spec, preset="smoke", seed=0)
    agent.pretrain(PRETRAIN, tmp_path / "stage1")
    # Both BC agents share one cached pretraining.
    zero_shot = BCZeroShotAgent(env.spec, preset="smoke", seed=0)
    zero_shot.pretrain(PRETRAIN, tmp_path / "stage1")
    assert len(list((tmp_path / "stage1").glob("bc-*.pt"))) == 1
    assert all(torch.equal(v, agent.net.state_dict()[k]) for k, v in weights(zero_shot).items())
    metrics = []
    agent.train(env, 1000, on_metrics=lambda steps, m: metrics.append((steps, m)))
    assert env.steps == 0 and agent.finetuned_on == "xtra/MinAtar-Breakout/random-sample-v1"
    assert metrics[-1][0] == 0 and metrics[-1][1]["finetune_updates"] == agent.cfg.finetune_updates
    assert not all(torch.equal(v, agent.net.state_dict()[k]) for k, v in weights(zero_shot).items())
    finetuned = weights(agent)
    agent.train(env, 1000)  # already finetuned: nothing more happens
    assert all(torch.equal(v, agent.net.state_dict()[k]) for k, v in finetuned.items())
    agent.save(tmp_path / "ckpt")
    assert BCFinetunedAgent.load(tmp_path / "ckpt").finetuned_on == agent.finetuned_on


def test_bc_finetuned_names_a_missing_target_dataset(samples_only_registry):
    env = make_env(TARGET, num_envs=1)
    agent = BCFinetunedAgent(env.spec, preset="paper")
    with pytest.raises(ConfigError, match="no 'ez-checkpoints' dataset of MinAtar-Breakout.*random-sample-v1"):
        agent.train(env, 10)


def test_all_four_agents_are_registered_with_the_presets():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    lines = parser["options.entry_points"]["xtra_bench.agents"].strip().splitlines()
    registered = {}
    for line in lines:
        name, target = (part.strip() for part in line.split("="))
        module, cls = target.split(":")
        registered[name] = getattr(importlib.import_module(module), cls)
    expected = {
        "curl": CurlAgent,
        "curl-pretrained": CurlPretrainedAgent,
        "bc-zero-shot": BCZeroShotAgent,
        "bc-finetuned": BCFinetunedAgent,
    }
    assert {name: registered.get(name) for name in expected} == expected
    assert {"efficientzero", "efficientzero-l"} <= set(registered)
    spec = make_env(TARGET).spec
    for name, cls in expected.items():
        assert cls.name == name
        for preset in PRESETS:
            assert cls(spec, preset=preset).preset == preset
