"""The game catalog: every game the benchmark knows, with its action set and reference scores.

Random and human scores are the standard Atari-57 table used for human normalisation (as in
DQN, Agent57 and rliable; the XTRA paper's Table 3 uses the same values). Carnival and Pooyan are
not among the 57 and have none. Categories are the XTRA paper's (Appendix N, Table 9) for the 18
games it uses; other games have none. Action sets are each game's minimal set as ids of the full
18-action Atari set, as ale-py reports them (a test checks them against ale-py).
"""

from __future__ import annotations

import dataclasses

from xtra_bench.errors import UnknownNameError, closest_match_hint

ALL_ACTIONS = tuple(range(18))


@dataclasses.dataclass(frozen=True)
class Game:
    """One catalog entry.

    Attributes:
        name: the name users type ("MsPacman", "MinAtar-Breakout").
        suite: "atari" or "minatar".
        rom: ale-py's ROM id, or MinAtar's game name.
        action_set: minimal action set as ids of the shared 18-action space.
        category: the XTRA paper's category (Shooter, Maze, Tank, Adventure, Ball Tracking) or None.
        random: reference score of a uniformly random policy, or None.
        human: reference score of a human player, or None.
        atari100k: one of the 26 games of the Atari100k benchmark.
    """

    name: str
    suite: str
    rom: str
    action_set: tuple[int, ...]
    category: str | None = None
    random: float | None = None
    human: float | None = None
    atari100k: bool = False

    @property
    def has_human_reference(self) -> bool:
        return self.random is not None and self.human is not None

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "suite": self.suite,
            "rom": self.rom,
            "category": self.category,
            "actions": list(self.action_set),
            "random": self.random,
            "human": self.human,
            "atari100k": self.atari100k,
        }


def _atari(name, rom, actions, random, human, category=None, atari100k=True) -> Game:
    return Game(name, "atari", rom, tuple(actions), category, random, human, atari100k)


def _minatar(name, rom, actions) -> Game:
    return Game(f"MinAtar-{name}", "minatar", rom, tuple(actions))


