"""The benchmark protocol: splits, budgets, seeds, evaluation rules, normalisation and its hash.

The protocol, not the agent, owns environments and evaluation, so every agent is measured the same
way. Anything a result depends on is part of ``Protocol`` and so of its hash; results carry the
hash, and aggregating results with different hashes is refused unless asked for.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from xtra_bench.errors import ConfigError, UnknownNameError, closest_match_hint
from xtra_bench.games import GAMES, MINATAR, get_game

PROTOCOL_VERSION = 1
TRAIN_GAMES = ("end-at-evaluations", "play-out")
"""What becomes of the training games at an evaluation point (``Protocol.train_games``); the first is the default."""


@dataclasses.dataclass(frozen=True)
class Split:
    """Target games, each with the games it is pretrained on.

    Attributes:
        name: the split's name ("shooter", or "custom" for one given on the command line).
        pretrain: target -> pretraining games, in order.
    """

    name: str
    pretrain: Mapping[str, tuple[str, ...]]

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.pretrain)

    @property
    def all_games(self) -> tuple[str, ...]:
        """Every game the split touches, targets first, each once."""
        seen = dict.fromkeys(self.targets)
        for games in self.pretrain.values():
            seen.update(dict.fromkeys(games))
        return tuple(seen)

    def restrict(self, targets: Iterable[str]) -> Split:
        """The same split over a subset of its targets (``--targets``)."""
        chosen = []
        for t in targets:
            name = get_game(t).name
            if name not in self.pretrain:
                raise UnknownNameError(f"{name} is not a target of split {self.name!r}; its targets are {', '.join(self.targets)}")
            chosen.append(name)
        return Split(self.name, {t: self.pretrain[t] for t in chosen})

    def to_json(self) -> dict:
        return {"targets": list(self.targets), "pretrain": {t: list(g) for t, g in self.pretrain.items()}}


def leave_one_out(name: str, games: Sequence[str]) -> Split:
    """Each game is a target pretrained on all the others (the paper's similar-games setting)."""
    return Split(name, {t: tuple(g for g in games if g != t) for t in games})


def fixed_pretraining(name: str, pretrain: Sequence[str], targets: Sequence[str]) -> Split:
    """Every target is pretrained on the same games (the paper's diverse setting); validates both lists."""
    pretrain = tuple(get_game(g).name for g in pretrain)
    targets = tuple(get_game(g).name for g in targets)
    if not pretrain or not targets:
        raise ConfigError("a custom split needs at least one pretraining game and one target (--pretrain A,B --targets C)")
    for label, games in (("pretraining", pretrain), ("target", targets)):
        if len(set(games)) != len(games):
            raise ConfigError(f"{label} games are listed twice: {', '.join(games)}")
    overlap = sorted(set(pretrain) & set(targets))
    if overlap:
        raise ConfigError(f"{', '.join(overlap)} cannot be both a pretraining game and a target")
    suites = {get_game(g).suite for g in pretrain + targets}
    if len(suites) > 1:
        raise ConfigError(f"a split cannot mix suites ({', '.join(sorted(suites))})")
    return Split(name, {t: pretrain for t in targets})


SHOOTER = ("Assault", "Carnival", "Centipede", "DemonAttack", "Phoenix")
MAZE = ("Alien", "Amidar", "BankHeist", "MsPacman", "WizardOfWor")
DIVERSE_PRETRAIN = ("Carnival", "Centipede", "Phoenix", "Pooyan", "Riverraid", "VideoPinball", "WizardOfWor", "YarsRevenge")
DIVERSE_PRETRAIN_4 = ("Phoenix", "WizardOfWor", "VideoPinball", "YarsRevenge")
DIVERSE_PRETRAIN_2 = ("Phoenix", "VideoPinball")
DIVERSE_TARGETS = ("Assault", "BattleZone", "Hero", "Krull", "Seaquest")

SPLITS: dict[str, Split] = {
    "shooter": leave_one_out("shooter", SHOOTER),
    "maze": leave_one_out("maze", MAZE),
    "diverse": fixed_pretraining("diverse", DIVERSE_PRETRAIN, DIVERSE_TARGETS),
    "diverse-4": fixed_pretraining("diverse-4", DIVERSE_PRETRAIN_4, DIVERSE_TARGETS),
    "diverse-2": fixed_pretraining("diverse-2", DIVERSE_PRETRAIN_2, DIVERSE_TARGETS),
    "minatar": leave_one_out("minatar", MINATAR),
}


def get_split(name: str) -> Split:
    """Returns a named split; unknown names get the closest match."""
    if name not in SPLITS:
        raise UnknownNameError(
            f"unknown split {name!r}.{closest_match_hint(name, list(SPLITS))} Known splits: {', '.join(SPLITS)};"
            " or give --pretrain A,B --targets C for a custom one."
        )
    return SPLITS[name]


def custom_split(pretrain: str | Sequence[str], targets: str | Sequence[str]) -> Split:
    """A split from comma-separated (or listed) pretraining games and targets."""
    as_list = lambda v: [g.strip() for g in v.split(",") if g.strip()] if isinstance(v, str) else list(v)  # noqa: E731
    return fixed_pretraining("custom", as_list(pretrain), as_list(targets))


MAX_SEEDS = 1000
"""Most seeds one run may name (the protocol's is 5): a typo must not expand into a billion jobs."""


def parse_seeds(text: str) -> tuple[int, ...]:
    """Parses '0-4', '3' or '0,2,5' into a tuple of distinct non-negative seeds, in order."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ConfigError(f"seed range {part!r} runs backwards; write it as {hi}-{lo}")
                if hi - lo + 1 + len(seeds) > MAX_SEEDS:
                    raise ConfigError(f"seeds {text!r} are more than {MAX_SEEDS}; run fewer at once")
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ConfigError:
        raise
    except ValueError:  # ConfigError is a ValueError too, hence the clause above
        raise ConfigError(f"cannot read seeds {text!r}; write them like 0-4 or 0,2,5") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds {text!r} must be distinct non-negative integers")
    return tuple(seeds)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """The rules every result is measured under.

    Attributes:
        env_steps: agent steps on the target (100k = 400k frames).
        seeds: training seeds per (agent, target).
        eval_episodes: episodes of the final evaluation, with the final weights (never a checkpoint
            picked on test episodes).
        eval_seed: seed of the evaluation env (eval games are the same for every agent).
        eval_interval: agent steps between the cheaper periodic evaluations for learning curves.
        periodic_eval_episodes: episodes of each periodic evaluation.
        low_lr_tail: updates at the decayed learning rate after the last env step, for agents
            that have such a tail (EfficientZero's 20k ``last_steps``). It belongs to the paper's
            comparison with published state of the art (Table 2) only; Appendix K omits it for
            the shooter, maze, diverse and every other split, so it is 0 unless a run asks.
        train_games: what becomes of the training games at each evaluation point.
            ``"end-at-evaluations"``: every one ends there (truncated, so learners keep their
            bootstrap) and play goes on in fresh games seeded from (seed, step), so that a job
            resumed from the checkpoint taken there plays exactly the games of an uninterrupted
            one; with E envs no training game lasts past ``eval_interval / E`` agent steps.
            ``"play-out"``: games run to their end across evaluations, as EfficientZero's and
            XTRA's releases play them; a resumed job starts fresh games at its checkpoint, so it
            continues with other games than an uninterrupted one would.
    """

    env_steps: int = 100_000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eval_episodes: int = 32
    eval_seed: int = 0
    eval_interval: int = 10_000
    periodic_eval_episodes: int = 8
    low_lr_tail: int = 0
    train_games: str = TRAIN_GAMES[0]

    def __post_init__(self):
        if self.train_games not in TRAIN_GAMES:
            raise ConfigError(f"train-games must be one of {', '.join(TRAIN_GAMES)}, got {self.train_games!r}")
        if self.low_lr_tail < 0:
            raise ConfigError(f"low-lr-tail must be 0 or more updates, got {self.low_lr_tail}")
        for field in ("env_steps", "eval_episodes", "eval_interval", "periodic_eval_episodes"):
            if getattr(self, field) <= 0:
                raise ConfigError(f"{field.replace('_', '-')} must be positive, got {getattr(self, field)}")
        if not self.seeds:
            raise ConfigError("at least one seed is needed")

    @property
    def ends_games_at_evaluations(self) -> bool:
        """Whether every training game ends at each evaluation point (``train_games``'s default)."""
        return self.train_games == TRAIN_GAMES[0]

    def to_json(self) -> dict:
        """Everything results depend on: these fields, the env settings and the score tables."""
        from xtra_bench.envs.atari import ATARI_SETTINGS
        from xtra_bench.envs.minatar import MINATAR_SETTINGS

        fields = dataclasses.asdict(self)
        # Protocols from before the choice existed ended games at evaluations; leaving that value
        # out keeps their hashes, and with them their results directories, valid.
        if self.ends_games_at_evaluations:
            del fields["train_games"]
        return {
            "version": PROTOCOL_VERSION,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()},
            "atari": ATARI_SETTINGS,
            "minatar": MINATAR_SETTINGS,
            "reference_scores": {name: [g.random, g.human] for name, g in GAMES.items() if g.suite == "atari"},
        }

    def hash(self) -> str:
        """A stable 16-hex-digit hash of ``to_json()`` (key order and float formatting fixed)."""
        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def human_normalized(game: str, scores: np.ndarray | float) -> np.ndarray:
    """(score - random) / (human - random) for ``game``.

    Raises:
        ConfigError: the game has no human reference (Carnival, Pooyan, MinAtar games).
    """
    g = get_game(game)
    if not g.has_human_reference:
        raise ConfigError(f"{g.name} has no human reference score, so it has no human-normalised score")
    return (np.asarray(scores, dtype=np.float64) - g.random) / (g.human - g.random)


def baseline_relative(scores: np.ndarray | float, baseline: np.ndarray | float) -> np.ndarray:
    """score / baseline score, the paper's EfficientZero-relative improvement (Table 1 rows)."""
    return np.asarray(scores, dtype=np.float64) / np.asarray(baseline, dtype=np.float64)
