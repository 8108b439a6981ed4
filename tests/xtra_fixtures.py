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


def labelled_tasks(directory: Path, games=(PRETRAIN, TARGET)) -> list[TaskFiles]:
    """Targets files for the sample datasets of ``games`` from a randomly initialised teacher (2 simulations)."""
    tasks = []
    for game in games:
        dataset = Dataset(sample_path(game))
        teacher = EfficientZeroAgent(make_spec(game), preset="smoke", config=teacher_config("smoke"))
        out = relabel(
            teacher.net,
            teacher.cfg,
            dataset,
            directory / f"{game}.targets.hdf5",
            directory / f"{game}-chunks",
            teacher_id="untrained",
            checkpoint_sha256="0" * 64,
            simulations=2,
            roots=512,
            chunk_rows=512,
            progress=False,
        )
        tasks.append(TaskFiles(game, dataset.path, out))
    return tasks
