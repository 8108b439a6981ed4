"""Plays a game's train-mode environment with a policy and writes what it sees as a dataset.

The policy is any agent that can act: "random" (the registry's random agent) or a checkpoint
directory, restored through the agent registry. Episodes go through ``EpisodeWriter``, so a killed
collection resumes when the same command runs again: the complete episodes stay, the games in
progress are played anew from fresh seeds (each session of a run has its own seed, recorded in
the file).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.episode import Episode
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.registry import make_dataset_id, parse_dataset_id
from xtra_bench.data.writer import Compression, DatasetMeta, EpisodeWriter
from xtra_bench.errors import ConfigError, XtraBenchError

RANDOM_POLICY = "random"


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """One collection run.

    Attributes:
        game: catalog name of the game.
        policy: "random" or the path of an agent checkpoint directory.
        steps: stop once this many transitions are written (whole episodes: a few more may be).
        episodes: stop once this many episodes are written (exactly); give ``steps`` or ``episodes``.
        out: the dataset file to write.
        seed: seeds the environments and the random policy.
        envs: environments played side by side.
        dataset_id: the id recorded in the file; default ``local/<game>/<policy name>-v1``.
        description: free text for the file and its card.
        license: SPDX identifier of the data license.
        device: torch device of a checkpoint policy.
        force: overwrite an existing file and discard an interrupted run.
        progress: show a progress bar.
    """

    game: str = "MinAtar-Breakout"
    policy: str = RANDOM_POLICY
    steps: int | None = None
    episodes: int | None = None
    out: Path = Path("dataset.hdf5")
    seed: int = 0
    envs: int = 1
    dataset_id: str | None = None
    description: str = ""
    license: str = "CC-BY-4.0"
    device: str = "cpu"
    force: bool = False
    progress: bool = True

    def __post_init__(self):
        if (self.steps is None) == (self.episodes is None):
            raise ConfigError("give exactly one of --steps and --episodes")
        if (self.steps or self.episodes or 0) < 1:
            raise ConfigError("--steps / --episodes must be at least 1")
        if self.envs < 1:
            raise ConfigError(f"--envs must be at least 1, got {self.envs}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be non-negative, got {self.seed}")
        if self.dataset_id is not None:
            parse_dataset_id(self.dataset_id)


def session_seed(seed: int, session: int) -> int:
    """The seed of the ``session``-th (re)start of a run: the run's seed first, then derived ones."""
    if session == 0:
        return seed
    return int(np.random.SeedSequence([seed, session]).generate_state(1)[0])


