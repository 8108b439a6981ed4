"""The settings of one ``xtra-bench run``: what to run, under which protocol, where and how."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from xtra_bench.errors import ConfigError
from xtra_bench.protocol import Protocol

DEVICES = ("auto", "cpu", "cuda")
MAX_CPUS = 4096
"""Bound of --cpus-per-job and --gpus-per-job; also what keeps NaN (which no comparison passes) out."""
MAX_JOBS = 10_000
"""Most jobs one run may expand to (the paper's largest split, 5 agents, has a few hundred)."""
LAUNCHERS = ("local", "ray")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything ``run`` needs; the CLI fills it from its options."""

    agents: tuple[str, ...] = ("efficientzero",)
    """Agents to run (names of the agent registry)."""
    split: str | None = None
    """A named split ("shooter", "minatar", ...); exclusive with ``pretrain``."""
    pretrain: tuple[str, ...] = ()
    """Pretraining games of a custom split (with ``targets``)."""
    targets: tuple[str, ...] = ()
    """Targets: of the custom split, or a subset of the named split's (empty: all of them)."""
    seeds: tuple[int, ...] = Protocol.seeds
    """Training seeds; one job per (agent, target, seed)."""
    preset: str = "paper"
    """Hyper-parameter preset of every agent: paper, fast or smoke."""
    env_steps: int | None = None
    """Agent steps on each target; None: the protocol's budget (100k)."""
    eval_episodes: int = Protocol.eval_episodes
    """Episodes of each job's final evaluation."""
    periodic_eval_episodes: int = Protocol.periodic_eval_episodes
    """Episodes of each periodic evaluation."""
    eval_interval: int | None = None
    """Agent steps between periodic evaluations; None: a tenth of the budget (the protocol's 10k of 100k)."""
    low_lr_tail: int = 0
    """Updates at the decayed learning rate after the last env step (Table 2's 20k; 0: Appendix K's protocol)."""
    train_games: str = Protocol.train_games
    """What becomes of the training games at each evaluation point (``Protocol.train_games``)."""
    datasets: str | None = None
    """Pretraining dataset of each game: an id or path with ``{game}`` for the game; None: the registry's dataset of the game."""
    device: str = "auto"
    """Torch device of every job: auto (cuda when the job sees a GPU), cpu or cuda."""
    out: Path = Path("runs")
    """The results directory."""
    launcher: str = "local"
    """local (this machine) or ray (each job a Ray task)."""
    workers: int = 1
    """Jobs run at once by the local launcher (1: one after the other, in this process)."""
    ray_address: str | None = None
    """Address of a running Ray cluster; None: start a local Ray for the run."""
    cpus_per_job: float = 1.0
    """CPUs of each job: its torch threads (rounded, at least 1) and what a Ray task asks for."""
    gpus_per_job: float | None = None
    """GPUs a Ray task asks for; None: 1 with ``device="cuda"``, else 0."""
    resume: bool = False
    """Continue unfinished jobs from their last checkpoint (finished jobs are always skipped)."""
    progress: bool = True
    """Show a progress bar."""
    collect_missing: bool = False
    """Make missing pretraining datasets with the data recipe of the preset's name before stage 1 (see ``runner.datasets``)."""
    overrides: tuple[tuple[str, object], ...] = ()
    """(config field, value) pairs applied to every agent whose configs have the field (``--set``,
    ``--config``); a text value is parsed by the field's type. See ``xtra_bench.runner.overrides``."""

    def __post_init__(self):
        if self.split and self.pretrain:
            raise ConfigError("--split and --pretrain exclude each other: a named split already says what to pretrain on")
        if not self.split and not self.pretrain:
            raise ConfigError("say what to run: --split NAME (see `xtra-bench splits`) or --pretrain A,B --targets C")
        if self.pretrain and not self.targets:
            raise ConfigError("a custom split needs --targets as well as --pretrain")
        if not self.agents:
            raise ConfigError("give at least one agent with --agent (see `xtra-bench agents`)")
        if self.device not in DEVICES:
            raise ConfigError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if self.launcher not in LAUNCHERS:
            raise ConfigError(f"unknown launcher {self.launcher!r}; choose one of {', '.join(LAUNCHERS)}")
        if not 1 <= self.workers <= MAX_CPUS:
            raise ConfigError(f"--workers must be in [1, {MAX_CPUS}], got {self.workers}")
        if self.launcher != "local" and self.workers != 1:
            raise ConfigError("--workers is for --launcher local; Ray runs as many jobs at once as the cluster has room for")
        if self.launcher != "ray" and self.ray_address:
            raise ConfigError("--ray-address needs --launcher ray")
        if not 0 < self.cpus_per_job <= MAX_CPUS or (self.gpus_per_job is not None and not 0 <= self.gpus_per_job <= MAX_CPUS):
            raise ConfigError(f"--cpus-per-job must be in (0, {MAX_CPUS}] and --gpus-per-job in [0, {MAX_CPUS}]")
        named = {"agent": self.agents, "targets": self.targets, "pretrain": self.pretrain}
        repeated = [f"--{flag} {name}" for flag, names in named.items() for name in {n for n in names if names.count(n) > 1}]
        if repeated:
            raise ConfigError(f"{', '.join(sorted(repeated))} given twice; name each once")

    def protocol(self) -> Protocol:
        """The protocol of this run: the default one with the budgets given here.

        Raises:
            ConfigError: a budget or episode count that is not positive.
        """
        env_steps = Protocol.env_steps if self.env_steps is None else self.env_steps
        if env_steps <= 0:
            raise ConfigError(f"env-steps must be positive, got {env_steps}")
        return Protocol(
            env_steps=env_steps,
            eval_episodes=self.eval_episodes,
            periodic_eval_episodes=self.periodic_eval_episodes,
            eval_interval=self.eval_interval if self.eval_interval is not None else max(1, env_steps // 10),
            low_lr_tail=self.low_lr_tail,
            train_games=self.train_games,
        )


def torch_threads(cpus: float) -> int:
    """Torch threads of a job given its CPUs.

    One per CPU: torch's default of one per core of the machine makes jobs that share it (or a
    busy machine) spin against each other, many times slower than one thread each.
    """
    return max(1, round(cpus))


def resolve_device(device: str) -> str:
    """The torch device of a job: "auto" is "cuda" when this process sees a GPU, else "cpu"; "cuda" without one is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda, but torch sees no GPU here; use --device cpu or auto")
    return device
