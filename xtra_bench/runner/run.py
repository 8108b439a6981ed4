"""``xtra-bench run``: plan a run (check everything before any work), then run stage 1 and the jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from xtra_bench import agents
from xtra_bench.agents import PRESETS
from xtra_bench.data.registry import Registry
from xtra_bench.errors import ConfigError, UnknownNameError, XtraBenchError
from xtra_bench.presets import overrides_label
from xtra_bench.protocol import Protocol
from xtra_bench.runner.config import MAX_JOBS, RunConfig, resolve_device, torch_threads
from xtra_bench.runner.job import run_job
from xtra_bench.data.errors import DatasetError
from xtra_bench.runner.datasets import Missing, collect_dataset, find_missing, missing_message
from xtra_bench.runner.jobs import Job, Stage1, expand_jobs, has_stage1, resolve_split, stage1_group
from xtra_bench.runner.launchers import Outcome, Task, make_launcher
from xtra_bench.runner.overrides import Overrides, resolve_overrides
from xtra_bench.runner.progress import RunProgress
from xtra_bench.runner.stage1 import is_complete, resolve_stage1, run_stage1
from xtra_bench.runner.status import record_plan
from xtra_bench.runner.store import JobStore, check_protocol, results_lock, write_protocol


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a run will do.

    Attributes:
        protocol: the run's protocol.
        jobs: every job of the run.
        done: keys of the jobs already complete (skipped).
        resume_steps: key -> checkpoint step of each unfinished job that will resume (0: no checkpoint yet).
        stage1: stage-1 work still to do.
        collect: pretraining datasets that ``--collect-missing`` makes first; while there are some,
            stage 1 and the jobs' state are not known yet (``run`` plans again once they exist).
    """

    protocol: Protocol
    jobs: tuple[Job, ...]
    done: frozenset[str]
    resume_steps: dict[str, int]
    stage1: tuple[Stage1, ...]
    collect: tuple[Missing, ...] = ()

    @property
    def todo(self) -> list[Job]:
        return [job for job in self.jobs if job.key not in self.done]

    def summary(self) -> str:
        """One line: how many jobs are new, resumed and done, and the stage-1 work to do first."""
        resumed = len(self.resume_steps)
        new = len(self.jobs) - len(self.done) - resumed
        if self.collect:
            return f"{len(self.jobs)} jobs, planned once {len(self.collect)} pretraining dataset(s) are collected (protocol {self.protocol.hash()})"
        stage1 = f"; {len(self.stage1)} stage-1 task(s) first" if self.stage1 else ""
        return f"{len(self.jobs)} jobs: {new} new, {resumed} to resume, {len(self.done)} done{stage1} (protocol {self.protocol.hash()})"

    def describe(self) -> list[str]:
        """One line per stage-1 task and job, saying what will happen to it."""
        lines = [f"collect/{m.game}: {m.command}" for m in self.collect]
        lines += [f"stage1/{s.hash}: {', '.join(s.agents)} pretrain(s) on {', '.join(s.games)}" for s in self.stage1]
        methods = {job.method: job for job in self.jobs if job.overrides}
        lines += [f"{m}: {job.agent} with {overrides_label(dict(job.overrides))}" for m, job in methods.items()]
        for job in self.jobs:
            if self.collect:
                status = "after the datasets"
            elif job.key in self.done:
                status = "done, skipped"
            elif job.key in self.resume_steps:
                status = f"resumes at step {self.resume_steps[job.key]}"
            else:
                status = "new"
            lines.append(f"{job.key}: {status}")
        return lines


