"""How big each section of the device check is: the GPU check's sizes and the CPU smoke's tiny ones."""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class CheckSizes:
    """Every size and time budget of one device check (``device_check.py``'s sections)."""

    total_budget_s: float
    """Seconds for the whole check; the learning check gets what the other sections leave."""
    budgets_s: dict[str, float]
    """Nominal seconds per section (the learning check's entry is its minimum: below it, it is skipped)."""
    preset: str
    """EfficientZero preset of every EfficientZero section (network, unroll, support)."""
    batch_size: int
    simulations: int
    roots: int
    """Roots of the timed search."""
    repeats: int
    """Timed repetitions of the training step and the search (fewer if their budget runs out)."""
    compile_min_s: float
    """The compiled training step is only timed if its section has this many seconds left (compiling takes most of them)."""
    tree_threads: int
    """Threads of the C++ tree in every search, and the largest count of the scaling section."""
    tree_roots: int
    tree_simulations: int
    tree_repeats: int
    xtra_preset: str
    xtra_tasks: int
    xtra_batch_size: int
    xtra_offline_batch_size: int
    xtra_repeats: int
    curl_preset: str
    curl_batch_size: int | None
    """None: the preset's."""
    curl_replay: int
    curl_repeats: int
    game: str
    envs: int
    """Environments acting as one batch in the whole run and the learning check."""
    min_replay: int
    """Replay size before the first update in the whole run and the learning check."""
    updates_per_env_step: float
    run_updates: int
    """Measured updates of the whole run."""
    run_warmup_steps: int
    """Env steps per warm-up call of the whole run (every update due by then runs before the measured call)."""
    learning_min_steps: int
    learning_max_steps: int
    eval_episodes: int
    eval_budget_s: float
    """Seconds planned for the learning check's final evaluations (EfficientZero's and random's)."""
    eval_min_steps: int
    eval_max_steps: int
    """Bounds of the per-game cap, in agent steps, of those evaluations (the cap is fitted to ``eval_budget_s``)."""


def gpu_sizes(budget_s: float) -> CheckSizes:
    """The GPU check: the paper's network and batch, 256 roots x 50 simulations, Breakout with 8 envs."""
    return CheckSizes(
        total_budget_s=budget_s,
        budgets_s={
            "train_step": 120, "search": 25, "speed_flags": 15, "tree_scaling": 15,
            "xtra_cost": 40, "curl": 20, "whole_run": 80, "learning": 60,
        },
        preset="paper",
        batch_size=256,
        simulations=50,
        roots=256,
        repeats=20,
        compile_min_s=60,
        tree_threads=min(16, os.cpu_count() or 1),
        tree_roots=256,
        tree_simulations=50,
        tree_repeats=10,
        xtra_preset="paper",
        xtra_tasks=4,
        xtra_batch_size=256,
        xtra_offline_batch_size=256,
        xtra_repeats=5,
        curl_preset="paper",
        curl_batch_size=None,
        curl_replay=20_000,
        curl_repeats=100,
        game="Breakout",
        envs=8,
        min_replay=256,  # one batch: the warm-up's updates (one per env step) are what the whole run's budget pays for
        updates_per_env_step=1.0,
        run_updates=150,
        run_warmup_steps=400,  # 50 steps per env: about 300 transitions of complete Breakout lives, so one warm-up call
        learning_min_steps=800,
        learning_max_steps=20_000,
        eval_episodes=8,
        eval_budget_s=40,
        eval_min_steps=200,
        eval_max_steps=27_000,
    )


def smoke_sizes(budget_s: float) -> CheckSizes:
    """The CPU smoke: the same code paths with the smoke network, tiny batches and few simulations."""
    return CheckSizes(
        total_budget_s=budget_s,
        budgets_s={
            "train_step": 10, "search": 5, "speed_flags": 5, "tree_scaling": 5,
            "xtra_cost": 15, "curl": 8, "whole_run": 30, "learning": 15,
        },
        preset="smoke",
        batch_size=4,
        simulations=3,
        roots=8,
        repeats=3,
        compile_min_s=60,
        tree_threads=2,
        tree_roots=16,
        tree_simulations=5,
        tree_repeats=2,
        xtra_preset="smoke",
        xtra_tasks=2,
        xtra_batch_size=4,
        xtra_offline_batch_size=4,
        xtra_repeats=2,
        curl_preset="smoke",
        curl_batch_size=4,
        curl_replay=1_000,
        curl_repeats=3,
        game="Breakout",
        envs=2,
        min_replay=32,
        updates_per_env_step=0.25,
        run_updates=4,
        run_warmup_steps=100,
        learning_min_steps=64,
        learning_max_steps=160,
        eval_episodes=2,
        eval_budget_s=5,
        eval_min_steps=20,
        eval_max_steps=60,
    )
