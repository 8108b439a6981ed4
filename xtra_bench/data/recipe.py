"""The paper's data recipe (Appendix F): EfficientZero checkpoints of one online run, each playing a fixed number of games.

``collect_recipe`` trains EfficientZero online on a game, keeps a checkpoint every
``checkpoint_every`` updates (the paper: every 10k of 120k) and plays ``episodes_per_checkpoint``
greedy games with each (the paper: 64) into one dataset whose ``policy_id`` names the checkpoint.
Games are played as each checkpoint is reached, so only the latest checkpoint is kept on disk (it
resumes an interrupted run); the dataset records every checkpoint's update count and hash.
EfficientZero is reached only through the agent registry.

Where the datasets go: ``recipe_dataset_path`` (the data cache, id ``local/<Game>/ez-<recipe>-v1``),
unless they are made under ``published_dataset_id`` to be published.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from xtra_bench.data.collect import directory_sha256, play, session_seed
from xtra_bench.data.integrity import atomic_write_bytes
from xtra_bench.data.registry import dataset_dir, make_dataset_id
from xtra_bench.data.writer import DatasetMeta, EpisodeWriter
from xtra_bench.errors import ConfigError, UnknownNameError, closest_match_hint

logger = logging.getLogger(__name__)

AGENT = "efficientzero"
PUBLISHED_NAMESPACE, PUBLISHED_SOURCE = "xtra", "ez-checkpoints"
"""Published pretraining datasets are ``xtra/<Game>/ez-checkpoints-v1``."""
STATE_FILE = "recipe.json"
CHECKPOINT_DIR = "agent"


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a game's pretraining dataset is made.

    Attributes:
        preset: the EfficientZero preset trained online.
        env_steps: agent steps of the online run (its updates follow the preset, low-lr tail included).
        checkpoint_every: updates between checkpoints (the first at this many).
        episodes_per_checkpoint: games each checkpoint plays into the dataset.
        train_envs: environments of the online run (the preset's ``num_envs``).
        play_envs: environments a checkpoint plays side by side.
        low_lr_tail: updates at the decayed learning rate after the last env step (the paper's
            data comes from EfficientZero's 100k + 20k run).
    """

    preset: str = "paper"
    env_steps: int = 100_000
    checkpoint_every: int = 10_000
    episodes_per_checkpoint: int = 64
    train_envs: int = 4
    play_envs: int = 8
    low_lr_tail: int = 20_000