def _stage1_of_jobs(config: RunConfig, split, registry, overrides: dict[str, Overrides]) -> dict[tuple[str, str], Stage1]:
    """(agent, target) -> stage-1 work, for the agents that have a stage 1; finds every dataset first."""
    staged = [a for a in config.agents if has_stage1(registry.info(a).cls)]
    if not staged:
        return {}
    datasets = Registry.load()
    # One stage 1 per (group, pretraining set, overrides): ablations and targets sharing it share its directory.
    members: dict[tuple[str, tuple[str, ...], Overrides], list[str]] = {}
    first_target: dict[tuple[str, tuple[str, ...], Overrides], str] = {}
    for agent in staged:
        group = stage1_group(registry.info(agent).cls)
        for target in split.targets:
            key = (group, split.pretrain[target], overrides[agent])
            first_target.setdefault(key, target)
            if agent not in members.setdefault(key, []):
                members[key].append(agent)
    found = {
        key: dataclasses.replace(
            resolve_stage1(key[0], names, config.preset, key[1], config.datasets, first_target[key], datasets, recipe=config.preset),
            overrides=key[2],
        )
        for key, names in members.items()
    }
    return {
        (agent, target): found[stage1_group(registry.info(agent).cls), split.pretrain[target], overrides[agent]]
        for agent in staged
        for target in split.targets
    }


def _missing_datasets(config: RunConfig, split, registry) -> list[Missing]:
    """Every pretraining dataset the run's stage 1 needs and cannot find (none without an agent that has a stage 1)."""
    if not any(has_stage1(registry.info(a).cls) for a in config.agents):
        return []
    games = [g for target in split.targets for g in split.pretrain[target]]
    return find_missing(games, config.datasets, Registry.load(), config.preset)


def _check_existing(job: Job, store: JobStore, protocol: Protocol) -> None:
    """Refuses a job directory that holds another job (another preset, budget or split)."""
    recorded = {"overrides": {}, **store.read_config()}  # trees from before overrides have none
    expected = job.identity(protocol.hash(), protocol.env_steps, protocol.eval_episodes)
    differ = [k for k, v in expected.items() if recorded.get(k) != v]
    if differ:
        shown = ", ".join(f"{k} {recorded.get(k)!r} there vs {expected[k]!r} now" for k in differ)
        raise ConfigError(f"{store.dir} holds a job run with other settings ({shown}); choose another --out")


def plan_run(config: RunConfig) -> Plan:
    """Checks a run's settings, agents, games, datasets and results directory; nothing is written.

    Raises:
        UnknownNameError: unknown agent, split, game or dataset.
        ConfigError: bad budgets or flags, another protocol's results in ``config.out``, unfinished
            jobs without ``resume``.
        DatasetError: a pretraining dataset that is missing.
    """
    registry = agents.default_registry()
    for agent in config.agents:
        registry.info(agent)
    if config.preset not in PRESETS:
        raise UnknownNameError(f"unknown preset {config.preset!r}; choose one of {', '.join(PRESETS)}")
    protocol = config.protocol()
    split = resolve_split(config.split, config.pretrain, config.targets)
    count = len(config.agents) * len(split.targets) * len(config.seeds)
    if count > MAX_JOBS:
        raise ConfigError(f"the run expands to {count} jobs, more than {MAX_JOBS}; run fewer agents, targets or seeds at once")
    check_protocol(config.out, protocol)
    if config.launcher == "local":
        resolve_device(config.device)
    overrides = resolve_overrides({a: registry.info(a).cls for a in config.agents}, config.preset, dict(config.overrides))
    missing = _missing_datasets(config, split, registry)
    if missing:
        if not config.collect_missing:
            raise DatasetError(missing_message(missing))
        jobs = expand_jobs(config.agents, split, config.seeds, config.preset, {}, overrides)
        return Plan(protocol, tuple(jobs), frozenset(), {}, (), tuple(missing))
    stage1 = _stage1_of_jobs(config, split, registry, overrides)
    jobs = expand_jobs(config.agents, split, config.seeds, config.preset, stage1, overrides)
    done, resume_steps, unfinished = set(), {}, []
    for job in jobs:
        store = JobStore(job.dir(config.out))
        if not store.started:
            continue
        _check_existing(job, store, protocol)
        if store.is_done:
            done.add(job.key)
        else:
            unfinished.append(job.key)
            progress = store.peek_progress()
            resume_steps[job.key] = progress.step if progress else 0
    if unfinished and not config.resume:
        more = f" and {len(unfinished) - 3} more" if len(unfinished) > 3 else ""
        raise ConfigError(
            f"{config.out} has unfinished jobs ({', '.join(unfinished[:3])}{more}); continue them with --resume, or choose another --out"
        )
    todo_stage1: dict[str, Stage1] = {}
    for job in jobs:
        if job.stage1 and job.key not in done and not is_complete(job.stage1, config.out):
            todo_stage1[job.stage1.hash] = job.stage1
    return Plan(protocol, tuple(jobs), frozenset(done), resume_steps, tuple(todo_stage1.values()))


