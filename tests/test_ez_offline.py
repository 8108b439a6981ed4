"""Offline EfficientZero on the bundled MinAtar-Breakout sample: it learns, checkpoints by reference, resumes exactly."""

import json
import math

import numpy as np
import pytest
import torch

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import preset_config
from baselines.efficientzero.offline import DatasetReplay
from xtra_bench.data import Dataset
from xtra_bench.data.registry import bundled_manifest
from xtra_bench.envs import make_spec
from xtra_bench.errors import ConfigError

SAMPLES = bundled_manifest().parent / "samples"
GAME = "MinAtar-Breakout"



@pytest.fixture(scope="module")
def dataset():
    return Dataset(SAMPLES / "MinAtar-Breakout-random-sample.hdf5")


def make_agent(seed=0):
    cfg = preset_config("smoke", batch_size=8, num_simulations=2, log_interval=5)
    return EfficientZeroAgent(make_spec(GAME), preset="smoke", seed=seed, config=cfg)


def test_offline_training_lowers_the_loss(dataset):
    agent = make_agent()
    metrics = []
    agent.train_offline(dataset, 30, on_metrics=lambda step, m: metrics.append((step, m)))
    assert agent.learner.steps == 30 and agent.env_steps == 0
    assert [step for step, _ in metrics] == [5, 10, 15, 20, 25, 30]
    first, last = metrics[0][1], metrics[-1][1]
    # Zero-initialised heads start at (K + 1) log 601 (value) and K log 601 (value prefix).
    assert first["value_loss"] < 6 * math.log(601) + 1e-3
    assert last["value_loss"] < 0.5 * first["value_loss"]
    assert last["value_prefix_loss"] < 0.5 * first["value_prefix_loss"]
    assert last["updates_per_s"] > 0 and 0 < last["share_reanalyze"] < 1


def test_dataset_replay_follows_the_learning_conventions(dataset):
    cfg = preset_config("smoke")
    layout = dict(frame_stack=4, num_unroll=5, td_steps=5, td_age_interval=100, min_td_steps=1, alpha=0.6, seed=0)
    replay = DatasetReplay(dataset, np.array([0, 1, 2]), 3, clip_rewards=cfg.clip_rewards, life_loss_terminal=True, **layout)
    columns = dataset.read_columns()
    assert len(replay) == dataset.total_steps
    # Every game of this sample ends in a game over; each row's window stops at its game's last row.
    last_rows = np.flatnonzero(columns["is_last"])
    assert np.array_equal(np.unique(replay.last), last_rows) and replay.terminal.all()
    sample = replay.sample(64, beta=1.0, env_step=0)
    assert (sample.td == 5).all()  # dataset rows get the full n: they are not the learner's old data
    assert not sample.search_policy.any()  # no stored policies: reanalysis provides them
    np.testing.assert_array_equal(sample.rewards[:, 0], np.sign(columns["reward"][sample.rows]))


def test_offline_checkpoint_holds_a_reference_and_resumes_exactly(dataset, tmp_path):
    agent = make_agent(seed=1)
    agent.train_offline(dataset, 10)
    agent.save(tmp_path / "ckpt")
    agent.train_offline(dataset, 20)

    state = torch.load(tmp_path / "ckpt" / "state.pt", weights_only=True)
    assert state["offline"]["dataset"] == {"path": str(dataset.path), "sha256": dataset.sha256}
    assert "frames" not in state["offline"] and len(state["replay"]["frames"]) == 0
    meta = json.loads((tmp_path / "ckpt" / "agent.json").read_text())
    assert meta["offline_dataset"]["sha256"] == dataset.sha256 and meta["updates"] == 10

    resumed = EfficientZeroAgent.load(tmp_path / "ckpt")
    assert resumed.offline_dataset == {"path": str(dataset.path), "sha256": dataset.sha256}
    resumed.train_offline(Dataset(dataset.path), 20)
    assert resumed.learner.steps == 20
    for name, tensor in agent.net.state_dict().items():
        assert torch.equal(tensor, resumed.net.state_dict()[name]), name
    assert np.array_equal(resumed.offline.priorities, agent.offline.priorities)


def test_a_dataset_of_another_game_is_refused():
    agent = make_agent()
    with pytest.raises(ConfigError, match="holds Breakout"):
        agent.train_offline(Dataset(SAMPLES / "Breakout-random-sample.hdf5"), 1)


def test_pretrain_stays_a_no_op(dataset, tmp_path):
    agent = make_agent()
    before = {k: v.clone() for k, v in agent.net.state_dict().items()}
    agent.pretrain([dataset.path], tmp_path)
    assert agent.learner.steps == 0
    assert all(torch.equal(v, agent.net.state_dict()[k]) for k, v in before.items())
