"""Stage 2's update under the literal Eq. 1 (``loss_normalisation="eq1"``): eta = 0 is EfficientZero's step, Eq. 1's weighting, window gradients and exact task shares."""

import copy

import numpy as np
import pytest
import torch

from baselines.efficientzero.learner import Learner
from baselines.efficientzero.losses import efficientzero_loss
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.xtra.config import equal_share, student_config, xtra_config
from baselines.xtra.finetune import CrossTaskLearner
from baselines.xtra.offline import OfflineTasks
from baselines.xtra.task_weights import gradient_cosines
from xtra_bench.errors import ConfigError
from tests.xtra_fixtures import labelled_tasks

ROWS = 6  # offline rows per task: 12 rows over the two tasks



@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    return labelled_tasks(tmp_path_factory.mktemp("targets"))


def config():
    # No warm-up, so the first update already moves the weights.
    return student_config("smoke", lr_warmup_fraction=0.0, batch_size=8)


def make(task_files, seed=0):
    cfg = config()
    torch.manual_seed(seed)
    net = EfficientZeroNet((10, 10, 10), 18, cfg)
    tasks = OfflineTasks(task_files, cfg, seed=3, device="cpu")
    target_batch = tasks.sample(8, [1]).batch  # any batch of the target's shape serves as the target batch
    return cfg, net, tasks, target_batch


def xcfg(**kw):
    # Counters from 0 and no clamp: the plain rule these tests compute by hand.
    return xtra_config("smoke", offline_batch_size=2 * ROWS, loss_normalisation="eq1", count_start=0, cosine_grad_clamp=0.0, **kw)


def test_eta_zero_is_the_plain_efficientzero_step(task_files):
    cfg, net, tasks, batch = make(task_files)
    plain_net = copy.deepcopy(net)
    learner = CrossTaskLearner(net, cfg, xcfg(adaptive_weights=False, initial_weight=0.0), tasks, seed=7)
    learner.update(batch)
    Learner(plain_net, cfg, seed=7).update(batch)
    for name, value in plain_net.state_dict().items():
        assert torch.equal(value, net.state_dict()[name]), name


def reference_step(net, cfg, target_batch, offline_batch, eta, seed):
    """Eq. 1 written out: each task's loss from the whole offline forward with weights selecting its rows."""
    generator = torch.Generator().manual_seed(seed)
    loss = efficientzero_loss(net, target_batch, cfg, generator=generator).loss
    offline_augment = generator.get_state()
    per_task = []
    for i in range(len(eta)):
        generator.set_state(offline_augment)  # the same augmentation as the learner's single offline forward
        select = torch.zeros(len(eta) * ROWS)
        select[i * ROWS : (i + 1) * ROWS] = len(eta)  # mean over all rows of select * l = mean over task i's rows
        per_task.append(efficientzero_loss(net, offline_batch._replace(weights=select), cfg, generator=generator).loss)
    return loss, per_task


def test_offline_losses_are_weighted_by_eta(task_files):
    cfg, net, tasks, batch = make(task_files)
    eta = [0.5, 0.25]
    ref_net = copy.deepcopy(net)
    offline_batch = OfflineTasks(task_files, cfg, seed=3, device="cpu")
    offline_batch.sample(8, [1])  # advance the copy's draws past the target batch, like ``tasks``
    offline_batch = offline_batch.sample(ROWS, [0, 1]).batch
    learner = CrossTaskLearner(net, cfg, xcfg(adaptive_weights=False), tasks, seed=11)
    learner.weights.load_state_dict({"eta": eta, "counts": [0, 0]})
    metrics = learner.update(batch).metrics
    assert metrics["eta/MinAtar-Asterix"] == 0.5 and metrics["eta/MinAtar-Breakout"] == 0.25

    ref_net.train()
    loss, per_task = reference_step(ref_net, cfg, batch, offline_batch, eta, seed=11)
    (loss + sum(e * l for e, l in zip(eta, per_task))).backward()
    torch.nn.utils.clip_grad_norm_(ref_net.parameters(), cfg.max_grad_norm)
    torch.optim.SGD(ref_net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay).step()
    for (name, p), q in zip(ref_net.named_parameters(), net.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6, msg=name)
    # scale_gradient only scales the backward: the logged value is the task's mean loss.
    assert metrics["loss/MinAtar-Asterix"] == pytest.approx(float(per_task[0].detach()), rel=1e-4)


