"""XTRA as its release does it: the 512-row loss, prioritised offline rows, the task-weight details, shared stage-1 keys, the paper's extra agents."""

import numpy as np
import pytest
import torch

from baselines.efficientzero.agent import EfficientZeroL512Agent, EfficientZeroLAgent
from baselines.efficientzero.losses import LossOutput
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.xtra import agent as xtra_agents
from baselines.xtra.cache import input_hash
from baselines.xtra.config import student_config, xtra_config
from baselines.xtra.finetune import CrossTaskLearner
from baselines.xtra.offline import OfflineTasks
from baselines.xtra.stage1 import student_inputs, targets_inputs, teacher_inputs
from baselines.xtra.task_weights import TaskWeights, gradient_cosines
from xtra_bench.envs import make_spec
from xtra_bench.runner.jobs import Stage1, stage1_group
from tests.xtra_fixtures import labelled_tasks

TARGET_WEIGHTS = [1.0, 0.5, 1.0, 0.25]  # importance weights of the 4 target rows
ROWS = 2  # offline rows per task (2 tasks): 4 target + 4 offline rows, as 256 + 256 at scale


@pytest.fixture(scope="module")
def task_files(tmp_path_factory):
    return labelled_tasks(tmp_path_factory.mktemp("targets"))


def linear_loss(calls, priorities=None):
    """A stand-in for EfficientZero's loss: row r (1-based in the forward's batch) costs r * s, s = sum of one BN weight (16 ones)."""

    def loss(net, batch, cfg, generator=None):
        n = batch.weights.shape[0]
        calls.append(n)
        s = net.representation.stem[1].weight.sum()
        per_sample = torch.arange(1, n + 1, dtype=torch.float32) * s
        prio = torch.as_tensor(priorities[len(calls) - 1], dtype=torch.float32) if priorities else torch.ones(n)
        return LossOutput((batch.weights * per_sample).mean(), prio, torch.zeros(5), per_sample)

    return loss


def setup(task_files, *, prioritised=False, **xtra):
    cfg = student_config("smoke", lr_warmup_fraction=0.0, batch_size=4)
    torch.manual_seed(0)
    net = EfficientZeroNet((10, 10, 10), 18, cfg)
    tasks = OfflineTasks(task_files, cfg, seed=3, device="cpu", prioritised=prioritised)
    target = tasks.sample(4, [1]).batch
    target = target._replace(weights=torch.tensor(TARGET_WEIGHTS))
    settings = dict(offline_batch_size=2 * ROWS, adaptive_weights=False, cosine_grad_clamp=0.0)
    learner = CrossTaskLearner(net, cfg, xtra_config("smoke", **{**settings, **xtra}), tasks, seed=1)
    learner.weights.load_state_dict({"eta": [0.5, 0.0], "counts": [0, 0]})
    return learner, target


def bn_gradient(learner):
    grad = learner.net.representation.stem[1].weight.grad
    assert torch.allclose(grad, grad[0].expand_as(grad))  # every element gets d objective / d s
    return float(grad[0])


def test_release_loss_is_the_mean_over_all_rows_in_one_pass(task_files):
    learner, target = setup(task_files)
    calls = []
    learner._loss = linear_loss(calls)
    metrics = learner.update(target).metrics
    assert calls == [8]  # one forward pass over the 4 target rows and both tasks' rows, eta 0 included
    # By hand: L_T = mean(w * r) over rows 1-4 = (1 + 1 + 3 + 1) / 4 = 1.5 (times s); L_1 = 5.5, L_2 = 7.5.
    # 0.5 L_T + 0.25 (0.5 L_1 + 0 L_2) = 0.75 + 0.6875 = 1.4375, s = 16.
    assert metrics["total_loss"] == pytest.approx(1.4375 * 16)
    assert metrics["loss/MinAtar-Asterix"] == pytest.approx(5.5 * 16) and metrics["loss/MinAtar-Breakout"] == pytest.approx(7.5 * 16)
    assert bn_gradient(learner) == pytest.approx(0.2 * 1.4375)  # times loss_grad_scale 1/5


def test_eq1_loss_is_the_literal_sum_in_separate_passes(task_files):
    learner, target = setup(task_files, loss_normalisation="eq1")
    calls = []
    learner._loss = linear_loss(calls)
    metrics = learner.update(target).metrics
    assert calls == [4, 2]  # the target, then only the task with eta > 0 (its rows are 1-2 of that pass)
    # L_T + 0.5 L_1 = 1.5 + 0.5 * 1.5 = 2.25.
    assert metrics["total_loss"] == pytest.approx(2.25 * 16)
    assert bn_gradient(learner) == pytest.approx(0.2 * 2.25)


