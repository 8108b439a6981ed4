"""Stage 1, end to end: a teacher per pretraining dataset, its targets file, then the multi-task student.

Every artifact is cached under the workdir by the hash of its inputs (``cache``): a teacher by its
dataset's sha256 and settings, a targets file by its teacher and the search, the student by every
(dataset, targets) pair and its settings. Any job that shares an input set reuses the artifact, so
teachers are shared across the leave-one-out targets of a split and one student serves every seed
and target of the diverse split.

A published targets file beside a dataset (``<stem>.targets-<teacher>.hdf5``, as a dataset's
registry entry delivers it) stands in for the teacher and its relabelling when its teacher id is
the one these settings would train (``teacher-<hash of the teacher's inputs>``) and its search
settings are these: a fresh clone with bundled targets trains no teacher. The student is then keyed
by that file's sha256, so it is never confused with one distilled from locally made targets.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import EfficientZeroConfig
from baselines.xtra import cache
from baselines.xtra.config import XtraConfig
from baselines.xtra.offline import OfflineTasks, TaskFiles
from baselines.xtra.offline_rl import offline_rl_student
from baselines.xtra.relabel import relabel, search_settings
from baselines.xtra.student import STUDENT_FILE, distill, distill_config, save_student
from xtra_bench.data import Dataset, read_targets
from xtra_bench.data.collect import directory_sha256
from xtra_bench.data.integrity import file_sha256, open_h5
from xtra_bench.data.show import find_targets_files
from xtra_bench.envs import make_spec
from xtra_bench.errors import ConfigError

logger = logging.getLogger(__name__)

TEACHER_CHECKPOINT = "checkpoint"
TARGETS_FILE = "targets.hdf5"


@dataclasses.dataclass(frozen=True)
class Stage1Result:
    """What stage 1 produced.

    Attributes:
        tasks: each pretraining dataset with its teacher's targets file, in the given order.
        student: the student file, or None when it was not asked for.
    """

    tasks: tuple[TaskFiles, ...]
    student: Path | None

    def to_json(self) -> dict:
        return {"tasks": [t.to_json() for t in self.tasks], "student": None if self.student is None else str(self.student)}

    @classmethod
    def from_json(cls, raw: dict) -> Stage1Result:
        return cls(tuple(TaskFiles.from_json(t) for t in raw["tasks"]), None if raw["student"] is None else Path(raw["student"]))


def _config_json(cfg) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def teacher_inputs(dataset_sha256: str, teacher_cfg: EfficientZeroConfig, xcfg: XtraConfig) -> dict:
    """What a teacher depends on: its dataset's bytes, its settings, its updates and the stage-1 seed."""
    return {"dataset_sha256": dataset_sha256, "config": _config_json(teacher_cfg), "updates": xcfg.teacher_updates, "seed": xcfg.stage1_seed}


def targets_inputs(teacher: str, dataset_sha256: str, teacher_cfg: EfficientZeroConfig, xcfg: XtraConfig) -> dict:
    """What a targets file depends on: the teacher (its cache name), the dataset, the search and how rows are
    batched into searches and seeded chunks (the search's tie-breaking draws follow both)."""
    return {
        "teacher": teacher,
        "dataset_sha256": dataset_sha256,
        "search": search_settings(teacher_cfg, xcfg.relabel_simulations),
        "roots": xcfg.relabel_roots,
        "chunk_rows": xcfg.relabel_chunk_rows,
        "seed": xcfg.stage1_seed,
    }


def student_inputs(tasks: Sequence[tuple[str, str | None]], student_cfg: EfficientZeroConfig, xcfg: XtraConfig) -> dict:
    """What the student depends on: how it learns, each (dataset sha256, targets cache name or None) and the settings it trains with.

    Its schedule spans its own updates (``distill_config``), so stage 2's budget does not change it.
    """
    return {
        "source": xcfg.student_source,
        "tasks": [{"dataset_sha256": sha, "targets": targets} for sha, targets in tasks],
        "config": _config_json(distill_config(student_cfg)),
        "updates": xcfg.distill_updates,
        "batch_size": xcfg.distill_batch_size,
        "seed": xcfg.stage1_seed,
    }


def published_targets(dataset: Dataset, teacher_id: str, search: dict) -> Path | None:
    """The targets file beside ``dataset`` of teacher ``teacher_id`` searched with ``search``, or None.

    Raises:
        DatasetError: such a file that does not label ``dataset`` (another file's sha256) or is broken.
    """
    for path in find_targets_files(dataset.path):
        with open_h5(path) as h5:
            if h5.attrs.get("teacher_id") != teacher_id:
                continue
        targets = read_targets(path, dataset)
        if targets.search == search:
            return path
    return None


def train_teacher(dataset: Dataset, out: Path, cfg: EfficientZeroConfig, *, updates: int, preset: str, seed: int, device: str) -> None:
    """Trains an offline EfficientZero on ``dataset`` and saves it to ``out``."""
    agent = EfficientZeroAgent(make_spec(dataset.game), preset=preset, seed=seed, device=device, config=cfg)
    agent.train_offline(dataset, updates)
    agent.save(out)