def test_window_step_measures_cosines_and_keeps_the_update(task_files):
    cfg, net, tasks, batch = make(task_files)
    eta = np.array([0.5, 0.25])
    plain = CrossTaskLearner(copy.deepcopy(net), cfg, xcfg(adaptive_weights=False), OfflineTasks(task_files, cfg, seed=3, device="cpu"), seed=5)
    plain.tasks.sample(8, [1])
    plain.weights.load_state_dict({"eta": eta.tolist(), "counts": [0, 0]})
    reports = []
    windowed = CrossTaskLearner(net, cfg, xcfg(weights_start=0, weights_window=2, weights_cycle=4), tasks, report=reports.append, seed=5)
    windowed.weights.load_state_dict({"eta": eta.tolist(), "counts": [0, 0]})
    ref_net = copy.deepcopy(net)

    windowed.update(batch)
    plain.update(batch)
    for p, q in zip(plain.net.parameters(), windowed.net.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6)  # g_target + sum eta_i g_i, assembled by hand

    # Reference cosines: gradients of each loss taken on its own.
    offline = OfflineTasks(task_files, cfg, seed=3, device="cpu")
    offline.sample(8, [1])
    ref_net.train()
    loss, per_task = reference_step(ref_net, cfg, batch, offline.sample(ROWS, [0, 1]).batch, eta, seed=5)
    params = list(ref_net.parameters())
    def grad(l):
        return [torch.zeros_like(p) if g is None else g for g, p in zip(torch.autograd.grad(l, params, retain_graph=True, allow_unused=True), params)]
    expected = gradient_cosines(grad(loss), [grad(l) for l in per_task])
    assert list(reports[0]) == ["eta/MinAtar-Asterix", "eta/MinAtar-Breakout", "cos/MinAtar-Asterix", "cos/MinAtar-Breakout"]
    np.testing.assert_allclose([reports[0]["cos/MinAtar-Asterix"], reports[0]["cos/MinAtar-Breakout"]], expected, rtol=1e-3, atol=1e-4)


def test_every_batch_gives_each_task_its_exact_share(task_files):
    cfg, net, tasks, batch = make(task_files)
    draws = []
    sample = tasks.sample

    def recording(rows, which, beta):
        out = sample(rows, which, beta)
        draws.append((learner.steps, list(which), out.batch.legal.sum(dim=1).tolist()))
        return out

    tasks.sample = recording
    learner = CrossTaskLearner(net, cfg, xcfg(weights_start=1, weights_window=1, weights_cycle=2), tasks)
    for _ in range(4):
        learner.update(batch)
    actions = {0: 5, 1: 3}  # Asterix has 5 actions, Breakout 3
    for _, which, legal_counts in draws:
        # Each drawn task's rows are exactly ROWS, in order; tasks at eta 0 are skipped outside windows.
        assert legal_counts == [actions[i] for i in which for _ in range(ROWS)]
    by_step = {step: which for step, which, _ in draws}
    assert by_step[0] == by_step[1] == by_step[3] == [0, 1]  # eta 1 before the start; window steps 1 and 3 draw every task


@pytest.mark.parametrize("total, tasks, share", [(256, 8, 32), (256, 4, 64), (256, 3, 85), (256, 5, 51), (2, 2, 1)])
def test_equal_share(total, tasks, share):
    assert equal_share(total, tasks) == share


def test_too_small_a_batch_is_refused():
    with pytest.raises(ConfigError, match="cannot give each of 3 tasks a row"):
        equal_share(2, 3)
