"""What every suite's batched environment offers: its spec, the step result and the vector interface."""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Literal, NamedTuple

import numpy as np

Mode = Literal["train", "eval"]
MODES: tuple[str, ...] = ("train", "eval")
FULL_ACTION_COUNT = 18
"""Size of the shared action space: the full Atari action set; every suite maps its actions into it."""


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Everything about a game's environment that a learner or a dataset needs to know.

    Attributes:
        game: catalog name ("Breakout", "MinAtar-Breakout").
        suite: "atari" or "minatar".
        frame_shape: shape of one frame, (96, 96, 3) for Atari.
        frame_stack: frames per observation.
        action_set: ids in the shared 18-action space, one per action the agent chooses among.
        mode: "train" or "eval".
        settings: every setting the observations and rewards depend on (hashable into a protocol).
    """

    game: str
    suite: str
    frame_shape: tuple[int, ...]
    frame_stack: int
    action_set: tuple[int, ...]
    mode: str
    settings: dict[str, Any] = dataclasses.field(hash=False, compare=False)

    @property
    def num_actions(self) -> int:
        return len(self.action_set)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        """Shape of one stacked observation: (stack, *frame_shape)."""
        return (self.frame_stack, *self.frame_shape)


class StepBatch(NamedTuple):
    """One step of E environments.

    Attributes:
        obs: uint8 [E, stack, *frame]; for an env whose game ended this step, the first observation
            of its next game (same-step auto-reset).
        reward: float32 [E], the raw game reward (learners clip it themselves).
        terminated: bool [E], the game is over.
        truncated: bool [E], the game hit the frame cap.
        life_loss: bool [E], a life was lost this step (the game goes on unless it is over).
        done: bool [E], the learning episode ended: in train mode terminated | truncated | life_loss,
            in eval mode terminated | truncated.
        final_obs: uint8 [E, stack, *frame], the last observation of a game that ended this step
            (rows of other envs equal ``obs``).
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    life_loss: np.ndarray
    done: np.ndarray
    final_obs: np.ndarray

    @property
    def clipped_reward(self) -> np.ndarray:
        """float32 [E]: sign of the raw reward, the learning signal of the protocol."""
        return np.sign(self.reward).astype(np.float32)

    @property
    def game_over(self) -> np.ndarray:
        """bool [E]: the game ended (over or capped) and the env was reset."""
        return self.terminated | self.truncated


def learning_done(mode: str, terminated: np.ndarray, truncated: np.ndarray, life_loss: np.ndarray) -> np.ndarray:
    """The protocol's rule for the end of a learning episode (see ``StepBatch.done``)."""
    done = terminated | truncated
    return done | life_loss if mode == "train" else done


class VectorEnv(abc.ABC):
    """E copies of one game stepped together, with the protocol's preprocessing.

    Seeding: ``reset()`` after construction with seed S gives the same sequence of games for the same
    actions every time (later games are seeded from the first ones).
    """

    spec: EnvSpec
    num_envs: int

    @property
    @abc.abstractmethod
    def episode_frames(self) -> np.ndarray:
        """int [E]: emulator frames played in each env's current game (no-op starts included)."""

    @abc.abstractmethod
    def reset(self) -> np.ndarray:
        """Starts a new game in every env; returns uint8 [E, stack, *frame]."""

    @abc.abstractmethod
    def step(self, actions: np.ndarray) -> StepBatch:
        """Plays ``actions`` (int [E], indices into ``spec.action_set``) in every env."""

    def close(self) -> None:
        """Frees the emulators."""

    def __enter__(self) -> VectorEnv:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_actions(actions: np.ndarray, num_envs: int, num_actions: int) -> np.ndarray:
    """Validates a batch of action indices and returns it as int64 [E]."""
    actions = np.asarray(actions)
    if actions.shape != (num_envs,):
        raise ValueError(f"expected {num_envs} actions, got an array of shape {actions.shape}")
    if actions.size and (actions.min() < 0 or actions.max() >= num_actions):
        raise ValueError(f"actions must be in [0, {num_actions}), got {actions.min()}..{actions.max()}")
    return actions.astype(np.int64, copy=False)