RECIPES: dict[str, Recipe] = {
    # 100k steps, 120k updates (with EfficientZero's 20k low-lr tail): 12 checkpoints x 64 games.
    "paper": Recipe(),
    "fast": Recipe(preset="fast", env_steps=50_000, checkpoint_every=5_000, episodes_per_checkpoint=16, train_envs=8, low_lr_tail=0),
    # 20k steps: 10 checkpoints x 16 games, a few MB per MinAtar game.
    "minatar": Recipe(preset="minatar", env_steps=20_000, checkpoint_every=1_000, episodes_per_checkpoint=16, train_envs=8, low_lr_tail=0),
    "smoke": Recipe(preset="smoke", env_steps=200, checkpoint_every=100, episodes_per_checkpoint=2, train_envs=2, play_envs=2, low_lr_tail=0),
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise UnknownNameError(f"unknown recipe {name!r}.{closest_match_hint(name, list(RECIPES))} Recipes: {', '.join(RECIPES)}.")
    return RECIPES[name]


def recipe_dataset_id(game: str, recipe: str) -> str:
    return make_dataset_id("local", game, f"ez-{recipe}", 1)


def recipe_dataset_path(game: str, recipe: str, root: Path | None = None) -> Path:
    """Where ``collect_recipe`` writes ``game``'s dataset by default (inside the data cache)."""
    return dataset_dir(recipe_dataset_id(game, recipe), root) / f"{game}.hdf5"


def published_dataset_id(game: str) -> str:
    return make_dataset_id(PUBLISHED_NAMESPACE, game, PUBLISHED_SOURCE, 1)


def _read_state(work: Path) -> dict:
    path = work / STATE_FILE
    return json.loads(path.read_text()) if path.is_file() else {"policies": []}


def _write_state(work: Path, state: dict) -> None:
    atomic_write_bytes(work / STATE_FILE, json.dumps(state, indent=2).encode())


def collect_recipe(
    game: str,
    recipe_name: str,
    out: Path | None = None,
    *,
    dataset_id: str | None = None,
    seed: int = 0,
    device: str = "cpu",
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Runs (or resumes) the recipe for ``game`` and finalises its dataset; returns the file.

    Args:
        game: catalog name.
        recipe_name: a key of ``RECIPES``.
        out: the dataset file (default ``recipe_dataset_path``); its work directory is ``<out>.recipe/``.
        dataset_id: the id recorded in the file (default ``recipe_dataset_id``; a dataset to publish
            as a game's pretraining data takes ``published_dataset_id``, which stage 1 looks for).
        seed: seeds the online run and the games.
        device: torch device of the agent.
        force: start over, discarding an existing file or an interrupted run.
        progress: show progress bars while checkpoints play.

    Raises:
        UnknownNameError: unknown game or recipe.
        DatasetError: the output exists (without ``force``) or an interrupted run had other settings.
    """
    from tqdm.auto import tqdm

    from xtra_bench.agents import default_registry
    from xtra_bench.envs import make_env, make_spec

    recipe = get_recipe(recipe_name)
    spec = make_spec(game)
    out = Path(out) if out is not None else recipe_dataset_path(spec.game, recipe_name)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.with_name(out.name + ".recipe")
    if force and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    meta = DatasetMeta.from_spec(
        spec,
        dataset_id=dataset_id or recipe_dataset_id(spec.game, recipe_name),
        collector={"recipe": recipe_name, **dataclasses.asdict(recipe), "agent": AGENT, "seed": seed, "greedy": True},
        description=(
            f"{recipe.episodes_per_checkpoint} greedy games from each checkpoint (every {recipe.checkpoint_every} updates)"
            f" of one EfficientZero ({recipe.preset}) run on {spec.game}: the XTRA paper's data recipe ({recipe_name})."
        ),
    )
    writer = EpisodeWriter(out, meta, force=force)
    state = _read_state(work)
    registry = default_registry()
    saved = work / CHECKPOINT_DIR
    if saved.is_dir():
        agent = registry.load_checkpoint(saved, device=device)
    else:
        tail = {"final_low_lr_steps": recipe.low_lr_tail} if recipe.low_lr_tail else None
        agent = registry.make(AGENT, spec, preset=recipe.preset, seed=seed, device=device, overrides=tail)

    def play_checkpoint(policy_id: int) -> None:
        want = (policy_id + 1) * recipe.episodes_per_checkpoint
        if writer.num_episodes >= want:
            return
        env_seed = int(np.random.SeedSequence([seed, policy_id, writer.session]).generate_state(1)[0])
        bar = tqdm(total=recipe.episodes_per_checkpoint, initial=writer.num_episodes - want + recipe.episodes_per_checkpoint,
                   unit="game", desc=f"{spec.game} checkpoint {policy_id}", disable=not progress, dynamic_ncols=True)
        with bar, make_env(spec.game, recipe.play_envs, mode="train", seed=env_seed) as env:
            play(agent, env, writer, lambda: writer.num_episodes >= want, greedy=True, policy_id=policy_id, on_episode=lambda _: bar.update(1))
        writer.flush()

    def checkpoint(updates: int) -> None:
        agent.save(saved)
        state["policies"].append(
            {"id": len(state["policies"]), "agent": AGENT, "updates": updates, "checkpoint_sha256": directory_sha256(saved), "greedy": True}
        )
        _write_state(work, state)
        logger.info("%s: checkpoint %d at %d updates", spec.game, len(state["policies"]) - 1, updates)
        play_checkpoint(len(state["policies"]) - 1)

    def on_metrics(env_steps: int, metrics: dict) -> None:
        if "update" not in metrics:
            raise ConfigError(f"the {AGENT} agent does not report its update count; the recipe cannot place checkpoints")
        updates = int(metrics["update"])
        if updates // recipe.checkpoint_every > len(state["policies"]):
            checkpoint(updates)

    if state["policies"]:  # an interrupted run: finish the latest checkpoint's games first
        play_checkpoint(len(state["policies"]) - 1)
    with make_env(spec.game, recipe.train_envs, mode="train", seed=session_seed(seed, writer.session)) as env:
        agent.train(env, recipe.env_steps, on_metrics=on_metrics)
    if not state["policies"]:
        raise ConfigError(f"the run ended before its first checkpoint ({recipe.checkpoint_every} updates)")
    path = writer.finalise({"policies": state["policies"], "session_seeds": [session_seed(seed, k) for k in range(writer.session + 1)]})
    shutil.rmtree(work)
    return path
