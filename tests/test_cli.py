import json

import pytest
from click.testing import CliRunner

from xtra_bench import __version__
from xtra_bench.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_version_and_help():
    assert __version__ in run("--version").output
    out = run("--help").output
    for command in ("games", "splits", "agents"):
        assert command in out


def test_games_json_has_every_atari100k_game_with_scores():
    rows = json.loads(run("games", "--json").output)
    atari100k = [r for r in rows if r["atari100k"]]
    assert len(atari100k) == 26
    assert all(set(r) >= {"name", "rom", "category", "actions", "random", "human"} for r in rows)
    assert all(r["random"] is not None and r["human"] is not None for r in atari100k)
    pong = next(r for r in rows if r["name"] == "Pong")
    assert (pong["rom"], pong["actions"], pong["random"], pong["human"]) == ("pong", [0, 1, 3, 4, 11, 12], -20.7, 14.6)


def test_splits_json_reproduces_the_papers_splits():
    splits = json.loads(run("splits", "--json").output)
    diverse8 = ["Carnival", "Centipede", "Phoenix", "Pooyan", "Riverraid", "VideoPinball", "WizardOfWor", "YarsRevenge"]
    assert splits["diverse"] == {
        "targets": ["Assault", "BattleZone", "Hero", "Krull", "Seaquest"],
        "pretrain": {t: diverse8 for t in ["Assault", "BattleZone", "Hero", "Krull", "Seaquest"]},
    }
    shooter = ["Assault", "Carnival", "Centipede", "DemonAttack", "Phoenix"]
    assert splits["shooter"] == {"targets": shooter, "pretrain": {t: [g for g in shooter if g != t] for t in shooter}}
    maze = ["Alien", "Amidar", "BankHeist", "MsPacman", "WizardOfWor"]
    assert splits["maze"] == {"targets": maze, "pretrain": {t: [g for g in maze if g != t] for t in maze}}
    assert splits["diverse-4"]["pretrain"]["Hero"] == ["Phoenix", "WizardOfWor", "VideoPinball", "YarsRevenge"]
    assert splits["diverse-2"]["pretrain"]["Krull"] == ["Phoenix", "VideoPinball"]


def test_custom_split_is_shown():
    out = json.loads(run("splits", "--json", "--pretrain", "Phoenix,Pooyan", "--targets", "Assault").output)
    assert out == {"custom": {"targets": ["Assault"], "pretrain": {"Assault": ["Phoenix", "Pooyan"]}}}


def test_agents_lists_the_random_agent():
    names = [r["name"] for r in json.loads(run("agents", "--json").output)]
    assert "random" in names


@pytest.mark.parametrize(
    "args, message",
    [(["games", "Brekout"], "unknown game 'Brekout'. Did you mean 'Breakout'?"),
     (["splits", "--pretrain", ",", "--targets", "Assault"], "needs at least one pretraining game"),
     (["splits", "--pretrain", "Assault,Phoenix", "--targets", "Assault"], "Assault cannot be both"),
     (["splits", "--pretrain", "Phoenix"], "--pretrain and --targets go together")],
)
def test_bad_input_gives_one_clear_line_and_nonzero_exit(args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
