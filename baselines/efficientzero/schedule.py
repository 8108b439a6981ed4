"""EfficientZero's schedules over one run: learning rate, importance-sampling beta, acting temperature.

Every schedule follows the run the agent is given (``train(env, steps)`` schedules over its
``steps * updates_per_env_step`` updates, ``train_offline(dataset, updates)`` over ``updates``),
never a preset's constant, so a short run warms up, anneals and cools down in its own length. For
the paper's budget the rules give EfficientZero's numbers: warm-up over 1% of 100k updates, lr 0.2
until the end of the main updates and 0.02 in the optional low-lr tail, beta 0.4 -> 1 over all
updates, temperature 1 / 0.5 / 0.25 by halves and quarters of the main updates.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.efficientzero.config import EfficientZeroConfig


@dataclass(frozen=True)
class RunSchedule:
    """The length of one run, in updates.

    Attributes:
        main_updates: updates that follow the env steps (EfficientZero's ``training_steps``).
        tail_updates: updates after the last env step at the decayed learning rate (``last_steps``).
    """

    main_updates: int
    tail_updates: int = 0

    @property
    def total_updates(self) -> int:
        return self.main_updates + self.tail_updates


def learning_rate(step: int, cfg: EfficientZeroConfig, run: RunSchedule) -> float:
    """The SGD learning rate of update ``step`` (0-based).

    Linear warm-up from 0 over ``lr_warmup_fraction`` of the main updates, then ``lr`` multiplied by
    ``lr_decay_rate`` once per ``main_updates`` updates after the warm-up (EfficientZero's step
    decay with its decay interval equal to the run: 0.2 for the main updates, 0.02 in the tail).
    """
    warmup = int(cfg.lr_warmup_fraction * run.main_updates)
    if step < warmup:
        return cfg.lr * step / warmup
    return cfg.lr * cfg.lr_decay_rate ** ((step - warmup) // max(1, run.main_updates))


def priority_beta(updates_done: int, cfg: EfficientZeroConfig, run: RunSchedule) -> float:
    """Importance-sampling exponent of the update after ``updates_done``: linear from ``priority_beta_start`` to 1 over all updates."""
    progress = min(1.0, updates_done / max(1, run.total_updates))
    return cfg.priority_beta_start + (1.0 - cfg.priority_beta_start) * progress


def visit_temperature(updates_done: int, cfg: EfficientZeroConfig, run: RunSchedule) -> float:
    """The acting temperature after ``updates_done`` updates: the first pair of ``temperature_schedule`` whose fraction of the main updates is not reached."""
    progress = updates_done / max(1, run.main_updates)
    for until, temperature in cfg.temperature_schedule:
        if progress < until:
            return temperature
    return cfg.temperature_schedule[-1][1]