def directory_sha256(path: Path) -> str:
    """sha256 over every file of a checkpoint directory (relative paths and contents, in sorted order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _policy_record(config: CollectConfig) -> dict[str, Any]:
    if config.policy == RANDOM_POLICY:
        return {"id": 0, "agent": RANDOM_POLICY, "checkpoint": None, "checkpoint_sha256": None, "greedy": False}
    from xtra_bench.agents import read_checkpoint_meta

    path = Path(config.policy)
    if not path.is_dir():
        raise ConfigError(f"--policy must be 'random' or an agent checkpoint directory; {path} is neither")
    meta = read_checkpoint_meta(path)
    return {
        "id": 0,
        "agent": meta["agent"],
        "checkpoint": str(path),
        "checkpoint_sha256": directory_sha256(path),
        "greedy": False,
    }


def _make_agent(config: CollectConfig, spec: Any, seed: int):
    from xtra_bench.agents import default_registry

    registry = default_registry()
    if config.policy == RANDOM_POLICY:
        return registry.make(RANDOM_POLICY, spec, seed=seed, device=config.device)
    agent = registry.load_checkpoint(Path(config.policy), device=config.device)
    if tuple(agent.spec.action_set) != tuple(spec.action_set):
        raise ConfigError(
            f"the checkpoint {config.policy} acts in {agent.spec.game}'s action set {agent.spec.action_set},"
            f" not {spec.game}'s {spec.action_set}"
        )
    return agent


class _Games:
    """The games in progress in E environments, turned into ``Episode`` s (of behaviour policy ``policy_id``) as they end."""

    def __init__(self, obs: np.ndarray, policy_id: int = 0):
        self._parts = [self._fresh(o[-1]) for o in obs]
        self._policy_id = policy_id

    @staticmethod
    def _fresh(frame: np.ndarray) -> dict[str, list]:
        return {"frames": [frame.copy()], "actions": [], "rewards": [], "life_loss": []}

    def step(self, actions: np.ndarray, batch: Any) -> list[Episode]:
        """Records one step of every env; returns the games that ended, in env order."""
        ended = []
        over = batch.terminated | batch.truncated
        for i, part in enumerate(self._parts):
            part["actions"].append(actions[i])
            part["rewards"].append(batch.reward[i])
            part["life_loss"].append(batch.life_loss[i])
            if over[i]:
                part["frames"].append(batch.final_obs[i, -1].copy())
                ended.append(self._episode(part, bool(batch.terminated[i]), self._policy_id))
                self._parts[i] = self._fresh(batch.obs[i, -1])
            else:
                part["frames"].append(batch.obs[i, -1].copy())
        return ended

    @staticmethod
    def _episode(part: dict[str, list], terminated: bool, policy_id: int) -> Episode:
        steps = len(part["actions"])
        return Episode(
            id=-1,
            frames=np.stack(part["frames"]),
            actions=np.asarray(part["actions"], np.int16),
            rewards=np.asarray(part["rewards"], np.float32),
            life_loss=np.asarray(part["life_loss"], bool),
            terminated=terminated,
            policy_ids=np.full(steps, policy_id, np.int16),
        )


def play(
    agent: Any,
    env: Any,
    writer: EpisodeWriter,
    done: Callable[[], bool],
    *,
    greedy: bool = False,
    policy_id: int = 0,
    on_episode: Callable[[Episode], None] | None = None,
    on_step: Callable[[], None] | None = None,
) -> None:
    """Plays ``env`` with ``agent`` from a reset, adding every finished game to ``writer`` until ``done()``.

    Games still running when ``done()`` turns true are dropped (a dataset holds whole games only).

    Args:
        agent: anything with the agent's ``act(obs, greedy=...)``.
        env: the game's train-mode vector env.
        writer: receives the finished games.
        done: checked before every step and every added game.
        greedy: act greedily (evaluation) instead of sampling as in training.
        policy_id: recorded on every row of the games (which behaviour policy played them).
        on_episode: called after each added game.
        on_step: called after each env step.
    """
    obs = env.reset()
    games = _Games(obs, policy_id)
    while not done():
        actions = np.asarray(agent.act(obs, greedy=greedy))
        batch = env.step(actions)
        for episode in games.step(actions, batch):
            if done():
                break
            writer.add(episode)
            if on_episode:
                on_episode(episode)
        if on_step:
            on_step()
        obs = batch.obs


def collect(config: CollectConfig, compression: Compression = Compression()) -> Path:
    """Runs (or resumes) a collection and finalises its dataset; returns the file's path.

    Raises:
        ConfigError: bad settings, or a checkpoint for another action set.
        UnknownNameError: an unknown game or agent.
        DatasetError: the output exists (without ``force``) or an interrupted run used other settings.
        XtraBenchError: interrupted (Ctrl-C); the same command resumes.
    """
    from tqdm.auto import tqdm

    from xtra_bench.envs import make_env

    policy = _policy_record(config)
    target = {"steps": config.steps} if config.steps is not None else {"episodes": config.episodes}
    probe = make_env(config.game, 1, mode="train", seed=config.seed)
    spec = probe.spec
    probe.close()
    meta = DatasetMeta.from_spec(
        spec,
        dataset_id=config.dataset_id or make_dataset_id("local", spec.game, policy["agent"], 1),
        collector={"policies": [policy], "seed": config.seed, "envs": config.envs, "mode": "train", **target},
        description=config.description,
        license=config.license,
    )
    writer = EpisodeWriter(config.out, meta, compression=compression, force=config.force)

    def done() -> bool:
        return writer.num_steps >= config.steps if config.steps is not None else writer.num_episodes >= config.episodes

    total, unit = (config.steps, "step") if config.steps is not None else (config.episodes, "episode")
    progress = tqdm(total=total, unit=unit, desc=f"collect {spec.game}", disable=not config.progress, dynamic_ncols=True)
    progress.update(min(total, writer.num_steps if unit == "step" else writer.num_episodes))
    seed = session_seed(config.seed, writer.session)
    try:
        with progress, make_env(config.game, config.envs, mode="train", seed=seed) as env:
            agent = _make_agent(config, env.spec, seed)
            play(
                agent,
                env,
                writer,
                done,
                on_episode=lambda _: progress.update(1) if unit == "episode" else None,
                on_step=lambda: progress.update(min(config.envs, total - progress.n)) if unit == "step" else None,
            )
    except KeyboardInterrupt:
        raise XtraBenchError(
            f"interrupted with {writer.num_episodes} complete episode(s) saved; run the same command to resume"
        ) from None
    seeds = [session_seed(config.seed, k) for k in range(writer.session + 1)]
    try:
        return writer.finalise({"session_seeds": seeds})
    except OSError as exc:
        raise DatasetError(f"could not write {config.out}: {exc}") from None
