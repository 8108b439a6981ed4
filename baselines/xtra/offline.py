"""Offline tasks: training batches from pretraining datasets with their teacher's targets (DESIGN.md, XTRA).

Per window from row t the targets are the teacher's, not the learner's own reanalysis:
policy = the teacher's MCTS policy at t + k; value z = sum_{i<n} g^i r_{t+k+i} + g^n v_{t+k+n}
with clipped rewards and the teacher's root value v (the sum stops at the learning episode's end,
the bootstrap is dropped at a terminal); value prefix = cumulative clipped rewards since the last
LSTM reset; consistency as in EfficientZero. Each game's actions map into the shared 18-action
head, whose other entries are masked. Used by distillation (stage 1) and finetuning (stage 2).
(The released XTRA finetuning code bootstraps with the root value at t and no g^n; this is the
standard n-step target DESIGN.md specifies.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from baselines.efficientzero.config import EfficientZeroConfig
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import env_to_head_actions, head_action_mask
from baselines.efficientzero.targets import unroll_masks, value_prefix_targets
from xtra_bench.data import Dataset, Sampler, SamplerConfig, read_targets
from xtra_bench.data.sampler import Batch
from xtra_bench.data.streaming import ChunkCache, frames_mode, open_sampler
from xtra_bench.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class TaskFiles:
    """One pretraining task on disk: its game, dataset file and teacher targets file."""

    game: str
    dataset: Path
    targets: Path

    def to_json(self) -> dict:
        return {"game": self.game, "dataset": str(self.dataset), "targets": str(self.targets)}

    @classmethod
    def from_json(cls, raw: dict) -> TaskFiles:
        return cls(raw["game"], Path(raw["dataset"]), Path(raw["targets"]))


def teacher_targets(batch: Batch, action_set: Sequence[int], head_width: int, cfg: EfficientZeroConfig) -> dict[str, np.ndarray]:
    """A sampler batch with teacher targets turned into the arrays of a ``TrainBatch`` (host, B windows).

    Args:
        batch: drawn by a ``Sampler`` holding the teacher's targets (K unroll steps, n = ``cfg.td_steps``).
        action_set: the game's actions as ids of the shared action space.
        head_width: the policy head's width (18).
        cfg: value-prefix horizon.

    Returns:
        ``TrainBatch`` field name -> array: frames uint8 [B, S+K, ...], actions int64 [B, K] (head
        entries), target_value [B, K+1], target_value_prefix [B, K], target_policy [B, K+1, head],
        consistency_mask [B, K], weights [B] (ones: offline rows are drawn uniformly), legal bool [B, head].
    """
    if batch.policy is None:
        raise ValueError("the sampler holds no teacher targets")
    b, k = batch.actions.shape
    to_head = env_to_head_actions(tuple(action_set), head_width)
    policy_mask, consistency_mask = unroll_masks(batch.steps_left, k)
    policy = np.zeros((b, k + 1, head_width), dtype=np.float32)
    # Positions without an action (the episode's end and beyond) carry no policy target.
    policy[..., to_head] = batch.policy * policy_mask[..., None]
    return {
        "frames": batch.frames,
        "actions": to_head[batch.actions],
        "target_value": (batch.nstep_return + batch.bootstrap_discount * batch.bootstrap_value).astype(np.float32),
        "target_value_prefix": value_prefix_targets(batch.rewards, batch.steps_left, cfg.value_prefix_horizon, k),
        "target_policy": policy,
        "consistency_mask": consistency_mask,
        "weights": np.ones(b, dtype=np.float32),
        "legal": np.broadcast_to(head_action_mask(tuple(action_set), head_width), (b, head_width)),
    }


class OfflineTasks:
    """The pretraining tasks' samplers; draws batches with an exact number of rows per task.

    Args:
        files: the tasks (each dataset with its teacher's targets).
        cfg: the learner's settings: frame stack, unroll, n-step, discount, reward clipping,
            life-loss terminals and the shared head's width (``multi_task_actions``).
        seed: seeds every task's row draws (each its own stream).
        device: where batches go.
        frames: "memory", "stream" or "auto" (default: ``$XTRA_BENCH_FRAMES``, else "auto": the
            tasks' frames are loaded when all of them fit, streamed from their files otherwise
            through one chunk cache of ``$XTRA_BENCH_CACHE_BYTES``); the batches are the same.

    Raises:
        ConfigError: no shared action head, or a game whose actions do not fit it.
        DatasetError: a targets file that labels another dataset.
    """

    def __init__(
        self, files: Sequence[TaskFiles], cfg: EfficientZeroConfig, *, seed: int, device: str, frames: str | None = None
    ):
        if not cfg.multi_task_actions:
            raise ConfigError("offline tasks need the shared action head (multi_task_actions=18)")
        self.cfg = cfg
        self.device = torch.device(device)
        self.head_width = cfg.multi_task_actions
        self._samplers: list[Sampler] = []
        seeds = np.random.SeedSequence(seed).generate_state(max(1, len(files)))
        datasets = [Dataset(task.dataset) for task in files]
        mode = frames_mode(datasets, frames)
        cache = ChunkCache() if mode == "stream" else None
        for task, task_seed, dataset in zip(files, seeds, datasets):
            if max(dataset.action_set) >= self.head_width:
                raise ConfigError(f"{dataset.game}'s actions do not fit a {self.head_width}-action head")
            sampler_cfg = SamplerConfig(
                frame_stack=cfg.frame_stack,
                unroll_steps=cfg.num_unroll_steps,
                n_step=cfg.td_steps,
                discount=cfg.discount,
                clip_rewards=cfg.clip_rewards,
                life_loss_terminal=cfg.life_loss_terminal,
                seed=int(task_seed),
            )
            targets = read_targets(task.targets, dataset)
            self._samplers.append(open_sampler(dataset, sampler_cfg, targets, mode=mode, cache=cache))
        self.games = tuple(s.dataset.game for s in self._samplers)
        self.frame_shape = tuple(self._samplers[0].dataset.frame_shape) if self._samplers else ()

    @staticmethod
    def frame_shape_of(task: TaskFiles) -> tuple[int, ...]:
        """The frame shape of a task's dataset (reads only its header)."""
        return tuple(Dataset(task.dataset).frame_shape)

    def sample(self, rows_per_task: int, which: Sequence[int]) -> TrainBatch:
        """Draws ``rows_per_task`` windows from each task in ``which``, concatenated in that order.

        Rows ``[j * rows_per_task, (j + 1) * rows_per_task)`` belong to task ``which[j]``.

        Returns:
            The batch on the device.
        """
        parts = []
        for i in which:
            sampler = self._samplers[i]
            parts.append(teacher_targets(sampler.sample(rows_per_task), sampler.dataset.action_set, self.head_width, self.cfg))
        return TrainBatch(
            **{name: torch.from_numpy(np.ascontiguousarray(np.concatenate([p[name] for p in parts]))).to(self.device) for name in TrainBatch._fields}
        )