def test_release_window_step_measures_every_task_and_keeps_the_update(task_files):
    learner, target = setup(task_files, adaptive_weights=True, weights_start=0, weights_window=2, weights_cycle=4)
    learner.weights.load_state_dict({"eta": [0.5, 0.0], "counts": [1, 1]})
    reports = []
    learner.report = reports.append
    learner._loss = linear_loss([])
    learner.update(target)
    assert bn_gradient(learner) == pytest.approx(0.2 * 1.4375)  # assembled from the separate gradients
    # Every gradient here is a positive multiple of d s / d theta: each task's cosine is 1, eta 0's too.
    assert reports[0]["cos/MinAtar-Asterix"] == pytest.approx(1.0) and reports[0]["cos/MinAtar-Breakout"] == pytest.approx(1.0)


def test_offline_priorities_follow_the_finetuned_models_value_errors(task_files):
    learner, target = setup(task_files, prioritised=True)
    drawn = []
    sample = learner.tasks.sample
    learner.tasks.sample = lambda *a: drawn.append(sample(*a)) or drawn[-1]
    errors = [0.5, 2.0, 1.0, 3.0]  # |v - z| + eps of the 4 offline rows (rows 5-8 of the forward)
    learner._loss = linear_loss([], priorities=[[1.0] * 4 + errors])
    learner.update(target)
    (offline,) = drawn
    states = learner.tasks.state_dict()["samplers"]
    for task in range(2):
        stored = states[task]["row_priority"].numpy()[offline.rows[task]]
        expected = np.asarray(errors[2 * task : 2 * task + 2]) ** 0.6  # alpha 0.6
        assert offline.rows[task][0] != offline.rows[task][1]  # (this seed draws two distinct rows)
        np.testing.assert_allclose(stored, expected)
        assert stored[1] > stored[0]  # the larger value error draws more often
        untouched = np.delete(states[task]["row_priority"].numpy(), offline.rows[task])
        assert set(np.unique(untouched)) <= {0.0, 1.0}  # every other row keeps 1 (a dataset's last rows 0)


def test_prioritised_draws_carry_importance_weights(task_files):
    cfg = student_config("smoke")
    tasks = OfflineTasks(task_files[:1], cfg, seed=0, device="cpu", prioritised=True)
    first = tasks.sample(8, [0])
    tasks.update_priorities(first, np.linspace(0.1, 4.0, 8))
    state = tasks.state_dict()["samplers"][0]["row_priority"].numpy()
    drawn = tasks.sample(16, [0], beta=0.4)
    # Independently: P(i) = p_i^alpha / sum_j p_j^alpha, w = (N P)^-beta over the max of the draw.
    p = state[drawn.rows[0]] / state.sum()
    n = int((state > 0).sum())
    w = (n * p) ** -0.4
    np.testing.assert_allclose(drawn.batch.weights.numpy(), w / w.max(), rtol=1e-5)


def test_counters_start_at_one():
    weights = TaskWeights(["A", "B", "C"], start=0, cycle=10, window=4, threshold=0.1, start_count=1)
    counted = {0: [1, 0, 1], 1: [1, 0, 0], 2: [1, 0, 1], 3: [1, 0, 0]}  # 4, 0 and 2 of 4 window steps above 0.1
    for step, above in counted.items():
        weights.observe(step, np.where(np.asarray(above) == 1, 0.5, -0.5))
    # (1 + count) / (1 + window): 5/5, 1/5, 3/5.
    np.testing.assert_array_equal(weights.eta, [1.0, 0.2, 0.6])
    assert weights.state_dict()["counts"] == [1, 1, 1]  # reset to 1 for the next window


def test_gradients_are_clamped_before_the_cosine():
    target = [torch.tensor([10.0, 0.0, 1.0])]
    task = [torch.tensor([1.0, 0.0, 10.0])]
    # Unclamped: 20 / 101; clamped to +-5: [5, 0, 1] . [1, 0, 5] / 26 = 10 / 26.
    assert gradient_cosines(target, [task])[0] == pytest.approx(20 / 101)
    assert gradient_cosines(target, [task], clamp=5.0)[0] == pytest.approx(10 / 26)


SHA = "ab" * 32
ABLATIONS = [
    xtra_agents.XtraAgent,
    xtra_agents.XtraNoCrossTaskAgent,
    xtra_agents.XtraConstantWeightsAgent,
    xtra_agents.XtraFrozenRepresentationAgent,
    xtra_agents.XtraTransferHAgent,
    xtra_agents.XtraTransferHGFAgent,
    xtra_agents.XtraZeroShotAgent,
]


def stage1_keys(agent):
    teacher = input_hash("teacher", teacher_inputs(SHA, agent.teacher_config(), agent.xcfg))
    targets = input_hash("targets", targets_inputs(teacher, SHA, agent.teacher_config(), agent.xcfg))
    student = input_hash("student", student_inputs([(SHA, targets)], agent.cfg, agent.xcfg))
    return teacher, targets, student


