"""Offline tasks for XTRA tests: the bundled MinAtar samples labelled by an untrained teacher's search."""

from pathlib import Path

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.xtra.config import teacher_config
from baselines.xtra.offline import TaskFiles
from baselines.xtra.relabel import relabel
from xtra_bench.data import Dataset
from xtra_bench.data.registry import bundled_manifest
from xtra_bench.envs import make_spec

SAMPLES = bundled_manifest().parent / "samples"
PRETRAIN = "MinAtar-Asterix"
TARGET = "MinAtar-Breakout"


def sample_path(game: str) -> Path:
    return SAMPLES / f"{game}-random-sample.hdf5"


def untrained_task(name: str, dataset_path: Path, spec, preset: str, directory: Path, roots: int = 512) -> TaskFiles:
    """``dataset_path`` with a targets file from a randomly initialised ``preset`` teacher's search (2 simulations)."""
    teacher = EfficientZeroAgent(spec, preset=preset, config=teacher_config(preset))
    out = relabel(
        teacher.net,
        teacher.cfg,
        Dataset(dataset_path),
        directory / f"{name}.targets.hdf5",
        directory / f"{name}-chunks",
        teacher_id="untrained",
        checkpoint_sha256="0" * 64,
        simulations=2,
        roots=roots,
        chunk_rows=512,
        progress=False,
    )
    return TaskFiles(name, Path(dataset_path), out)


def labelled_tasks(directory: Path, games=(PRETRAIN, TARGET)) -> list[TaskFiles]:
    """Targets files for the sample datasets of ``games`` from a randomly initialised smoke teacher."""
    return [untrained_task(game, sample_path(game), make_spec(game), "smoke", directory) for game in games]
