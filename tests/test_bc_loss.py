"""BC's masked cloning loss against hand values, and its targets drawn from datasets with and without teacher targets."""

import math

import numpy as np
import pytest
import torch

from baselines.bc.config import preset_config
from baselines.bc.learner import cloning_loss, offline_batch, task_rows, train_stage
from baselines.bc.networks import BCNet
from baselines.efficientzero.networks import mask_logits
from baselines.offline import find_targets, open_tasks, task_shares
from data_synthetic import FRAME_SHAPE, tagged_episode, write_synthetic
from xtra_bench.data import Dataset, SamplerConfig, targets_path, write_targets
from xtra_bench.errors import ConfigError



def test_masked_loss_is_the_cross_entropy_over_the_games_actions_only():
    logits = torch.tensor([[1.0, 2.0, 3.0, 100.0]], requires_grad=True)
    legal = torch.tensor([[True, True, True, False]])
    target = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    loss = cloning_loss(logits, target, legal)
    log_z = math.log(math.e + math.e**2 + math.e**3)  # the illegal logit of 100 takes no part
    assert loss.item() == pytest.approx(-(0.5 * (1 - log_z) + 0.5 * (2 - log_z)), rel=1e-6)
    policy = torch.softmax(mask_logits(logits, legal), dim=-1)
    assert policy[0, 3].item() == 0.0 and policy.sum().item() == pytest.approx(1.0)
    loss.sum().backward()
    # No gradient reaches another game's action; the legal gradient is softmax - target.
    expected = torch.tensor([math.e, math.e**2, math.e**3]) / math.exp(log_z) - torch.tensor([0.5, 0.5, 0.0])
    assert logits.grad[0, 3].item() == 0.0
    assert torch.allclose(logits.grad[0, :3], expected, atol=1e-6)


def test_one_hot_targets_give_minus_log_probability():
    logits = torch.zeros(2, 18)
    legal = torch.zeros(2, 18, dtype=torch.bool)
    legal[:, [0, 1, 3]] = True
    target = torch.zeros(2, 18)
    target[0, 3] = target[1, 0] = 1.0
    np.testing.assert_allclose(cloning_loss(logits, target, legal).numpy(), [math.log(3)] * 2, rtol=1e-6)


def test_task_shares_are_equal_and_exact():
    assert task_shares(256, 3) == [86, 85, 85] and task_shares(256, 8) == [32] * 8
    with pytest.raises(ConfigError, match="cannot give each of 4 tasks"):
        task_shares(3, 4)


@pytest.fixture
def synthetic_dataset(tmp_path):
    # Channel 0 of every frame is the episode's tag and every action is k mod 3: a policy the frames determine.
    episodes = [tagged_episode(40 * k, [0.0] * 6, actions=[k % 3] * 6) for k in range(1, 7)]
    return write_synthetic(tmp_path / "synthetic.hdf5", episodes)


def open_one(path, use_targets, teacher_id=""):
    config = SamplerConfig(frame_stack=2, unroll_steps=1, n_step=1)
    tasks = open_tasks([path], frame_shape=FRAME_SHAPE, head_width=18, sampler_config=config, use_targets=use_targets,
                       teacher_id=teacher_id)
    return tasks[0]


def label(dataset, teacher_id, policy):
    """Writes a targets file of ``teacher_id`` beside ``dataset``."""
    rows = dataset.header.num_rows
    write_targets(targets_path(dataset.path, teacher_id), dataset, teacher_id=teacher_id, policy=policy,
                  root_value=np.zeros(rows), checkpoint_sha256="0" * 64, search={"simulations": 50})


def test_targets_are_teacher_policies_in_the_games_head_entries(synthetic_dataset):
    # The synthetic game's actions are the shared ids (0, 4, 3) of MinAtar-Breakout.
    task = open_one(synthetic_dataset, use_targets=True)
    assert not task.has_targets and find_targets(synthetic_dataset) is None
    _, target = task_rows(task, 32, use_targets=True)
    assert (target.sum(1) == 1).all() and (target[:, [1, 2] + list(range(5, 18))] == 0).all()

    dataset = Dataset(synthetic_dataset)
    policy = np.tile(np.float32([0.2, 0.3, 0.5]), (dataset.header.num_rows, 1))
    label(dataset, "teacherA", policy)
    task = open_one(synthetic_dataset, use_targets=True)
    assert task.has_targets
    _, target = task_rows(task, 32, use_targets=True)
    expected = np.zeros(18, np.float32)
    expected[[0, 4, 3]] = [0.2, 0.3, 0.5]
    np.testing.assert_allclose(target, np.tile(expected, (32, 1)))
    _, actions_only = task_rows(open_one(synthetic_dataset, use_targets=False), 32, use_targets=False)
    assert (actions_only.max(1) == 1).all()

    label(dataset, "teacherB", policy)
    with pytest.raises(ConfigError, match="several targets files.*set teacher_id"):
        open_one(synthetic_dataset, use_targets=True)
    assert open_one(synthetic_dataset, use_targets=True, teacher_id="teacherB").has_targets
    with pytest.raises(ConfigError, match="no targets of teacher 'teacherC'"):
        open_one(synthetic_dataset, use_targets=True, teacher_id="teacherC")


def test_cloning_learns_a_policy_that_the_frames_determine(synthetic_dataset):
    torch.manual_seed(0)
    cfg = preset_config("smoke", frame_stack=2, shift_pad=0, intensity_scale=0.0, batch_size=32, lr=0.1, log_interval=0)
    net = BCNet(FRAME_SHAPE, cfg)
    task = open_one(synthetic_dataset, use_targets=False)
    metrics = train_stage(net, [task], 300, cfg, torch.device("cpu"), "pretrain")
    assert metrics["pretrain_updates"] == 300
    net.eval()
    batch = offline_batch([task], 64, False, torch.device("cpu"))
    with torch.no_grad():
        chosen = mask_logits(net(batch.obs.permute(0, 1, 4, 2, 3).reshape(64, 4, 3, 3).float() / 255), batch.legal).argmax(1)
    assert (chosen == batch.target.argmax(1)).float().mean().item() > 0.95
