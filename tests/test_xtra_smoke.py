"""XTRA end to end on the bundled MinAtar samples: teacher -> targets -> student -> finetune, on a CPU."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.xtra.agent import XtraAgent, XtraNoPretrainingAgent
from baselines.xtra.config import student_config, xtra_config
from xtra_bench.data import Dataset, read_targets
from xtra_bench.data.targets import targets_path
from xtra_bench.envs import make_env, make_spec
from xtra_bench.errors import ConfigError
from tests.xtra_fixtures import PRETRAIN, TARGET, sample_path

STEPS = 40
RESUME_AT = 30
WINDOWS = [s for s in range(STEPS) if s >= 2 and (s - 2) % 4 < 2]  # start 2, cycle 4, window 2


def configs():
    cfg = student_config("smoke", batch_size=8, num_simulations=2, min_replay_size=8, log_interval=10)
    xcfg = xtra_config(
        "smoke",
        teacher_updates=3,
        relabel_simulations=2,
        distill_updates=3,
        distill_batch_size=8,
        offline_batch_size=8,
        weights_start=2,
        weights_cycle=4,
        weights_window=2,
    )
    return cfg, xcfg


def artifacts(workdir):
    return {p.name: json.loads((p / "artifact.json").read_text())["kind"] for p in workdir.iterdir() if (p / "artifact.json").is_file()}


def segment_env(step: int):
    """The runner's env for the segment starting at ``step``: every segment starts fresh games."""
    return make_env(TARGET, num_envs=2, mode="train", seed=1000 + step)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two segments, 0-30 and 30-40 env steps, as the runner plays them, with a checkpoint at step 30."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    workdir = tmp_path_factory.mktemp("stage1")
    checkpoints = tmp_path_factory.mktemp("checkpoints")
    cfg, xcfg = configs()
    agent = XtraAgent(make_spec(TARGET), preset="smoke", seed=0, config=cfg, xtra=xcfg)
    agent.pretrain([sample_path(PRETRAIN)], workdir)
    metrics = []

    def on_eval(step):
        if step == RESUME_AT:
            agent.save(checkpoints / str(step))

    for start, stop in ((0, RESUME_AT), (RESUME_AT, STEPS)):
        agent.train(segment_env(start), stop, eval_every=RESUME_AT, on_eval=on_eval, on_metrics=lambda step, m: metrics.append(m))
    torch.set_num_threads(threads)
    return agent, workdir, metrics, checkpoints


def test_stage1_builds_a_teacher_its_targets_and_a_student(run):
    agent, workdir, _, _ = run
    assert sorted(artifacts(workdir).values()) == ["student", "targets", "teacher"]
    task = agent.stage1.tasks[0]
    targets = read_targets(task.targets, Dataset(task.dataset))
    assert targets.policy.shape == (Dataset(sample_path(PRETRAIN)).header.num_rows, 5)
    assert targets.search["num_simulations"] == 2 and targets.search["root_noise"] is False


def test_finetuning_reports_every_cosine_and_eta(run):
    agent, _, metrics, _ = run
    assert agent.learner.steps == STEPS
    cosines = [m for m in metrics if f"cos/{PRETRAIN}" in m]
    assert len(cosines) == len(WINDOWS)  # one report per window step
    assert all(-1.0 <= m[f"cos/{PRETRAIN}"] <= 1.0 for m in cosines)
    logged = [m for m in metrics if "total_loss" in m]
    assert logged and all(f"eta/{PRETRAIN}" in m for m in logged)
    # Windows of 2 steps with counters from 1 (XTRA's code): eta = (1 + count) / 3.
    assert {m[f"eta/{PRETRAIN}"] for m in cosines} <= {0.33, 0.67, 1.0}
    assert all(np.isfinite(m["total_loss"]) for m in logged)


