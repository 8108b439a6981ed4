"""One episode (a whole game) as arrays: what the writer takes and what a dataset yields."""

from __future__ import annotations

import dataclasses

import numpy as np

from xtra_bench.data.errors import DatasetError


def _describe(array: np.ndarray) -> str:
    return f"{array.dtype}{list(array.shape)}"


@dataclasses.dataclass(frozen=True, eq=False)
class Episode:
    """A game of T transitions; the repr shows shapes and dtypes, never the arrays.

    Attributes:
        id: index of the episode in its dataset (-1 before it is written).
        frames: uint8 [T+1, *frame_shape]; frames[t] is seen before action t, frames[T] is the final frame.
        actions: int16 [T], indices into the game's action set.
        rewards: float32 [T], raw rewards received after each action.
        life_loss: bool [T], a life was lost during transition t.
        terminated: the game ended (game over); False when it was cut at the frame cap.
        policy_ids: int16 [T], the behaviour policy of each action (an index into the collector's policies).
    """

    id: int
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    life_loss: np.ndarray
    terminated: bool
    policy_ids: np.ndarray

    def __post_init__(self):
        t = len(self.actions)
        expected = {"frames": t + 1, "rewards": t, "life_loss": t, "policy_ids": t}
        for name, rows in expected.items():
            if len(getattr(self, name)) != rows:
                raise DatasetError(f"episode {self.id}: {name} has {len(getattr(self, name))} rows, expected {rows}")

    @property
    def num_steps(self) -> int:
        """T, the number of transitions."""
        return len(self.actions)

    @property
    def truncated(self) -> bool:
        """The game was cut at the frame cap rather than lost or won."""
        return not self.terminated

    @property
    def total_reward(self) -> float:
        """The raw score of the game."""
        return float(self.rewards.sum())

    def __repr__(self) -> str:
        arrays = ", ".join(
            f"{name}={_describe(getattr(self, name))}" for name in ("frames", "actions", "rewards", "life_loss", "policy_ids")
        )
        return f"Episode(id={self.id}, steps={self.num_steps}, {arrays}, terminated={self.terminated})"


def episode_rows(episode: Episode) -> dict[str, np.ndarray]:
    """Lays an episode out as the T+1 rows of format v1 (without the ``episode`` column).

    Returns:
        column name -> array of T+1 rows, in the dtypes of ``format.COLUMNS``.
    """
    from xtra_bench.data.format import NO_ACTION

    t = episode.num_steps
    flag = np.zeros(t + 1, bool)
    is_first, is_last, is_terminal, life_loss = flag.copy(), flag.copy(), flag.copy(), flag.copy()
    is_first[0] = is_last[t] = True
    is_terminal[t] = bool(episode.terminated)
    life_loss[1:] = episode.life_loss
    return {
        "frame": np.asarray(episode.frames, np.uint8),
        "action": np.append(np.asarray(episode.actions, np.int16), np.int16(NO_ACTION)),
        "reward": np.append(np.asarray(episode.rewards, np.float32), np.float32(0)),
        "is_first": is_first,
        "is_last": is_last,
        "is_terminal": is_terminal,
        "life_loss": life_loss,
        "policy_id": np.append(np.asarray(episode.policy_ids, np.int16), np.int16(NO_ACTION)),
    }


def episode_from_rows(episode_id: int, rows: dict[str, np.ndarray]) -> Episode:
    """Inverse of ``episode_rows``: rebuilds an episode from its T+1 rows."""
    return Episode(
        id=episode_id,
        frames=rows["frame"],
        actions=rows["action"][:-1],
        rewards=rows["reward"][:-1],
        life_loss=rows["life_loss"][1:],
        terminated=bool(rows["is_terminal"][-1]),
        policy_ids=rows["policy_id"][:-1],
    )
