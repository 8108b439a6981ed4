"""Pretraining datasets a run lacks: every missing one named with the command that makes it, or made by ``--collect-missing``.

A game's dataset is found as stage 1 finds it (``stage1.dataset_for``): the ``--datasets``
template, else the game's published pretraining dataset in the registry, else the one the recipe
made in the data cache. What is missing can be downloaded (a registry id not fetched yet; bundled
ones are copied without asking) or made by the paper's data recipe (``xtra_bench.data.recipe``);
``--collect-missing`` runs the recipe, once per game: the dataset lands in the data cache (or at
the ``--datasets`` path), where later runs find it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from xtra_bench.data.errors import DatasetError
from xtra_bench.data.registry import Registry, looks_like_id, read_cached_entry
from xtra_bench.data.store import resolve
from xtra_bench.runner.config import resolve_device
from xtra_bench.runner.progress import Event, Reporter


@dataclasses.dataclass(frozen=True)
class Missing:
    """A pretraining dataset that cannot be found.

    Attributes:
        game: the pretraining game.
        command: the exact command that makes it available.
        collect_to: where the recipe writes it (None: the data cache).
        download: the registry id to download instead (a listed dataset not fetched yet), or None.
    """

    game: str
    command: str
    collect_to: Path | None = None
    download: str | None = None


def find_missing(games: Sequence[str], template: str | None, registry: Registry, recipe: str) -> list[Missing]:
    """Every game of ``games`` whose pretraining dataset cannot be found, in order.

    A dataset bundled with the package is never missing: stage 1 copies it into the data cache.

    Raises:
        UnknownNameError / ConfigError: a problem no command of the recipe fixes (an unknown id,
            a template without ``{game}``).
    """
    from xtra_bench.runner.stage1 import dataset_for

    missing = []
    for game in dict.fromkeys(games):
        try:
            chosen = dataset_for(game, template, registry, recipe)
        except DatasetError:
            missing.append(Missing(game, f"xtra-bench collect --game {game} --recipe {recipe}"))
            continue
        if Path(chosen).exists():
            continue
        if looks_like_id(chosen):
            registry.get(chosen)  # an unknown id fails here, with the closest known one
            if not registry.bundled(chosen) and read_cached_entry(chosen) is None:
                missing.append(Missing(game, f"xtra-bench datasets download {chosen}", download=chosen))
        else:
            missing.append(Missing(game, f"xtra-bench collect --game {game} --recipe {recipe} --out {chosen}", Path(chosen)))
    return missing


def missing_message(missing: Sequence[Missing], *, collect_flag: str | None = "--collect-missing") -> str:
    """One line naming every missing dataset and the command of each; with ``collect_flag``, also
    the caller's option that makes them itself."""
    commands = "; ".join(f"`{m.command}`" for m in missing)
    line = f"{len(missing)} pretraining dataset(s) missing ({', '.join(m.game for m in missing)}): make them with {commands}"
    if collect_flag is None:
        return line
    return line + f"; or pass {collect_flag} to run these before stage 1 (once: later runs reuse the data)"


def collect_dataset(missing: Missing, recipe: str, *, device: str, threads: int = 1, report: Reporter) -> None:
    """A launcher task: downloads ``missing``'s registry dataset, or runs the data recipe (resumed
    when interrupted) into its path or the data cache."""
    from xtra_bench.data.recipe import collect_recipe
    from xtra_bench.runner.job import torch_threads

    if missing.download is not None:
        resolve(missing.download, download=True)
    else:
        with torch_threads(threads):
            collect_recipe(missing.game, recipe, missing.collect_to, device=resolve_device(device), progress=False)
    report(Event(f"collect/{missing.game}", "done"))
