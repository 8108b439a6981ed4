"""Stage 1 of a split on its own (``xtra-bench pretrain``): done once, shared by every run that needs it.

The XTRA agent is reached only through the agent registry; its ``pretrain`` builds or reuses the
cached teachers, targets and student of each target's pretraining games in the stage-1 cache of a
results directory (``runner.jobs.artifacts_dir``), where ``xtra-bench run --out`` that directory finds them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from xtra_bench.data.errors import DatasetError
from xtra_bench.data.registry import Registry
from xtra_bench.data.store import resolve
from xtra_bench.protocol import get_split
from xtra_bench.runner.datasets import find_missing, missing_message
from xtra_bench.runner.jobs import artifacts_dir
from xtra_bench.runner.stage1 import dataset_for

logger = logging.getLogger(__name__)

AGENT = "xtra"


def pretrain_split(
    split: str,
    runs_dir: Path,
    *,
    targets: Sequence[str] = (),
    preset: str = "paper",
    recipe: str | None = None,
    device: str = "cpu",
) -> list[str]:
    """Runs stage 1 for every chosen target of ``split``; returns the targets done.

    Args:
        split: a split name (``xtra-bench splits``).
        runs_dir: the results directory whose runs reuse the artifacts.
        targets: a subset of the split's targets (default: all; targets with the same
            pretraining games share one student).
        preset: the agent preset.
        recipe: the data recipe whose datasets stand in for games the registry publishes none of
            (default: the preset's name); datasets are found as ``xtra-bench run`` finds them.
        device: torch device.

    Raises:
        DatasetError: some pretraining datasets are missing (all of them are named).
        UnknownNameError: unknown split or target.
    """
    from xtra_bench.agents import default_registry
    from xtra_bench.envs import make_spec

    chosen = get_split(split)
    if targets:
        chosen = chosen.restrict(targets)
    games = list(dict.fromkeys(g for pretrain in chosen.pretrain.values() for g in pretrain))
    recipe = recipe or preset
    datasets = Registry.load()
    missing = find_missing(games, None, datasets, recipe)
    if missing:
        raise DatasetError(missing_message(missing, collect_flag=None))
    paths = {g: resolve(dataset_for(g, None, datasets, recipe), registry=datasets)[0] for g in games}
    registry = default_registry()
    for target in chosen.targets:
        logger.info("stage 1 for %s: %s", target, ", ".join(chosen.pretrain[target]))
        agent = registry.make(AGENT, make_spec(target), preset=preset, device=device)
        agent.pretrain([paths[g] for g in chosen.pretrain[target]], artifacts_dir(runs_dir))
    return list(chosen.targets)
