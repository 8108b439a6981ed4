"""Smoke runs of ``curl`` and ``curl-pretrained`` on the bundled samples: they learn, checkpoint and resume."""

import numpy as np
import pytest
import torch

from baselines.curl.agent import CurlAgent, CurlPretrainedAgent
from baselines.curl.config import preset_config
from xtra_bench.data.registry import bundled_manifest
from xtra_bench.envs import make_env
from xtra_bench.errors import ConfigError

SAMPLES = bundled_manifest().parent / "samples"
PRETRAIN = [SAMPLES / "MinAtar-Asterix-random-sample.hdf5"]
TARGET = "MinAtar-Breakout"



def test_curl_smoke_run_learns_checkpoints_and_resumes(tmp_path):
    env = make_env(TARGET, num_envs=2, seed=0)
    agent = CurlAgent(env.spec, preset="smoke", seed=0)
    evals, metrics = [], []
    agent.train(env, 80, eval_every=40, on_eval=evals.append, on_metrics=lambda s, m: metrics.append((s, m)))
    assert evals == [40, 80] and agent.env_steps == 80
    # Learning starts after 32 steps, one update per agent step from then on.
    assert agent.learner.steps == 80 - 32 and len(agent.replay) > 0
    assert metrics and all(np.isfinite(m["distributional_loss"]) and m["env_steps"] <= 80 for _, m in metrics)
    agent.save(tmp_path / "curl")
    loaded = CurlAgent.load(tmp_path / "curl")
    assert (loaded.env_steps, loaded.learner.steps, len(loaded.replay)) == (80, 48, len(agent.replay))
    for name, tensor in agent.net.state_dict().items():
        assert torch.equal(tensor, loaded.net.state_dict()[name]), name
    obs = make_env(TARGET, num_envs=3, mode="eval", seed=5).reset()
    np.testing.assert_array_equal(loaded.act(obs), agent.act(obs))
    loaded.train(env, 90)
    assert loaded.env_steps == 90 and loaded.learner.steps == 58


def test_curl_pretrained_pretrains_multi_task_then_finetunes(tmp_path):
    env = make_env(TARGET, num_envs=2, seed=0)
    agent = CurlPretrainedAgent(env.spec, preset="smoke", seed=0)
    assert agent.net.action_space == 18
    initial = {k: v.clone() for k, v in agent.net.state_dict().items()}
    agent.pretrain(PRETRAIN, tmp_path / "stage1")
    assert agent.pretrained_from == ["MinAtar-Asterix"]
    changed = [k for k, v in agent.net.state_dict().items() if not torch.equal(v, initial[k])]
    assert "encoder.convs.0.weight" in changed and "W" in changed
    # A second agent with the same inputs loads the cached pretraining instead of training again.
    cached = list((tmp_path / "stage1").glob("*.pt"))
    assert len(cached) == 1
    again = CurlPretrainedAgent(env.spec, preset="smoke", seed=0)
    again.pretrain(PRETRAIN, tmp_path / "stage1")
    for name, tensor in agent.net.state_dict().items():
        assert torch.equal(tensor, again.net.state_dict()[name]), name
    agent.train(env, 60)
    assert agent.learner.steps == 60 - 32
    actions = agent.act(make_env(TARGET, num_envs=4, mode="eval", seed=1).reset(), greedy=False)
    assert actions.shape == (4,) and ((actions >= 0) & (actions < env.spec.num_actions)).all()
    agent.save(tmp_path / "ckpt")
    assert CurlPretrainedAgent.load(tmp_path / "ckpt").pretrained_from == ["MinAtar-Asterix"]


def test_pretraining_refuses_datasets_of_another_suite(tmp_path):
    env = make_env(TARGET, num_envs=1)
    agent = CurlPretrainedAgent(env.spec, preset="smoke")
    with pytest.raises(ConfigError, match=r"frames of shape \[96, 96, 3\], the target's are \[10, 10, 10\]"):
        agent.pretrain([SAMPLES / "Breakout-random-sample.hdf5"], tmp_path)
    with pytest.raises(ConfigError, match="at least one pretraining dataset"):
        agent.pretrain([], tmp_path)


def test_config_rejects_unknown_and_bad_settings():
    with pytest.raises(ConfigError, match="unknown CURL setting.*Did you mean 'n_step'"):
        preset_config("paper", nstep=3)
    with pytest.raises(ConfigError, match="v_max"):
        preset_config("paper", v_max=-20.0)
