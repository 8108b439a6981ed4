"""Offline tasks shared by the pretrained baselines: datasets opened as samplers, with their teacher targets.

A task is one pretraining dataset (one game). Multi-task models share an 18-action head, so each
task carries the head entries its game may use and the table from its env actions to head
entries. Minibatches give every task an equal share of rows, exact on every step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from baselines.efficientzero.networks import env_to_head_actions, head_action_mask
from xtra_bench.data import Dataset, Registry, Sampler, SamplerConfig, load_dataset, parse_dataset_id, read_targets
from xtra_bench.data.streaming import ChunkCache, frames_mode, open_sampler
from xtra_bench.errors import ConfigError


@dataclasses.dataclass(frozen=True, eq=False)
class OfflineTask:
    """One dataset ready for sampling.

    Attributes:
        game: the dataset's game.
        dataset: the view sampled (the whole file).
        sampler: draws its batches (teacher targets joined when the task has them).
        legal: bool [A] head entries of the game.
        env_to_head: int64 [len(action_set)] head entry of each of the game's actions.
        has_targets: the sampler's batches carry a teacher policy and root value.
    """

    game: str
    dataset: Dataset
    sampler: Sampler
    legal: np.ndarray
    env_to_head: np.ndarray
    has_targets: bool

    def __repr__(self) -> str:
        return f"OfflineTask({self.game!r}, steps={self.dataset.total_steps}, targets={self.has_targets})"


def find_targets(dataset_path: Path, teacher_id: str = "") -> Path | None:
    """The teacher-targets file beside a dataset (``<stem>.targets-<teacher>.hdf5``), or None when there is none.

    Args:
        dataset_path: the dataset file.
        teacher_id: the teacher to use; empty accepts the only targets file there is.

    Raises:
        ConfigError: several targets files and no ``teacher_id``, or no file of the named teacher.
    """
    dataset_path = Path(dataset_path)
    if teacher_id:
        path = dataset_path.with_name(f"{dataset_path.stem}.targets-{teacher_id}.hdf5")
        if not path.is_file():
            raise ConfigError(f"no targets of teacher {teacher_id!r} beside {dataset_path} (expected {path.name})")
        return path
    found = sorted(dataset_path.parent.glob(f"{dataset_path.stem}.targets-*.hdf5"))
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ConfigError(f"{dataset_path} has several targets files ({names}); set teacher_id to choose one")
    return found[0] if found else None


def open_tasks(
    paths: Sequence[Path],
    *,
    frame_shape: tuple[int, ...],
    head_width: int,
    sampler_config: SamplerConfig,
    use_targets: bool = False,
    teacher_id: str = "",
    frames: str | None = None,
) -> list[OfflineTask]:
    """Opens one task per dataset file.

    The frames of all tasks are loaded when they fit together and streamed from their files
    otherwise, through one shared chunk cache (``xtra_bench.data.streaming``); ``frames`` ("memory",
    "stream", "auto"; default ``$XTRA_BENCH_FRAMES``) overrides the choice. Batches are the same.

    Args:
        paths: dataset files, one per game.
        frame_shape: the frame every dataset must have (the target game's).
        head_width: A, the width of the shared policy head (18 for multi-task models).
        sampler_config: batch layout and return conventions; each task's sampler gets its own seed.
        use_targets: join each dataset's teacher targets where a targets file lies beside it.
        teacher_id: which teacher's targets (see ``find_targets``).

    Raises:
        ConfigError: no dataset, two datasets of one game, frames of another shape, or actions that
            do not fit the head.
        DatasetError: an unreadable dataset or targets file.
    """
    if not paths:
        raise ConfigError("pretraining needs at least one dataset")
    tasks = []
    datasets = [Dataset(Path(path)) for path in paths]
    mode = frames_mode(datasets, frames)
    cache = ChunkCache() if mode == "stream" else None
    for i, (path, dataset) in enumerate(zip(paths, datasets)):
        if tuple(dataset.frame_shape) != tuple(frame_shape):
            raise ConfigError(
                f"{path} holds frames of shape {list(dataset.frame_shape)}, the target's are {list(frame_shape)}"
            )
        if max(dataset.action_set) >= head_width and len(dataset.action_set) != head_width:
            raise ConfigError(f"{dataset.game}'s actions do not fit a {head_width}-action head")
        if any(t.game == dataset.game for t in tasks):
            raise ConfigError(f"two pretraining datasets of {dataset.game}; give one per game")
        targets_file = find_targets(dataset.path, teacher_id) if use_targets else None
        targets = read_targets(targets_file, dataset) if targets_file else None
        config = dataclasses.replace(sampler_config, seed=sampler_config.seed + i)
        tasks.append(
            OfflineTask(
                game=dataset.game,
                dataset=dataset,
                sampler=open_sampler(dataset, config, targets, mode=mode, cache=cache),
                legal=head_action_mask(dataset.action_set, head_width),
                env_to_head=env_to_head_actions(dataset.action_set, head_width),
                has_targets=targets is not None,
            )
        )
    return tasks


def task_shares(batch_size: int, num_tasks: int) -> list[int]:
    """Rows of each task in a minibatch: equal shares, the remainder to the first tasks (sums to ``batch_size``).

    Raises:
        ConfigError: fewer rows than tasks.
    """
    if batch_size < num_tasks:
        raise ConfigError(f"a batch of {batch_size} rows cannot give each of {num_tasks} tasks a share")
    base, extra = divmod(batch_size, num_tasks)
    return [base + (i < extra) for i in range(num_tasks)]


def find_game_dataset(game: str, source: str, registry: Registry | None = None) -> str:
    """The id of the newest registry dataset of ``game`` from ``source`` (e.g. "ez-checkpoints").

    Raises:
        ConfigError: the registry lists no dataset of that game and source.
    """
    registry = registry or Registry.load()
    versions = {}
    for dataset_id in registry.ids():
        parts = parse_dataset_id(dataset_id)
        if parts.game == game and parts.source == source:
            versions[parts.version] = dataset_id
    if not versions:
        of_game = [i for i in registry.ids() if parse_dataset_id(i).game == game]
        known = f" (it lists {', '.join(of_game)})" if of_game else ""
        raise ConfigError(f"the dataset registry {registry.source} has no {source!r} dataset of {game}{known}")
    return versions[max(versions)]


def open_target_dataset(game: str, id_or_path: str, source: str) -> Path:
    """The file of the target game's own dataset: ``id_or_path`` if given, else the registry's newest of ``source``.

    An id that is not cached yet is downloaded and verified first.

    Raises:
        ConfigError: no registry dataset of the game, or a dataset of another game.
        DatasetError / UnknownNameError: an unknown id, a missing path or a failed download.
    """
    dataset = load_dataset(id_or_path or find_game_dataset(game, source), download=True)
    if dataset.game != game:
        raise ConfigError(f"{dataset.path} is a dataset of {dataset.game}, not of the target {game}")
    return dataset.path
