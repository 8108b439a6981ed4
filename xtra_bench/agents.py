"""The agent interface and the agent registry.

An agent learns one target game: an optional stage-1 ``pretrain`` on offline datasets, then online
``train`` on the target within a step budget. The protocol owns environments and evaluation; an
agent only answers ``act`` on a batch of observations, so every agent is measured the same way.

Agents register by name, either in code (``register_agent``) or from other installed packages
through the ``xtra_bench.agents`` entry-point group, whose entries point to an ``Agent`` subclass.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

import numpy as np

from xtra_bench.envs import EnvSpec, VectorEnv, make_spec
from xtra_bench.errors import UnknownNameError, XtraBenchError, closest_match_hint
from xtra_bench.presets import apply_overrides

ENTRY_POINT_GROUP = "xtra_bench.agents"
PRESETS = ("paper", "fast", "minatar", "smoke")

EvalCallback = Callable[[int], None]
"""Called by ``Agent.train`` with the number of environment steps taken so far at each evaluation point."""

MetricsCallback = Callable[[int, dict], None]
"""Called by ``Agent.train`` with (environment steps so far, {metric name: float}) whenever the agent logs."""


class Agent(abc.ABC):
    """One agent acting in one game (``spec``); subclasses set ``name`` and ``description``.

    Args:
        spec: the target game's environment spec (action set, observation shape).
        preset: one of ``PRESETS``; selects the agent's hyper-parameters.
        seed: seeds every random choice the agent makes.
        device: a torch device string ("cpu", "cuda", ...), for agents that use torch.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    stage1_group: ClassVar[str | None] = None
    """Agents of one group share a stage-1 directory (their ``pretrain`` keys artifacts by content, so
    ablations with the same pretraining set reuse them); None: the agent's own name."""

    def __init__(self, spec: EnvSpec, *, preset: str = "smoke", seed: int = 0, device: str = "cpu"):
        self.spec = spec
        self.preset = preset
        self.seed = seed
        self.device = device

    @property
    def num_envs(self) -> int:
        """Copies of the target in the train env that ``train`` is given (the runner builds it)."""
        return 1

    @classmethod
    def default_configs(cls, preset: str) -> dict[str, object]:
        """The config dataclasses its constructor takes, by keyword, as preset ``preset`` builds them.

        Their fields are what ``xtra-bench run --set`` may override (no field in two of them). An
        agent that offers them keys its stage-1 artifacts by the configs they depend on: runs with
        different overrides share one stage-1 directory. Default: none (nothing to override).
        """
        return {}

    def hyperparameters(self) -> dict:
        """The resolved hyper-parameters (JSON values), recorded in each job's ``config.json``.

        By default the fields of a dataclass config kept in ``self.cfg``, or nothing.
        """
        cfg = getattr(self, "cfg", None)
        return dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else {}

    def pretrain(self, datasets: Sequence[Path], workdir: Path) -> None:
        """Stage 1 on offline datasets (one file per pretraining game); agents without one ignore it.

        Artifacts go under ``workdir``, which every stage-1 input of a results directory shares
        (other datasets, presets, overrides and agents): key each artifact by the inputs it depends
        on, so that one several inputs need is built once. The runner calls ``pretrain`` once per
        input to fill it, then once per job, when the agent loads what it finds there instead of
        recomputing it.
        """

    @abc.abstractmethod
    def train(
        self,
        env: VectorEnv,
        steps: int,
        *,
        eval_every: int = 0,
        on_eval: EvalCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> None:
        """Learns online in ``env`` (the target's train-mode env) until it has taken ``steps`` agent steps in all.

        A restored agent continues from the steps it had taken. Calls ``on_eval(steps_so_far)`` each
        time the count passes a multiple of ``eval_every`` (never when 0); the caller evaluates
        through ``act`` and may ``save`` inside the callback. Calls ``on_metrics(steps_so_far,
        metrics)`` whenever the agent logs (losses, throughput, task weights).
        """

    @abc.abstractmethod
    def act(self, obs: np.ndarray, *, greedy: bool = True) -> np.ndarray:
        """Chooses actions for a batch of stacked observations.

        Args:
            obs: uint8 [B, stack, *frame_shape], as returned by ``VectorEnv``.
            greedy: False samples as in training (exploration); True acts for evaluation.

        Returns:
            int64 [B] indices into ``spec.action_set``.
        """

    @abc.abstractmethod
    def save(self, path: Path) -> None:
        """Writes a checkpoint that ``load`` restores exactly (weights, optimiser, RNG, counters)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, path: Path, *, device: str = "cpu") -> Agent:
        """Restores an agent written by ``save``."""


@dataclasses.dataclass(frozen=True)
class AgentInfo:
    """A registry row: the name users type, the class, and where it came from."""

    name: str
    cls: type[Agent]
    description: str
    source: str


class AgentRegistry:
    """Agents by name: those registered in code plus those of installed entry points."""

    def __init__(self, include_entry_points: bool = True):
        self._agents: dict[str, AgentInfo] = {}
        self._include_entry_points = include_entry_points
        self._entry_points_loaded = False

    def register(self, cls: type[Agent], *, name: str | None = None, source: str = "xtra-bench") -> type[Agent]:
        """Adds ``cls`` under ``name`` (default ``cls.name``); a second agent with the same name is an error."""
        name = name or cls.name
        if name in self._agents and self._agents[name].cls is not cls:
            raise ValueError(f"agent {name!r} is already registered by {self._agents[name].source}")
        self._agents[name] = AgentInfo(name, cls, cls.description, source)
        return cls

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded or not self._include_entry_points:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            self.register(ep.load(), name=ep.name, source=ep.value)

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._agents)

    def info(self, name: str) -> AgentInfo:
        self._load_entry_points()
        if name not in self._agents:
            raise UnknownNameError(
                f"unknown agent {name!r}.{closest_match_hint(name, list(self._agents))}"
                f" Known agents: {', '.join(sorted(self._agents))}."
            )
        return self._agents[name]

    def make(
        self,
        name: str,
        spec: EnvSpec,
        *,
        preset: str = "smoke",
        seed: int = 0,
        device: str = "cpu",
        overrides: Mapping[str, object] | None = None,
    ) -> Agent:
        """Builds agent ``name`` for the game of ``spec``, with ``overrides`` (field -> typed value) on its preset's configs."""
        if preset not in PRESETS:
            raise UnknownNameError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
        cls = self.info(name).cls
        configs = apply_overrides(cls.default_configs(preset), overrides, name) if overrides else {}
        return cls(spec, preset=preset, seed=seed, device=device, **configs)

    def load_checkpoint(self, path: Path, *, device: str = "cpu") -> Agent:
        """Restores an agent from a checkpoint directory, whichever agent wrote it."""
        meta = read_checkpoint_meta(path)
        cls = self.info(meta["agent"]).cls
        try:
            return cls.load(Path(path), device=device)
        except pickle.UnpicklingError:
            # torch's own message suggests weights_only=False, which would run code from the file.
            raise XtraBenchError(
                f"{path} holds more than plain weights (objects that only unpickling could rebuild); refusing to load it"
            ) from None
        except (KeyError, TypeError, ValueError, RuntimeError, EOFError) as exc:
            raise XtraBenchError(f"{path} is not a readable {meta['agent']} checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from None


CHECKPOINT_META = "agent.json"


def write_checkpoint_meta(path: Path, agent: Agent, **extra) -> None:
    """Writes the small JSON file that names the agent behind a checkpoint directory."""
    meta = {"agent": agent.name, "game": agent.spec.game, "preset": agent.preset, "seed": agent.seed, **extra}
    Path(path).mkdir(parents=True, exist_ok=True)
    (Path(path) / CHECKPOINT_META).write_text(json.dumps(meta, indent=2))


def read_checkpoint_meta(path: Path) -> dict:
    """Reads the JSON file written by ``write_checkpoint_meta``; a missing one is a user error."""
    meta_file = Path(path) / CHECKPOINT_META
    if not meta_file.is_file():
        raise XtraBenchError(f"{path} is not an agent checkpoint (no {CHECKPOINT_META} inside)")
    try:
        meta = json.loads(meta_file.read_text())
    except ValueError:
        raise XtraBenchError(f"{meta_file} is not valid JSON; the checkpoint is damaged") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("agent"), str):
        raise XtraBenchError(f"{meta_file} does not name the agent that wrote it; the checkpoint is damaged")
    return meta


class RandomAgent(Agent):
    """Uniformly random actions: the reference every score table starts from, and the interface's proof."""

    name = "random"
    description = "uniformly random actions over the game's action set (the random reference score)"

    def __init__(self, spec: EnvSpec, *, preset: str = "smoke", seed: int = 0, device: str = "cpu"):
        super().__init__(spec, preset=preset, seed=seed, device=device)
        self._rng = np.random.default_rng(seed)
        self.steps_done = 0

    def train(
        self,
        env: VectorEnv,
        steps: int,
        *,
        eval_every: int = 0,
        on_eval: EvalCallback | None = None,
        on_metrics: MetricsCallback | None = None,
    ) -> None:
        env.reset()
        while self.steps_done < steps:
            before = self.steps_done
            env.step(self.act(np.empty((env.num_envs, 0)), greedy=False))
            self.steps_done += env.num_envs
            if on_eval and eval_every and self.steps_done // eval_every > before // eval_every:
                on_eval(self.steps_done)

    def act(self, obs: np.ndarray, *, greedy: bool = True) -> np.ndarray:
        return self._rng.integers(0, self.spec.num_actions, size=len(obs))

    def save(self, path: Path) -> None:
        write_checkpoint_meta(path, self, steps_done=self.steps_done, rng=self._rng.bit_generator.state)

    @classmethod
    def load(cls, path: Path, *, device: str = "cpu") -> RandomAgent:
        meta = read_checkpoint_meta(path)
        agent = cls(make_spec(meta["game"]), preset=meta["preset"], seed=meta["seed"], device=device)
        agent.steps_done = meta["steps_done"]
        agent._rng.bit_generator.state = meta["rng"]
        return agent


def default_registry() -> AgentRegistry:
    """The built-in agents plus every agent installed under the ``xtra_bench.agents`` entry points."""
    registry = AgentRegistry()
    registry.register(RandomAgent)
    return registry