def _failures(outcomes: list[Outcome], what: str) -> None:
    failed = [o for o in outcomes if o.error]
    if failed:
        details = "; ".join(f"{o.label}: {o.error}" for o in failed)
        raise XtraBenchError(f"{len(failed)} of {len(outcomes)} {what} failed: {details}")


def _collect(config: RunConfig, missing: tuple[Missing, ...]) -> None:
    """Runs the data recipe for every missing dataset, on the run's launcher, before anything else."""
    gpus = config.gpus_per_job if config.gpus_per_job is not None else (1.0 if config.device == "cuda" else 0.0)
    tasks = []
    for m in missing:
        log_dir = Path(config.out) / "collect" / m.game  # its heartbeat and error.log; the data goes to the data cache
        kwargs = {"missing": m, "recipe": config.preset, "device": config.device, "threads": torch_threads(config.cpus_per_job)}
        tasks.append(Task(f"collect/{m.game}", collect_dataset, kwargs, log_dir, num_cpus=config.cpus_per_job, num_gpus=gpus))
    progress = RunProgress(len(tasks), 0, 0, enabled=config.progress)
    try:
        with make_launcher(config.launcher, workers=config.workers, ray_address=config.ray_address) as launcher:
            _failures(launcher.run(tasks, progress), "dataset collections")
    finally:
        progress.close()


def run(config: RunConfig, plan: Plan | None = None, announce: Callable[[str], None] | None = None) -> Plan:
    """Runs every unfinished job of ``config`` (stage 1 first) and writes the results tree.

    The results directory is locked for the run, so a second process on it refuses at once; each
    job is locked too, and one that another process finished in the meantime is skipped.

    Args:
        config: the run's settings.
        plan: the result of ``plan_run(config)``, when the caller already has it.
        announce: receives the plan's summary line once the lock is held.

    Returns:
        The plan that was carried out.

    Raises:
        LockedError: another process is writing ``config.out``.
        XtraBenchError: see ``plan_run``; and, after the other jobs have finished, a line naming
            every job that failed.
    """
    plan = plan or plan_run(config)
    with results_lock(config.out):
        if announce is not None:
            announce(plan.summary())
        return _run(config, plan)


def _run(config: RunConfig, plan: Plan) -> Plan:
    out = Path(config.out)
    if plan.collect:
        _collect(config, plan.collect)
        plan = plan_run(config)
    write_protocol(out, plan.protocol)
    record_plan(out, [{"key": j.key, "agent": j.agent, "target": j.target, "seed": j.seed, "env_steps": plan.protocol.env_steps} for j in plan.jobs])
    gpus = config.gpus_per_job if config.gpus_per_job is not None else (1.0 if config.device == "cuda" else 0.0)
    resources = {"num_cpus": config.cpus_per_job, "num_gpus": gpus}
    common = {"runs_dir": out, "device": config.device, "threads": torch_threads(config.cpus_per_job)}
    stage1_tasks = [
        Task(f"stage1/{s.hash}", run_stage1, {"stage1": s, **common}, s.workdir(out), **resources) for s in plan.stage1
    ]
    job_tasks = [
        Task(job.key, run_job, {"job": job, "protocol": plan.protocol, **common}, job.dir(out), **resources) for job in plan.todo
    ]
    steps_left = sum(plan.protocol.env_steps - plan.resume_steps.get(job.key, 0) for job in plan.todo)
    progress = RunProgress(len(plan.jobs), len(plan.done), max(0, steps_left), enabled=config.progress)
    try:
        with make_launcher(config.launcher, workers=config.workers, ray_address=config.ray_address) as launcher:
            if stage1_tasks:
                _failures(launcher.run(stage1_tasks, progress), "stage-1 tasks")
            _failures(launcher.run(job_tasks, progress), "jobs")
    finally:
        progress.close()
    return plan