_GAMES = (
    # The 26 games of Atari100k.
    _atari("Alien", "alien", ALL_ACTIONS, 227.8, 7127.7, "Maze"),
    _atari("Amidar", "amidar", (0, 1, 2, 3, 4, 5, 10, 11, 12, 13), 5.8, 1719.5, "Maze"),
    _atari("Assault", "assault", (0, 1, 2, 3, 4, 11, 12), 222.4, 742.0, "Shooter"),
    _atari("Asterix", "asterix", (0, 2, 3, 4, 5, 6, 7, 8, 9), 210.0, 8503.3),
    _atari("BankHeist", "bank_heist", ALL_ACTIONS, 14.2, 753.1, "Maze"),
    _atari("BattleZone", "battle_zone", ALL_ACTIONS, 2360.0, 37187.5, "Tank"),
    _atari("Boxing", "boxing", ALL_ACTIONS, 0.1, 12.1),
    _atari("Breakout", "breakout", (0, 1, 3, 4), 1.7, 30.5),
    _atari("ChopperCommand", "chopper_command", ALL_ACTIONS, 811.0, 7387.8),
    _atari("CrazyClimber", "crazy_climber", (0, 2, 3, 4, 5, 6, 7, 8, 9), 10780.5, 35829.4),
    _atari("DemonAttack", "demon_attack", (0, 1, 3, 4, 11, 12), 152.1, 1971.0, "Shooter"),
    _atari("Freeway", "freeway", (0, 2, 5), 0.0, 29.6),
    _atari("Frostbite", "frostbite", ALL_ACTIONS, 65.2, 4334.7),
    _atari("Gopher", "gopher", (0, 1, 2, 3, 4, 10, 11, 12), 257.6, 2412.5),
    _atari("Hero", "hero", ALL_ACTIONS, 1027.0, 30826.4, "Adventure"),
    _atari("Jamesbond", "jamesbond", ALL_ACTIONS, 29.0, 302.8),
    _atari("Kangaroo", "kangaroo", ALL_ACTIONS, 52.0, 3035.0),
    _atari("Krull", "krull", ALL_ACTIONS, 1598.0, 2665.5, "Adventure"),
    _atari("KungFuMaster", "kung_fu_master", (0, 2, 3, 4, 5, 8, 9, 11, 12, 13, 14, 15, 16, 17), 258.5, 22736.3),
    _atari("MsPacman", "ms_pacman", (0, 2, 3, 4, 5, 6, 7, 8, 9), 307.3, 6951.6, "Maze"),
    _atari("Pong", "pong", (0, 1, 3, 4, 11, 12), -20.7, 14.6),
    _atari("PrivateEye", "private_eye", ALL_ACTIONS, 24.9, 69571.3),
    _atari("Qbert", "qbert", (0, 1, 2, 3, 4, 5), 163.9, 13455.0),
    _atari("RoadRunner", "road_runner", ALL_ACTIONS, 11.5, 7845.0),
    _atari("Seaquest", "seaquest", ALL_ACTIONS, 68.4, 42054.7, "Shooter"),
    _atari("UpNDown", "up_n_down", (0, 1, 2, 5, 10, 13), 533.4, 11693.2),
    # The XTRA paper's other games (pretraining and the shooter/maze splits).
    _atari("Carnival", "carnival", (0, 1, 3, 4, 11, 12), None, None, "Shooter", atari100k=False),
    _atari("Centipede", "centipede", ALL_ACTIONS, 2090.9, 12017.0, "Shooter", atari100k=False),
    _atari("Phoenix", "phoenix", (0, 1, 3, 4, 5, 11, 12, 13), 761.4, 7242.6, "Shooter", atari100k=False),
    _atari("Pooyan", "pooyan", (0, 1, 2, 5, 10, 13), None, None, "Shooter", atari100k=False),
    _atari("Riverraid", "riverraid", ALL_ACTIONS, 1338.5, 17118.0, "Shooter", atari100k=False),
    _atari("VideoPinball", "video_pinball", (0, 1, 2, 3, 4, 5, 10, 11, 12), 0.0, 17667.9, "Ball Tracking", atari100k=False),
    _atari("WizardOfWor", "wizard_of_wor", (0, 1, 2, 3, 4, 5, 10, 11, 12, 13), 563.5, 4756.5, "Maze", atari100k=False),
    _atari("YarsRevenge", "yars_revenge", ALL_ACTIONS, 3092.9, 54576.9, "Shooter", atari100k=False),
    # MinAtar (no reference scores); actions as the shared-space ids of MinAtar's minimal sets.
    _minatar("Asterix", "asterix", (0, 4, 2, 3, 5)),
    _minatar("Breakout", "breakout", (0, 4, 3)),
    _minatar("Freeway", "freeway", (0, 2, 5)),
    _minatar("Seaquest", "seaquest", (0, 4, 2, 3, 5, 1)),
    _minatar("SpaceInvaders", "space_invaders", (0, 4, 3, 1)),
)

GAMES: dict[str, Game] = {g.name: g for g in _GAMES}
ATARI100K: tuple[str, ...] = tuple(g.name for g in _GAMES if g.atari100k)
MINATAR: tuple[str, ...] = tuple(g.name for g in _GAMES if g.suite == "minatar")


def get_game(name: str) -> Game:
    """Returns the catalog entry of ``name`` (exact or case-insensitive).

    Raises:
        UnknownNameError: no such game; the message names the closest match.
    """
    if name in GAMES:
        return GAMES[name]
    for known, game in GAMES.items():
        if known.lower() == name.lower():
            return game
    raise UnknownNameError(f"unknown game {name!r}.{closest_match_hint(name, list(GAMES))} See `xtra-bench games`.")