def test_stage1_keys_are_shared_by_ablations_and_targets():
    keys = {stage1_keys(cls(make_spec(target), preset="smoke")) for cls in ABLATIONS for target in ("MinAtar-Breakout", "MinAtar-Freeway")}
    assert len(keys) == 1
    (shared,) = keys
    default_size = stage1_keys(xtra_agents.XtraDefaultSizeAgent(make_spec("MinAtar-Breakout"), preset="smoke"))
    assert default_size[:2] == shared[:2] and default_size[2] != shared[2]  # same teachers, another student
    # Every ablation and target runs in one stage-1 directory.
    assert {stage1_group(cls) for cls in [*ABLATIONS, xtra_agents.XtraDefaultSizeAgent]} == {"xtra"}
    one = Stage1("xtra", ("xtra",), "smoke", ("MinAtar-Asterix",), ("a",), (), (SHA,), "MinAtar-Breakout")
    other = Stage1("xtra", ("xtra-constant-weights", "xtra"), "smoke", ("MinAtar-Asterix",), ("a",), (), (SHA,), "MinAtar-Freeway")
    assert one.hash == other.hash


@pytest.mark.parametrize(
    "override, changes",
    [
        ({"teacher_updates": 21}, {"teacher", "targets", "student"}),
        ({"relabel_roots": 128}, {"targets", "student"}),
        ({"relabel_chunk_rows": 128}, {"targets", "student"}),
        ({"relabel_simulations": 5}, {"targets", "student"}),
        ({"distill_updates": 21}, {"student"}),
        ({"weights_window": 2, "cosine_threshold": 0.2}, set()),  # stage-2 settings never enter stage 1
    ],
)
def test_stage1_keys_change_with_what_changes_the_artifact(override, changes):
    spec = make_spec("MinAtar-Breakout")
    base = stage1_keys(xtra_agents.XtraAgent(spec, preset="smoke"))
    other = stage1_keys(xtra_agents.XtraAgent(spec, preset="smoke", xtra=xtra_config("smoke", **override)))
    assert {kind for kind, a, b in zip(("teacher", "targets", "student"), base, other) if a != b} == changes


def test_the_papers_extra_agents():
    spec = make_spec("MinAtar-Breakout")
    xtra = xtra_agents.XtraAgent(spec, preset="smoke")
    default_size = xtra_agents.XtraDefaultSizeAgent(spec, preset="smoke")
    assert (xtra.cfg.blocks_per_stage, default_size.cfg.blocks_per_stage) == (4, 1)
    assert default_size.cfg.multi_task_actions == 18 and default_size.xcfg == xtra.xcfg
    large, large_512 = EfficientZeroLAgent(spec, preset="smoke"), EfficientZeroL512Agent(spec, preset="smoke")
    assert (large.cfg.blocks_per_stage, large.cfg.batch_size) == (4, 16)
    assert (large_512.cfg.blocks_per_stage, large_512.cfg.batch_size) == (4, 512)
    assert large_512.name == "efficientzero-l-512" and default_size.name == "xtra-default-size"


def test_offline_rl_student_learns_every_dataset_without_teachers(tmp_path, monkeypatch):
    from baselines.efficientzero.learner import Learner
    from tests.xtra_fixtures import PRETRAIN, TARGET, sample_path

    batches = []
    update = Learner.update
    monkeypatch.setattr(Learner, "update", lambda self, batch: batches.append(batch) or update(self, batch))
    cfg = student_config("smoke", num_simulations=2)
    xcfg = xtra_config("smoke", **xtra_agents.XtraOfflineRLStudentAgent.xtra_variant, distill_updates=3, distill_batch_size=8)
    agent = xtra_agents.XtraOfflineRLStudentAgent(make_spec(TARGET), preset="smoke", config=cfg, xtra=xcfg)
    agent.pretrain([sample_path(PRETRAIN), sample_path(TARGET)], tmp_path)
    kinds = sorted(p.name for p in tmp_path.iterdir() if (p / "artifact.json").is_file())
    assert len(kinds) == 1 and agent.stage1.tasks == ()  # one artifact, the student: no teacher, no targets
    assert len(batches) == 3
    for batch in batches:
        # 4 rows per game, each reanalysed under its own game's actions (Asterix 5, Breakout 3).
        assert batch.legal.sum(dim=1).tolist() == [5] * 4 + [3] * 4
        outside = batch.target_policy * ~batch.legal[:, None, :]
        assert float(outside.abs().sum()) == 0.0 and float(batch.target_policy.sum()) > 0
    obs = np.zeros((2, 4, 10, 10, 10), dtype=np.uint8)
    assert agent.act(obs).shape == (2,)
