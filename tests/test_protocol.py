import numpy as np
import pytest

from xtra_bench.errors import ConfigError, UnknownNameError
from xtra_bench.protocol import Protocol, baseline_relative, custom_split, get_split, human_normalized, parse_seeds


def test_shooter_and_maze_are_leave_one_out_over_the_papers_games():
    shooter = get_split("shooter")
    assert shooter.targets == ("Assault", "Carnival", "Centipede", "DemonAttack", "Phoenix")
    assert shooter.pretrain["Assault"] == ("Carnival", "Centipede", "DemonAttack", "Phoenix")
    maze = get_split("maze")
    assert set(maze.targets) == {"Alien", "Amidar", "BankHeist", "MsPacman", "WizardOfWor"}
    for target, pretrain in maze.pretrain.items():
        assert set(pretrain) == set(maze.targets) - {target}


def test_diverse_split_and_its_task_count_subsets():
    targets = ("Assault", "BattleZone", "Hero", "Krull", "Seaquest")
    for name, pretrain in [
        ("diverse", {"Carnival", "Centipede", "Phoenix", "Pooyan", "Riverraid", "VideoPinball", "WizardOfWor", "YarsRevenge"}),
        ("diverse-4", {"Phoenix", "WizardOfWor", "VideoPinball", "YarsRevenge"}),
        ("diverse-2", {"Phoenix", "VideoPinball"}),
    ]:
        split = get_split(name)
        assert split.targets == targets
        assert all(set(p) == pretrain for p in split.pretrain.values())


def test_minatar_split_covers_the_five_games():
    assert len(get_split("minatar").targets) == 5


def test_restricting_targets_and_unknown_names():
    assert get_split("maze").restrict(["alien"]).targets == ("Alien",)
    with pytest.raises(UnknownNameError, match="not a target of split 'maze'"):
        get_split("maze").restrict(["Pong"])
    with pytest.raises(UnknownNameError, match="Did you mean 'shooter'"):
        get_split("shooters")


@pytest.mark.parametrize(
    "pretrain, targets, message",
    [("", "Assault", "at least one pretraining game"), ("Phoenix", "", "at least one"),
     ("Phoenix,Assault", "Assault", "both a pretraining game and a target"), ("Phoenix,Phoenix", "Assault", "twice"),
     ("Phoenix", "MinAtar-Breakout", "mix suites"), ("Phenix", "Assault", "Did you mean 'Phoenix'")],
)
def test_bad_custom_splits_are_refused(pretrain, targets, message):
    with pytest.raises((ConfigError, UnknownNameError), match=message):
        custom_split(pretrain, targets)


@pytest.mark.parametrize("text, seeds", [("0-4", (0, 1, 2, 3, 4)), ("3", (3,)), ("0,2,5", (0, 2, 5)), ("1-2,7", (1, 2, 7))])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["5-2", "a", "-1", "1,1", ""])
def test_bad_seeds(text):
    with pytest.raises(ConfigError):
        parse_seeds(text)


def test_protocol_defaults_and_hash():
    p = Protocol()
    assert (p.env_steps, p.seeds, p.eval_episodes) == (100_000, (0, 1, 2, 3, 4), 32)
    assert p.hash() == Protocol().hash() and len(p.hash()) == 16
    assert Protocol(eval_episodes=100).hash() != p.hash()
    assert Protocol(env_steps=50_000).hash() != p.hash()
    with pytest.raises(ConfigError, match="env-steps must be positive"):
        Protocol(env_steps=0)


def test_human_normalisation_by_hand():
    # Assault: random 222.4, human 742.0; the paper's Table 3 gives 2.06 for XTRA's 1294.55.
    assert human_normalized("Assault", 1294.55) == pytest.approx((1294.55 - 222.4) / (742.0 - 222.4))
    assert round(float(human_normalized("Assault", 1294.55)), 2) == 2.06
    np.testing.assert_allclose(human_normalized("Pong", [-20.7, 14.6]), [0.0, 1.0])
    with pytest.raises(ConfigError, match="Carnival has no human reference"):
        human_normalized("Carnival", 100.0)


def test_baseline_relative_matches_the_papers_table1_row():
    # Table 1, DemonAttack: XTRA 14140.9 vs EfficientZero 11523.0.
    assert baseline_relative(14140.9, 11523.0) == pytest.approx(1.2272, abs=1e-4)