def check_datasets(datasets: Sequence[Dataset]) -> None:
    """Refuses an empty list, two datasets of one game or datasets whose frames differ (one network reads them all)."""
    if not datasets:
        raise ConfigError("stage 1 needs at least one pretraining dataset")
    games = [d.game for d in datasets]
    twice = sorted({g for g in games if games.count(g) > 1})
    if twice:
        raise ConfigError(f"two pretraining datasets of the same game: {', '.join(twice)}")
    shapes = {tuple(d.frame_shape) for d in datasets}
    if len(shapes) > 1:
        raise ConfigError(f"pretraining datasets have different frame shapes {sorted(shapes)}; one network cannot read them all")


def run_stage1(
    dataset_paths: Sequence[Path],
    workdir: Path,
    *,
    preset: str,
    xcfg: XtraConfig,
    teacher_cfg: EfficientZeroConfig,
    student_cfg: EfficientZeroConfig,
    device: str = "cpu",
    need_student: bool = True,
    need_targets: bool = True,
    on_metrics: Callable[[int, dict], None] | None = None,
    progress: bool = True,
) -> Stage1Result:
    """Builds (or reuses) the teachers, their targets and, if asked, the student.

    Args:
        dataset_paths: one dataset file per pretraining game.
        workdir: the stage-1 cache.
        preset: the agents' preset (recorded with the teachers' checkpoints).
        xcfg: XTRA settings (updates, relabelling search, student batch, stage-1 seed).
        teacher_cfg: the teachers' EfficientZero settings.
        student_cfg: the student's EfficientZero-L settings.
        device: torch device for all training and search.
        need_student: also build the student.
        need_targets: build the teachers and their targets even when the student does not learn from them.
        on_metrics: called with (update, losses) while the student trains.
        progress: show progress bars.

    Returns:
        The targets of every dataset (none when nothing needs teachers) and the student file.
    """
    workdir = Path(workdir)
    datasets = [Dataset(Path(p)) for p in dataset_paths]
    check_datasets(datasets)
    offline_rl = xcfg.student_source == "offline_rl"
    teachers = need_targets or (need_student and not offline_rl)
    tasks, labels = [], []
    for dataset in datasets if teachers else ():
        teacher_id = f"teacher-{cache.input_hash('teacher', teacher_inputs(dataset.sha256, teacher_cfg, xcfg))}"
        published = published_targets(dataset, teacher_id, search_settings(teacher_cfg, xcfg.relabel_simulations))
        if published is not None:
            logger.info("%s: the published targets %s stand in for its teacher", dataset.game, published.name)
            tasks.append(TaskFiles(dataset.game, dataset.path, published))
            labels.append(f"published-{file_sha256(published)}")
            continue

        def build_teacher(staging: Path, dataset: Dataset = dataset) -> None:
            train_teacher(dataset, staging / TEACHER_CHECKPOINT, teacher_cfg, updates=xcfg.teacher_updates, preset=preset, seed=xcfg.stage1_seed, device=device)

        teacher_dir = cache.ensure(workdir, "teacher", teacher_inputs(dataset.sha256, teacher_cfg, xcfg), build_teacher)

        def build_targets(staging: Path, dataset: Dataset = dataset, teacher_dir: Path = teacher_dir) -> None:
            checkpoint = teacher_dir / TEACHER_CHECKPOINT
            teacher = EfficientZeroAgent.load(checkpoint, device=device)
            relabel(
                teacher.net,
                teacher.cfg,
                dataset,
                staging / TARGETS_FILE,
                staging,
                teacher_id=f"teacher-{teacher_dir.name}",
                checkpoint_sha256=directory_sha256(checkpoint),
                simulations=xcfg.relabel_simulations,
                roots=xcfg.relabel_roots,
                chunk_rows=xcfg.relabel_chunk_rows,
                seed=xcfg.stage1_seed,
                progress=progress,
            )

        targets_dir = cache.ensure(workdir, "targets", targets_inputs(teacher_dir.name, dataset.sha256, teacher_cfg, xcfg), build_targets)
        tasks.append(TaskFiles(dataset.game, dataset.path, targets_dir / TARGETS_FILE))
        labels.append(targets_dir.name)

    student = None
    if need_student:
        labels = [None] * len(datasets) if offline_rl else labels
        inputs = student_inputs([(d.sha256, label) for d, label in zip(datasets, labels)], student_cfg, xcfg)

        def build_student(staging: Path) -> None:
            if offline_rl:
                net = offline_rl_student(
                    datasets, student_cfg, updates=xcfg.distill_updates, batch_size=xcfg.distill_batch_size, device=device, seed=xcfg.stage1_seed, progress=progress
                )
                save_student(staging / STUDENT_FILE, net, [d.game for d in datasets])
                return
            offline = OfflineTasks(tasks, student_cfg, seed=xcfg.stage1_seed, device=device)
            net = distill(
                offline,
                student_cfg,
                updates=xcfg.distill_updates,
                batch_size=xcfg.distill_batch_size,
                device=device,
                seed=xcfg.stage1_seed,
                on_metrics=on_metrics,
                progress=progress,
            )
            save_student(staging / STUDENT_FILE, net, offline.games)

        student = cache.ensure(workdir, "student", inputs, build_student) / STUDENT_FILE
    return Stage1Result(tuple(tasks), student)
