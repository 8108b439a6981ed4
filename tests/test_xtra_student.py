"""The multi-task student: its 18-action head, masked per game, never puts mass on another game's actions."""

import numpy as np
import pytest
import torch

from baselines.efficientzero.networks import head_action_mask, mask_logits, obs_to_input
from baselines.efficientzero.reanalyze import search
from baselines.xtra.config import student_config
from baselines.xtra.offline import OfflineTasks
from baselines.xtra.student import distill, load_student, save_student, transfer
from baselines.efficientzero.networks import EfficientZeroNet
from xtra_bench.data import Dataset, Sampler
from xtra_bench.games import get_game
from tests.xtra_fixtures import PRETRAIN, TARGET, labelled_tasks, sample_path

GAMES = (PRETRAIN, TARGET)


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    directory = tmp_path_factory.mktemp("student")
    cfg = student_config("smoke")
    tasks = OfflineTasks(labelled_tasks(directory, GAMES), cfg, seed=0, device="cpu")
    net = distill(tasks, cfg, updates=6, batch_size=8, device="cpu", seed=0, progress=False)
    torch.set_num_threads(threads)
    return net, directory


@pytest.mark.parametrize("game", GAMES)
def test_masked_policy_has_no_mass_outside_the_game(student, game):
    net, _ = student
    legal = torch.from_numpy(head_action_mask(get_game(game).action_set, 18))
    obs = torch.from_numpy(Sampler(Dataset(sample_path(game))).stacked_frames(np.arange(32)))
    net.eval()
    with torch.no_grad():
        logits, _ = net.prediction(net.representation(obs_to_input(obs)))
        probs = torch.softmax(mask_logits(logits, legal), dim=-1)
    assert torch.all(probs[:, ~legal] == 0)
    torch.testing.assert_close(probs[:, legal].sum(-1), torch.ones(32))
    # The unmasked head does put mass there (the mask, not the weights, keeps it out).
    assert torch.all(torch.softmax(logits, -1)[:, ~legal].sum(-1) > 0)
    result = search(net, obs, np.broadcast_to(legal.numpy(), (32, 18)), student_config("smoke"), np.random.default_rng(0), add_noise=True)
    assert (result.visit_counts[:, ~legal.numpy()] == 0).all() and (result.visit_counts.sum(1) > 0).all()


def test_student_file_round_trip_and_partial_transfer(student):
    net, directory = student
    save_student(directory / "student.pt", net, GAMES)
    saved = load_student(directory / "student.pt")
    assert saved["games"] == list(GAMES)
    fresh = EfficientZeroNet((10, 10, 10), 18, student_config("smoke"))
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    copied = transfer(fresh, saved["net"], ("representation", "dynamics"))
    assert copied and all(k.startswith(("representation.", "dynamics.")) for k in copied)
    for key, value in fresh.state_dict().items():
        source = saved["net"][key] if key in copied else before[key]
        assert torch.equal(value, source), key
    assert not torch.equal(fresh.state_dict()["prediction.policy_head.3.weight"], saved["net"]["prediction.policy_head.3.weight"])
