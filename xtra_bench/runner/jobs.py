"""Job expansion: a run's agents x targets x seeds, and the stage-1 work they share."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from xtra_bench.agents import Agent
from xtra_bench.protocol import Split, custom_split, get_split


def has_stage1(cls: type[Agent]) -> bool:
    """True when an agent class implements ``pretrain`` (agents without stage 1 keep the base no-op)."""
    return cls.pretrain is not Agent.pretrain


def stage1_group(cls: type[Agent]) -> str:
    """The stage-1 directory an agent shares with others (``Agent.stage1_group``, else its name)."""
    return cls.stage1_group or cls.name


@dataclasses.dataclass(frozen=True)
class Stage1:
    """The stage-1 work of one (agent group, pretraining datasets, preset), shared by every job that needs it.

    Neither the agents' names nor the target game enter its hash: every agent of a group (XTRA and
    its ablations) and every target with the same pretraining set use one directory, where the
    agents' ``pretrain`` keys artifacts by their content.

    Attributes:
        group: the agents' ``stage1_group``.
        agents: the run's agents of that group that need it, each run in turn (the first builds,
            the others reuse what they share and add what only they need).
        preset: hyper-parameter preset.
        games: pretraining games, in order.
        dataset_ids: the dataset of each game (an id, or a path for a local file).
        dataset_paths: the dataset file of each game.
        sha256s: the checksum of each dataset file.
        spec_game: the game the stage-1 agent is built for (a target of the split; stage-1
            artifacts are shared across targets, so they must not depend on it).
    """

    group: str
    agents: tuple[str, ...]
    preset: str
    games: tuple[str, ...]
    dataset_ids: tuple[str, ...]
    dataset_paths: tuple[Path, ...]
    sha256s: tuple[str, ...]
    spec_game: str

    def to_json(self) -> dict:
        """The inputs the hash covers."""
        datasets = [{"game": g, "id": i, "sha256": s} for g, i, s in zip(self.games, self.dataset_ids, self.sha256s)]
        return {"group": self.group, "preset": self.preset, "datasets": datasets}

    @property
    def hash(self) -> str:
        """16 hex digits of the sha256 of ``to_json()``: the name of its cache directory."""
        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def workdir(self, runs_dir: Path) -> Path:
        return Path(runs_dir) / "stage1" / self.hash


@dataclasses.dataclass(frozen=True)
class Job:
    """One agent learning one target with one seed.

    Attributes:
        agent: agent name.
        target: the target game.
        seed: the training seed.
        split: the split's name ("custom" for --pretrain/--targets).
        pretrain: the target's pretraining games.
        preset: hyper-parameter preset.
        stage1: the shared stage-1 work, or None for an agent without stage 1.
    """

    agent: str
    target: str
    seed: int
    split: str
    pretrain: tuple[str, ...]
    preset: str
    stage1: Stage1 | None = None

    @property
    def key(self) -> str:
        """``<agent>/<target>/seed-<s>``: its place under ``jobs/`` and its name in messages."""
        return f"{self.agent}/{self.target}/seed-{self.seed}"

    def dir(self, runs_dir: Path) -> Path:
        return Path(runs_dir) / "jobs" / self.agent / self.target / f"seed-{self.seed}"

    def identity(self, protocol_hash: str, env_steps: int, eval_episodes: int) -> dict:
        """The fields of ``config.json`` that say which job this is; a directory with others holds another job."""
        return {
            "agent": self.agent,
            "target": self.target,
            "seed": self.seed,
            "split": self.split,
            "pretrain": list(self.pretrain),
            "preset": self.preset,
            "env_steps": env_steps,
            "eval_episodes": eval_episodes,
            "protocol_hash": protocol_hash,
            "stage1": self.stage1.hash if self.stage1 else None,
        }


def resolve_split(split: str | None, pretrain: tuple[str, ...], targets: tuple[str, ...]) -> Split:
    """The split of a run: a named one (restricted to ``targets`` when given) or a custom one.

    Raises:
        UnknownNameError / ConfigError: unknown split or game, a target outside the split, a bad custom split.
    """
    if pretrain:
        return custom_split(pretrain, targets)
    named = get_split(split)
    return named.restrict(targets) if targets else named


def expand_jobs(
    agents: tuple[str, ...], split: Split, seeds: tuple[int, ...], preset: str, stage1: dict[tuple[str, str], Stage1]
) -> list[Job]:
    """Every (agent, target, seed) of a run, agent-major, then target, then seed.

    Args:
        agents: agent names.
        split: the resolved split.
        seeds: training seeds.
        preset: hyper-parameter preset.
        stage1: (agent, target) -> its stage-1 work, for agents that have one.
    """
    return [
        Job(agent, target, seed, split.name, split.pretrain[target], preset, stage1.get((agent, target)))
        for agent in agents
        for target in split.targets
        for seed in seeds
    ]
