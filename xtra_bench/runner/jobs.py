"""Job expansion: a run's agents x targets x seeds, and the stage-1 work they share."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from xtra_bench.agents import Agent
from xtra_bench.protocol import Split, custom_split, get_split
from xtra_bench.runner.overrides import Overrides, overrides_hash, overrides_json


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
        overrides: the agent's config overrides. They are part of ``hash`` but not of the
            directory: the agent keys its artifacts by its configs, so runs with other overrides
            reuse whatever does not depend on them (XTRA's teachers when only the student's
            settings change); each set of overrides has its own completion marker.
    """

    group: str
    agents: tuple[str, ...]
    preset: str
    games: tuple[str, ...]
    dataset_ids: tuple[str, ...]
    dataset_paths: tuple[Path, ...]
    sha256s: tuple[str, ...]
    spec_game: str
    overrides: Overrides = ()

    def to_json(self) -> dict:
        """The inputs the hash covers (overrides only when there are some, so older hashes stay valid)."""
        datasets = [{"game": g, "id": i, "sha256": s} for g, i, s in zip(self.games, self.dataset_ids, self.sha256s)]
        extra = {"overrides": overrides_json(self.overrides)} if self.overrides else {}
        return {"group": self.group, "preset": self.preset, "datasets": datasets, **extra}

    @property
    def hash(self) -> str:
        """16 hex digits of the sha256 of ``to_json()``: the stage-1 task's name."""
        return _hash16(self.to_json())

    @property
    def suffix(self) -> str:
        """"" without overrides, else ``-<hash>``: the suffix of its record and completion marker."""
        return f"-{self.hash}" if self.overrides else ""

    def workdir(self, runs_dir: Path) -> Path:
        """``stage1/<hash of the inputs without overrides>``: this input's record and completion
        marker, shared by every set of overrides (the agents' artifacts are in ``artifacts_dir``)."""
        return Path(runs_dir) / "stage1" / _hash16(dataclasses.replace(self, overrides=()).to_json())


def artifacts_dir(runs_dir: Path) -> Path:
    """``stage1/artifacts``: the directory ``pretrain`` is given, one per results directory.

    Every stage-1 input of the directory shares it, and agents key what they keep there by its
    inputs, so an artifact that several inputs need is built once: XTRA's teacher and targets of a
    game serve every leave-one-out set that holds the game, and ``xtra-bench pretrain`` fills the
    same directory that runs read.
    """
    return Path(runs_dir) / "stage1" / "artifacts"


def _hash16(obj: dict) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
        overrides: the agent's config overrides (``--set``, ``--config``).
    """

    agent: str
    target: str
    seed: int
    split: str
    pretrain: tuple[str, ...]
    preset: str
    stage1: Stage1 | None = None
    overrides: Overrides = ()

    @property
    def method(self) -> str:
        """The agent, or ``<agent>@<overrides hash>`` with overrides: its directory under ``jobs/``.

        Runs with other overrides thus never share a job directory, and one results tree holds a sweep.
        """
        return f"{self.agent}@{overrides_hash(self.overrides)}" if self.overrides else self.agent

    @property
    def key(self) -> str:
        """``<method>/<target>/seed-<s>``: its place under ``jobs/`` and its name in messages."""
        return f"{self.method}/{self.target}/seed-{self.seed}"

    def dir(self, runs_dir: Path) -> Path:
        return Path(runs_dir) / "jobs" / self.method / self.target / f"seed-{self.seed}"

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
            "overrides": overrides_json(self.overrides),
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
    agents: tuple[str, ...],
    split: Split,
    seeds: tuple[int, ...],
    preset: str,
    stage1: dict[tuple[str, str], Stage1],
    overrides: dict[str, Overrides] | None = None,
) -> list[Job]:
    """Every (agent, target, seed) of a run, agent-major, then target, then seed.

    Args:
        agents: agent names.
        split: the resolved split.
        seeds: training seeds.
        preset: hyper-parameter preset.
        stage1: (agent, target) -> its stage-1 work, for agents that have one.
        overrides: agent -> its typed config overrides (none when absent).
    """
    overrides = overrides or {}
    return [
        Job(agent, target, seed, split.name, split.pretrain[target], preset, stage1.get((agent, target)), overrides.get(agent, ()))
        for agent in agents
        for target in split.targets
        for seed in seeds
    ]
