import pytest
from ale_py import ALEInterface, LoggerMode, roms

from xtra_bench.errors import UnknownNameError
from xtra_bench.games import ATARI100K, GAMES, get_game

# The 26 games of Atari100k (Kaiser et al. 2020), written out independently of the catalog.
ATARI100K_GAMES = {
    "Alien", "Amidar", "Assault", "Asterix", "BankHeist", "BattleZone", "Boxing", "Breakout", "ChopperCommand",
    "CrazyClimber", "DemonAttack", "Freeway", "Frostbite", "Gopher", "Hero", "Jamesbond", "Kangaroo", "Krull",
    "KungFuMaster", "MsPacman", "Pong", "PrivateEye", "Qbert", "RoadRunner", "Seaquest", "UpNDown",
}


def test_catalog_holds_atari100k_and_the_papers_other_games():
    assert set(ATARI100K) == ATARI100K_GAMES
    for name in ("Carnival", "Centipede", "DemonAttack", "Phoenix", "Pooyan", "Riverraid", "VideoPinball",
                 "WizardOfWor", "YarsRevenge"):
        assert GAMES[name].suite == "atari"


def test_every_atari100k_game_has_reference_scores():
    for name in ATARI100K_GAMES:
        g = GAMES[name]
        assert g.random is not None and g.human is not None and g.human > g.random, name


@pytest.mark.parametrize(
    "name, random, human",
    # The XTRA paper's Table 3 and Table 4 (random / human columns).
    [("Assault", 222.40, 742.00), ("Centipede", 2090.90, 12017.00), ("DemonAttack", 152.10, 1971.00),
     ("Phoenix", 761.40, 7242.60), ("Alien", 227.80, 7127.70), ("Amidar", 5.80, 1719.50), ("BankHeist", 14.20, 753.10),
     ("MsPacman", 307.30, 6951.60), ("WizardOfWor", 563.50, 4756.50), ("BattleZone", 2360.0, 37187.5),
     ("Hero", 1027.0, 30826.4), ("Krull", 1598.0, 2665.5), ("Seaquest", 68.4, 42054.7)],
)
def test_reference_scores_match_the_papers_table(name, random, human):
    assert (GAMES[name].random, GAMES[name].human) == (random, human)


def test_carnival_has_no_human_reference():
    assert not GAMES["Carnival"].has_human_reference


@pytest.mark.parametrize(
    "name, category, actions",
    # The paper's Appendix N, Table 9.
    [("Alien", "Maze", 18), ("Amidar", "Maze", 10), ("Assault", "Shooter", 7), ("BankHeist", "Maze", 18),
     ("Carnival", "Shooter", 6), ("Centipede", "Shooter", 18), ("DemonAttack", "Shooter", 6), ("MsPacman", "Maze", 9),
     ("Phoenix", "Shooter", 8), ("WizardOfWor", "Maze", 10), ("BattleZone", "Tank", 18), ("Hero", "Adventure", 18),
     ("Krull", "Adventure", 18), ("Seaquest", "Shooter", 18), ("Pooyan", "Shooter", 6), ("Riverraid", "Shooter", 18),
     ("VideoPinball", "Ball Tracking", 9), ("YarsRevenge", "Shooter", 18)],
)
def test_categories_and_action_counts_match_the_paper(name, category, actions):
    assert GAMES[name].category == category
    assert len(GAMES[name].action_set) == actions


def test_action_sets_are_ale_pys_minimal_sets():
    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    for g in GAMES.values():
        if g.suite == "atari":
            ale.loadROM(roms.get_rom_path(g.rom))
            assert g.action_set == tuple(a.value for a in ale.getMinimalActionSet()), g.name


def test_lookup_is_case_insensitive_and_suggests_the_closest_name():
    assert get_game("mspacman").name == "MsPacman"
    with pytest.raises(UnknownNameError, match="unknown game 'MsPacMann'. Did you mean 'MsPacman'?"):
        get_game("MsPacMann")