def test_stage1_is_reused_and_a_variant_takes_only_what_it_needs(run, tmp_path):
    agent, workdir, _, _ = run
    before = {p.name: (p / "artifact.json").stat().st_mtime_ns for p in workdir.iterdir() if p.is_dir()}
    cfg, xcfg = configs()
    other_seed = XtraAgent(make_spec(TARGET), preset="smoke", seed=1, config=cfg, xtra=xcfg)
    other_seed.pretrain([sample_path(PRETRAIN)], workdir)
    assert other_seed.stage1 == agent.stage1
    no_pretraining = XtraNoPretrainingAgent(make_spec(TARGET), preset="smoke", seed=0, config=cfg, xtra=dataclasses.replace(xcfg, pretrained=False))
    no_pretraining.pretrain([sample_path(PRETRAIN)], workdir)
    assert no_pretraining.stage1.student is None and no_pretraining.stage1.tasks == agent.stage1.tasks
    after = {p.name: (p / "artifact.json").stat().st_mtime_ns for p in workdir.iterdir() if p.is_dir()}
    assert after == before  # nothing rebuilt


def test_checkpoint_restores_offline_tasks_and_weights(run, tmp_path):
    agent, _, _, _ = run
    agent.save(tmp_path / "ckpt")
    loaded = XtraAgent.load(tmp_path / "ckpt")
    assert loaded.learner.tasks.games == (PRETRAIN,)
    np.testing.assert_array_equal(loaded.learner.weights.eta, agent.learner.weights.eta)
    assert loaded.xcfg == agent.xcfg and loaded.learner.steps == STEPS


def test_training_without_stage1_is_refused():
    cfg, xcfg = configs()
    agent = XtraAgent(make_spec(TARGET), preset="smoke", config=cfg, xtra=xcfg)
    with pytest.raises(ConfigError, match="needs stage 1 first"):
        agent.train(make_env(TARGET, num_envs=1), 4)


def test_resume_continues_exactly(run):
    # The checkpoint of step 30, continued in the env the uninterrupted agent got for its second
    # segment, reaches the same weights, task weights, offline priorities and offline draws.
    agent, _, _, checkpoints = run
    resumed = XtraAgent.load(checkpoints / str(RESUME_AT))
    assert resumed.env_steps == RESUME_AT and 0 < resumed.learner.steps < STEPS
    resumed.train(segment_env(RESUME_AT), STEPS, eval_every=RESUME_AT, on_eval=lambda step: None)
    assert resumed.learner.steps == agent.learner.steps == STEPS
    for name, tensor in agent.net.state_dict().items():
        assert torch.equal(tensor, resumed.net.state_dict()[name]), name
    np.testing.assert_array_equal(resumed.learner.weights.eta, agent.learner.weights.eta)
    (ours,), (theirs,) = agent.learner.tasks.state_dict()["samplers"], resumed.learner.tasks.state_dict()["samplers"]
    assert ours["rng"] == theirs["rng"]
    # Prioritised offline draws: priorities moved off their initial 1 and match row for row.
    assert torch.equal(ours["row_priority"], theirs["row_priority"]) and not ours["uniform"]


def test_published_targets_beside_a_dataset_stand_in_for_its_teacher(run, tmp_path):
    agent, _, _, _ = run
    task = agent.stage1.tasks[0]
    dataset = tmp_path / Path(task.dataset).name
    shutil.copyfile(task.dataset, dataset)
    teacher_id = read_targets(task.targets, Dataset(task.dataset)).teacher_id
    published = targets_path(dataset, teacher_id)  # where a dataset's registry entry puts its targets
    shutil.copyfile(task.targets, published)
    cfg, xcfg = configs()
    fresh = XtraAgent(make_spec(TARGET), preset="smoke", seed=0, config=cfg, xtra=xcfg)
    fresh.pretrain([dataset], tmp_path / "fresh")
    assert sorted(artifacts(tmp_path / "fresh").values()) == ["student"]  # no teacher trained, nothing relabelled
    assert fresh.stage1.tasks[0].targets == published
    # Another relabelling search: the published file does not fit, and the teacher is trained.
    other = XtraAgent(make_spec(TARGET), preset="smoke", seed=0, config=cfg, xtra=dataclasses.replace(xcfg, relabel_simulations=3))
    other.pretrain([dataset], tmp_path / "other")
    assert sorted(artifacts(tmp_path / "other").values()) == ["student", "targets", "teacher"]
