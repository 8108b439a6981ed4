"""The multi-task student: distillation from the teachers' targets, its checkpoint file, and component transfer.

The student is EfficientZero-L with the shared 18-action head. Each update draws an equal share of
the minibatch from every pretraining task (teacher targets, see ``offline``) and takes one plain
EfficientZero step on the concatenated batch: the per-task shares being equal, the batch mean is
the mean of the tasks' losses.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.schedule import RunSchedule
from baselines.xtra.config import equal_share
from baselines.xtra.offline import OfflineTasks

logger = logging.getLogger(__name__)

STUDENT_FILE = "student.pt"

COMPONENT_MODULES: dict[str, tuple[str, ...]] = {
    "representation": ("representation",),
    "dynamics": ("dynamics",),
    "prediction": ("prediction",),
    "projection": ("projection", "predictor"),
}
"""The network's submodules behind each transferable component (the keys are ``COMPONENTS``)."""


def distill_config(cfg: EfficientZeroConfig) -> EfficientZeroConfig:
    """The student's settings as distillation uses them: no low-lr tail (its schedule spans the distillation's own updates)."""
    return dataclasses.replace(cfg, final_low_lr_steps=0)


def distill(
    tasks: OfflineTasks,
    cfg: EfficientZeroConfig,
    *,
    updates: int,
    batch_size: int,
    device: str,
    seed: int,
    on_metrics: Callable[[int, dict], None] | None = None,
    progress: bool = True,
) -> EfficientZeroNet:
    """Trains a student on every task's teacher targets.

    Args:
        tasks: the pretraining tasks with their targets.
        cfg: the student's settings (EfficientZero-L, 18-action head); its schedule is stretched over ``updates``.
        updates: SGD updates.
        batch_size: rows per update, ``batch_size // K`` from each of the K tasks.
        device: torch device.
        seed: seeds the initial weights and augmentation.
        on_metrics: called with (update, losses) every ``cfg.log_interval`` updates.
        progress: show a progress bar.

    Returns:
        The trained network.
    """
    from tqdm.auto import tqdm

    cfg = distill_config(cfg)
    torch.manual_seed(seed)
    net = EfficientZeroNet(tasks.frame_shape, cfg.multi_task_actions, cfg).to(device)
    learner = Learner(net, cfg)
    learner.run = RunSchedule(updates)
    share = equal_share(batch_size, len(tasks.games))
    everyone = list(range(len(tasks.games)))
    for _ in tqdm(range(updates), desc="distil student", unit="update", disable=not progress, dynamic_ncols=True):
        result = learner.update(tasks.sample(share, everyone).batch)
        if cfg.log_interval and learner.steps % cfg.log_interval == 0:
            logger.info("student update %d: %s", learner.steps, {k: round(v, 4) for k, v in result.metrics.items()})
            if on_metrics:
                on_metrics(learner.steps, result.metrics)
    return net


def save_student(path: Path, net: EfficientZeroNet, games: Sequence[str]) -> None:
    """Writes the student's weights, config and games to ``path`` (temporary file, then rename)."""
    state = {"config": dataclasses.asdict(net.cfg), "games": list(games), "net": net.state_dict()}
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_student(path: Path, device: str = "cpu") -> dict:
    """The student file's contents: ``{"config": dict, "games": [...], "net": state_dict}``."""
    return torch.load(path, map_location=device, weights_only=True)


def transfer(net: EfficientZeroNet, student_state: dict[str, torch.Tensor], components: Sequence[str]) -> list[str]:
    """Copies the student's weights (and batch-norm statistics) of ``components`` into ``net``.

    Args:
        net: the network to initialise (same architecture as the student).
        student_state: the student's ``state_dict``.
        components: names from ``COMPONENTS``; the other components keep their initialisation.

    Returns:
        The copied keys.
    """
    prefixes = tuple(f"{module}." for c in components for module in COMPONENT_MODULES[c])
    chosen = {k: v for k, v in student_state.items() if k.startswith(prefixes)}
    missing = set(chosen) - set(net.state_dict())
    if missing:
        raise ValueError(f"the student has weights the network lacks: {sorted(missing)[:3]}")
    net.load_state_dict(chosen, strict=False)
    return sorted(chosen)
