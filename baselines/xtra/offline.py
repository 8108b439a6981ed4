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
from typing import NamedTuple

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
        unroll_mask [B, K], weights [B] (ones; ``OfflineTasks`` replaces them for prioritised draws), legal bool [B, head].
    """
    if batch.policy is None:
        raise ValueError("the sampler holds no teacher targets")
    b, k = batch.actions.shape
    to_head = env_to_head_actions(tuple(action_set), head_width)
    policy_mask, unroll_mask = unroll_masks(batch.steps_left, k)
    policy = np.zeros((b, k + 1, head_width), dtype=np.float32)
    # Positions without an action (the episode's end and beyond) carry no policy target.
    policy[..., to_head] = batch.policy * policy_mask[..., None]
    return {
        "frames": batch.frames,
        "actions": to_head[batch.actions],
        "target_value": (batch.nstep_return + batch.bootstrap_discount * batch.bootstrap_value).astype(np.float32),
        "target_value_prefix": value_prefix_targets(batch.rewards, batch.steps_left, cfg.value_prefix_horizon, k),
        "target_policy": policy,
        "unroll_mask": unroll_mask,
        "weights": np.ones(b, dtype=np.float32),
        "legal": np.broadcast_to(head_action_mask(tuple(action_set), head_width), (b, head_width)),
    }


class OfflineBatch(NamedTuple):
    """Offline windows of some tasks and where they came from.

    Attributes:
        batch: the windows on the device, task ``which[j]``'s rows at ``[j * n, (j + 1) * n)``.
        which: the tasks drawn, in row order.
        rows: int64 [len(which), n] each window's start row in its task's sampler.
    """

    batch: TrainBatch
    which: tuple[int, ...]
    rows: np.ndarray


class OfflineTasks:
    """The pretraining tasks' samplers; draws batches with an exact number of rows per task.

    Prioritised (XTRA's finetuning): each task draws its rows with P(i) = p_i^alpha / sum_j p_j^alpha
    over its own rows (alpha = ``cfg.priority_alpha``; every row starts at p = 1), the rows carry
    importance weights (N P(i))^-beta normalised by the task's largest in the draw, and
    ``update_priorities`` sets p from the learner's value errors. Otherwise (distillation) rows are
    drawn uniformly with unit weights.

    Args:
        files: the tasks (each dataset with its teacher's targets).
        cfg: the learner's settings: frame stack, unroll, n-step, discount, reward clipping,
            life-loss terminals, the shared head's width (``multi_task_actions``) and alpha.
        seed: seeds every task's row draws (each its own stream).
        device: where batches go.
        prioritised: draw by priority (see above).
        frames: "memory", "stream" or "auto" (default: ``$XTRA_BENCH_FRAMES``, else "auto": the
            tasks' frames are loaded when all of them fit, streamed from their files otherwise
            through one chunk cache of ``$XTRA_BENCH_CACHE_BYTES``); the batches are the same.

    Raises:
        ConfigError: no shared action head, or a game whose actions do not fit it.
        DatasetError: a targets file that labels another dataset.
    """

    def __init__(
        self,
        files: Sequence[TaskFiles],
        cfg: EfficientZeroConfig,
        *,
        seed: int,
        device: str,
        prioritised: bool = False,
        frames: str | None = None,
    ):
        if not cfg.multi_task_actions:
            raise ConfigError("offline tasks need the shared action head (multi_task_actions=18)")
        self.cfg = cfg
        self.device = torch.device(device)
        self.head_width = cfg.multi_task_actions
        self.prioritised = prioritised
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

    def sample(self, rows_per_task: int, which: Sequence[int], beta: float = 1.0) -> OfflineBatch:
        """Draws ``rows_per_task`` windows from each task in ``which``, concatenated in that order.

        Args:
            rows_per_task: n.
            which: task indices.
            beta: importance-sampling exponent of prioritised draws (ignored otherwise).
        """
        parts, rows = [], []
        for i in which:
            sampler = self._samplers[i]
            drawn = sampler.sample(rows_per_task)
            part = teacher_targets(drawn, sampler.dataset.action_set, self.head_width, self.cfg)
            if self.prioritised:
                weights = (sampler.num_starts * drawn.probability.astype(np.float64)) ** -beta
                part["weights"] = (weights / weights.max()).astype(np.float32)
            parts.append(part)
            rows.append(drawn.rows)
        batch = TrainBatch(
            **{name: torch.from_numpy(np.ascontiguousarray(np.concatenate([p[name] for p in parts]))).to(self.device) for name in TrainBatch._fields}
        )
        return OfflineBatch(batch, tuple(which), np.stack(rows))

    def update_priorities(self, drawn: OfflineBatch, priorities: np.ndarray) -> None:
        """Sets the priorities of ``drawn``'s rows: priorities float [len(which) * n] in row order (e.g. |v - z| + eps)."""
        values = np.asarray(priorities, np.float64).reshape(drawn.rows.shape)
        for j, i in enumerate(drawn.which):
            # The sampler draws in proportion to what it holds, so it holds p^alpha.
            self._samplers[i].update_priorities(drawn.rows[j], values[j] ** self.cfg.priority_alpha)

    def state_dict(self) -> dict:
        """Every task's draw generator and priorities (see ``Sampler.state_dict``), priorities as tensors for ``torch.save``."""
        states = []
        for sampler in self._samplers:
            state = sampler.state_dict()
            states.append({**state, "row_priority": torch.from_numpy(state["row_priority"]), "episode_priority": torch.from_numpy(state["episode_priority"])})
        return {"games": list(self.games), "samplers": states}

    def load_state_dict(self, state: dict) -> None:
        """Restores ``state_dict()`` saved from the same tasks.

        Raises:
            ConfigError: the state belongs to other tasks.
        """
        if list(state["games"]) != list(self.games):
            raise ConfigError(f"the saved offline state is of tasks {list(state['games'])}, not {list(self.games)}")
        for sampler, saved in zip(self._samplers, state["samplers"]):
            as_numpy = {k: v.cpu().numpy() if isinstance(v, torch.Tensor) else v for k, v in saved.items()}
            sampler.load_state_dict(as_numpy)
