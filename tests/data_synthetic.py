"""Small synthetic datasets for the data tests, written through the real writer.

Every frame encodes where it comes from: channel 0 holds the episode's tag, channel 1 the step
index within the episode, so a test can tell from pixels alone which row a frame was taken from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xtra_bench.data import DatasetMeta, Episode, write_dataset

FRAME_SHAPE = (3, 3, 2)
ACTION_SET = (0, 4, 3)
"""MinAtar-Breakout's, so the datasets pass the catalog check of ``verify``."""


def tagged_episode(
    tag: int,
    rewards: list[float],
    *,
    terminated: bool = True,
    life_loss_after: tuple[int, ...] = (),
    actions: list[int] | None = None,
) -> Episode:
    """An episode of len(rewards) transitions whose frames encode (tag, t).

    Args:
        tag: stored in channel 0 of every frame.
        rewards: raw rewards of transitions 0..T-1.
        terminated: game over at the end (else cut at the frame cap).
        life_loss_after: transitions during which a life is lost.
        actions: actions of the transitions (default t mod 3).
    """
    steps = len(rewards)
    frames = np.zeros((steps + 1, *FRAME_SHAPE), np.uint8)
    frames[..., 0] = tag
    frames[..., 1] = np.arange(steps + 1)[:, None, None]
    life_loss = np.zeros(steps, bool)
    life_loss[list(life_loss_after)] = True
    return Episode(
        id=-1,
        frames=frames,
        actions=np.asarray(actions if actions is not None else np.arange(steps) % 3, np.int16),
        rewards=np.asarray(rewards, np.float32),
        life_loss=life_loss,
        terminated=terminated,
        policy_ids=np.zeros(steps, np.int16),
    )


def synthetic_meta(dataset_id: str = "test/Synthetic/random-v1") -> DatasetMeta:
    return DatasetMeta(
        dataset_id=dataset_id,
        game="MinAtar-Breakout",
        suite="minatar",
        frame_shape=FRAME_SHAPE,
        action_set=ACTION_SET,
        env_settings={"source": "tests"},
        collector={"policies": [{"id": 0, "agent": "synthetic"}]},
        description="synthetic episodes for tests",
    )


def random_episodes(seed: int, count: int, max_steps: int = 12) -> list[Episode]:
    """Episodes of random lengths, rewards, life losses and endings (tags 1..count)."""
    rng = np.random.default_rng(seed)
    episodes = []
    for tag in range(1, count + 1):
        steps = int(rng.integers(1, max_steps))
        rewards = rng.choice([-2.0, -1.0, 0.0, 0.0, 1.0, 5.0], size=steps).tolist()
        losses = tuple(np.flatnonzero(rng.random(steps) < 0.15))
        episodes.append(tagged_episode(tag, rewards, terminated=bool(rng.random() < 0.7), life_loss_after=losses))
    return episodes


def write_synthetic(path: Path, episodes: list[Episode], dataset_id: str = "test/Synthetic/random-v1") -> Path:
    return write_dataset(Path(path), synthetic_meta(dataset_id), episodes)


@pytest.fixture(autouse=True)
def isolated_data_root(tmp_path, monkeypatch):
    """Points the data root and the registry at the test's own directory."""
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("XTRA_BENCH_REGISTRY", raising=False)
    return tmp_path / "cache"
