"""Stage 1: finding the pretraining datasets and running an agent's ``pretrain`` once per distinct input."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xtra_bench import agents
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.integrity import read_sidecar
from xtra_bench.data.recipe import published_dataset_id, recipe_dataset_path
from xtra_bench.data.registry import Registry
from xtra_bench.data.store import resolve
from xtra_bench.data.trust import admit
from xtra_bench.envs import make_spec
from xtra_bench.errors import ConfigError
from xtra_bench.runner.config import resolve_device
from xtra_bench.runner.job import torch_threads
from xtra_bench.runner.jobs import Stage1, artifacts_dir
from xtra_bench.runner.progress import Event, Reporter
from xtra_bench.runner.store import DONE_FILE, write_json

STAGE1_FILE = "stage1.json"


def dataset_for(game: str, template: str | None, registry: Registry, recipe: str | None = None) -> str:
    """The dataset id (or path) of a pretraining game.

    Args:
        game: catalog name.
        template: an id or path with ``{game}`` standing for the game; None: the game's published
            pretraining dataset (``xtra/<Game>/ez-checkpoints-v1``) when the registry lists it, else
            (with ``recipe``) the dataset that recipe made in the data cache. The registry's other
            datasets of a game (the random samples) serve only when a template names them.
        registry: the dataset manifest.
        recipe: the data recipe whose dataset stands in for a game the registry publishes none of.

    Raises:
        DatasetError: no template, no published dataset and no recipe-made one.
        ConfigError: a template without ``{game}`` (every game would get the same dataset).
    """
    if template is not None:
        if "{game}" not in template:
            raise ConfigError(f"--datasets {template!r} must contain {{game}}, e.g. 'xtra/{{game}}/random-sample-v1'")
        return template.replace("{game}", game)
    published = published_dataset_id(game)
    if published in registry:
        return published
    if recipe is not None and (made := recipe_dataset_path(game, recipe)).is_file():
        return str(made)
    make = f"`xtra-bench collect --game {game} --recipe {recipe}`" if recipe else "`xtra-bench collect --game ... --recipe ...`"
    raise DatasetError(
        f"no pretraining dataset of {game}: the registry ({registry.source}) does not list {published}; make one with"
        f" {make} or name datasets with --datasets 'namespace/{{game}}/source-vN'"
    )


def resolve_stage1(
    group: str,
    agents: Sequence[str],
    preset: str,
    games: Sequence[str],
    template: str | None,
    spec_game: str,
    registry: Registry,
    recipe: str | None = None,
) -> Stage1:
    """Finds every pretraining dataset of one stage-1 input and its checksum.

    Raises:
        DatasetError: a dataset that is not in the registry, not downloaded (the message names
            ``xtra-bench datasets download``), or that ``data.trust.admit`` refuses (bytes that
            differ from its reference checksum, a broken format, another game's data).
    """
    ids, paths, sums = [], [], []
    for game in games:
        dataset_id = dataset_for(game, template, registry, recipe)
        path, entry = resolve(dataset_id, registry=registry)
        # The reference is the manifest's checksum for a cached id, a local file's sidecar (if any).
        sha256 = admit(path, game, entry.dataset_file.sha256 if entry is not None else read_sidecar(path))
        ids.append(dataset_id)
        paths.append(Path(path).resolve())
        sums.append(sha256)
    return Stage1(group, tuple(agents), preset, tuple(games), tuple(ids), tuple(paths), tuple(sums), spec_game)


def is_complete(stage1: Stage1, runs_dir: Path) -> bool:
    return (stage1.workdir(runs_dir) / (DONE_FILE + stage1.suffix)).is_file()


def run_stage1(stage1: Stage1, runs_dir: Path, *, device: str, threads: int = 1, report: Reporter) -> None:
    """Runs each agent's ``pretrain`` unless ``stage1/<hash>/`` marks this input complete.

    The agent keeps its artifacts in ``artifacts_dir`` (shared by every input of the results
    directory); jobs call ``pretrain`` again with it, and the agent loads what it finds there
    instead of recomputing it.
    """
    workdir = stage1.workdir(runs_dir)
    label = f"stage1/{stage1.hash}"
    if not is_complete(stage1, runs_dir):
        workdir.mkdir(parents=True, exist_ok=True)
        record = STAGE1_FILE.replace(".json", stage1.suffix + ".json")
        write_json(workdir / record, {**stage1.to_json(), "games": list(stage1.games)})
        registry = agents.default_registry()
        with torch_threads(threads):
            for name in stage1.agents:
                agent = registry.make(
                    name,
                    make_spec(stage1.spec_game),
                    preset=stage1.preset,
                    seed=0,
                    device=resolve_device(device),
                    overrides=dict(stage1.overrides),
                )
                agent.pretrain(list(stage1.dataset_paths), artifacts_dir(runs_dir))
        write_json(workdir / (DONE_FILE + stage1.suffix), {"agents": list(stage1.agents)})
    report(Event(label, "done"))
