"""One job: an agent learns one target with one seed and the protocol evaluates it.

The agent never evaluates itself: at each evaluation point of ``Agent.train`` the job plays
``periodic_eval_episodes`` eval-mode games with the agent's greedy actions, records them, then
checkpoints; after training it plays ``eval_episodes`` games for the final score.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from xtra_bench import agents
from xtra_bench.agents import Agent
from xtra_bench.envs import make_spec
from xtra_bench.errors import XtraBenchError
from xtra_bench.evaluation import evaluate
from xtra_bench.protocol import Protocol
from xtra_bench.runner.config import resolve_device
from xtra_bench.runner.job_log import JobLog
from xtra_bench.runner.jobs import Job, artifacts_dir
from xtra_bench.runner.progress import Event, Reporter, StepReporter
from xtra_bench.runner.store import JobProgress, JobStore
from xtra_bench.runner.train_env import EvalAlignedTrainEnv


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Runs the block with ``threads`` torch threads, restoring the previous count after."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclasses.dataclass
class _Clock:
    """Wall time spent on a job, carried across resumes."""

    before: float
    started: float = dataclasses.field(default_factory=time.monotonic)

    def seconds(self) -> float:
        return self.before + time.monotonic() - self.started


TAIL_FIELD = "final_low_lr_steps"
"""The config field of agents with a low-learning-rate tail (EfficientZero and the agents built on it)."""


def protocol_settings(cls: type[Agent], preset: str, protocol: Protocol) -> dict[str, int]:
    """Config values the protocol fixes for agents of ``cls``: its low-lr tail, where the agent has one."""
    if not protocol.low_lr_tail:
        return {}
    has_tail = any(TAIL_FIELD in {f.name for f in dataclasses.fields(c)} for c in cls.default_configs(preset).values())
    return {TAIL_FIELD: protocol.low_lr_tail} if has_tail else {}


def _start_agent(job: Job, store: JobStore, protocol: Protocol, runs_dir: Path, device: str) -> tuple[Agent, JobProgress]:
    """The agent and what is already done: restored from the checkpoint, or new (after stage 1)."""
    registry = agents.default_registry()
    progress = store.checkpoint_progress() if store.started else None
    if progress is not None:
        store.rewind(progress)
        return registry.load_checkpoint(store.checkpoint, device=device), progress
    settings = {**protocol_settings(registry.info(job.agent).cls, job.preset, protocol), **dict(job.overrides)}
    agent = registry.make(job.agent, make_spec(job.target), preset=job.preset, seed=job.seed, device=device, overrides=settings)
    config = {
        **job.identity(protocol.hash(), protocol.env_steps, protocol.eval_episodes),
        "device": device,
        "num_envs": agent.num_envs,
        "agent_config": agent.hyperparameters(),
    }
    store.start(config)
    if job.stage1 is not None:
        agent.pretrain(list(job.stage1.dataset_paths), artifacts_dir(runs_dir))
    return agent, JobProgress()


def run_job(job: Job, protocol: Protocol, runs_dir: Path, *, device: str, threads: int = 1, report: Reporter) -> float:
    """Runs (or resumes) one job to completion and writes its directory of the results tree.

    Args:
        job: what to run.
        protocol: budgets and evaluation rules.
        runs_dir: the results directory.
        device: "auto", "cpu" or "cuda".
        threads: torch threads of the job.
        report: receives progress events.

    Returns:
        The mean return of the final evaluation.
    """
    store = JobStore(job.dir(runs_dir))
    with store.lock(), torch_threads(threads):
        if store.is_done:  # finished by another process since this one planned
            report(Event(job.key, "done"))
            return float(np.mean(store.final_returns()))
        return _run_job(job, protocol, Path(runs_dir), resolve_device(device), report)


def _run_job(job: Job, protocol: Protocol, runs_dir: Path, device: str, report: Reporter) -> float:
    store = JobStore(job.dir(runs_dir))
    agent, progress = _start_agent(job, store, protocol, runs_dir, device)
    report(Event(job.key, "start", progress.step))
    clock = _Clock(progress.wall_seconds)
    log = JobLog(store.metrics, store.tensorboard, rows=progress.metrics_rows, step=progress.step)
    steps = StepReporter(job.key, report)
    act = functools.partial(agent.act, greedy=True)

    def checkpoint(step: int, eval_rows: int, trained: bool) -> None:
        nonlocal progress
        progress = JobProgress(step, eval_rows, log.rows, trained, clock.seconds())
        store.save_checkpoint(agent, progress)

    def on_eval(step: int) -> None:
        if step != env.steps:
            # The checkpoint's step seeds the env a resumed job plays in; a wrong one would change its games.
            raise XtraBenchError(f"agent {job.agent} reported an evaluation at step {step} after {env.steps} steps in its env")
        returns = evaluate(act, job.target, protocol.periodic_eval_episodes, seed=protocol.eval_seed)
        store.append_evals(step, "periodic", returns)
        log.scalar("eval/periodic_return", float(np.mean(returns)), step)
        steps.flush()
        report(Event(job.key, "eval", float(np.mean(returns))))
        checkpoint(step, progress.eval_rows + len(returns), trained=False)

    try:
        if not progress.trained:
            env = EvalAlignedTrainEnv(
                job.target,
                agent.num_envs,
                seed=job.seed,
                eval_interval=protocol.eval_interval,
                start_step=progress.step,
                on_steps=steps,
                end_games_at_evaluations=protocol.ends_games_at_evaluations,
            )
            with env:
                agent.train(env, protocol.env_steps, eval_every=protocol.eval_interval, on_eval=on_eval, on_metrics=log.metrics)
            steps.flush()
            checkpoint(env.steps, progress.eval_rows, trained=True)
        returns = evaluate(act, job.target, protocol.eval_episodes, seed=protocol.eval_seed)
        store.append_evals(progress.step, "final", returns)
        log.scalar("eval/final_return", float(np.mean(returns)), progress.step)
    finally:
        log.close()
    store.mark_done(clock.seconds())
    report(Event(job.key, "final", float(np.mean(returns))))
    report(Event(job.key, "done"))
    return float(np.mean(returns))
