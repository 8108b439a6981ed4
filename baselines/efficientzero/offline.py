"""A fixed dataset as EfficientZero's prioritised replay, for offline training (XTRA's teachers).

The dataset's rows are used as they are (format v1 is the replay's own row layout): its raw
rewards become learning rewards here (sign-clipped when the config says so) and its life-loss
flags end learning episodes when ``life_loss_terminal`` is set, so a window never bootstraps
across a lost life. Frame stacks after a life loss use the game's earlier frames, as the
environment's stack did when the data was collected.

Dataset rows carry no search policy, so every policy target comes from reanalysis. They were not
collected by the learner either, so the off-policy correction (which shortens n for the learner's
own older data) does not apply: every window bootstraps after the full ``td_steps``.

Frames are loaded when they fit and streamed from the file otherwise (``xtra_bench.data.streaming``:
``$XTRA_BENCH_FRAMES`` or the ``frames`` argument overrides the choice); both give the same batches.
Streamed frames are gathered when a batch is drawn, on the chunk cache's worker threads; nothing
is drawn ahead, since every draw depends on the priorities written after the update before it.

Checkpoints hold a reference to the dataset (its path and sha256) plus the priorities and the
draw generator, never the frames: ``load_state_dict`` is given the same dataset again.
"""

from __future__ import annotations

import numpy as np

from baselines.efficientzero.replay import PrioritizedRows
from baselines.efficientzero.targets import learning_rewards
from xtra_bench.data import Dataset
from xtra_bench.data.streaming import ChunkCache, frames_mode, open_frames
from xtra_bench.data.windows import learning_bounds
from xtra_bench.errors import ConfigError


class DatasetReplay(PrioritizedRows):
    """Every row of a dataset view, drawn by priority like the online replay.

    Args:
        dataset: the view to learn from (its rows are loaded now, its frames too unless streamed).
        env_to_head: int64 [len(action_set)] policy-head entry of each dataset action.
        num_actions: A, width of the policy head.
        clip_rewards: learn from sign-clipped rewards.
        life_loss_terminal: a life loss ends the learning episode (no bootstrap across it).
        frames: "memory", "stream" or "auto" (default: ``$XTRA_BENCH_FRAMES``, else "auto": stream
            only frames that do not fit).
        cache: the chunk cache of streamed frames (default: one of ``$XTRA_BENCH_CACHE_BYTES``).
        **layout: the window layout, priority exponent and seed of ``PrioritizedRows``.
    """

    def __init__(
        self,
        dataset: Dataset,
        env_to_head: np.ndarray,
        num_actions: int,
        *,
        clip_rewards: bool,
        life_loss_terminal: bool,
        frames: str | None = None,
        cache: ChunkCache | None = None,
        **layout,
    ):
        super().__init__(num_actions, **layout)
        self.frames, columns = open_frames(dataset, frames_mode([dataset], frames), cache=cache)
        is_last = columns["is_last"]
        ends = columns["is_terminal"] | (columns["life_loss"] if life_loss_terminal else False)
        rows = len(is_last)
        self.first, self.last = learning_bounds(is_last, ends)
        self.terminal = ends[self.last]
        # Last rows store action -1; no window reads their action.
        self.actions = np.where(is_last, 0, np.asarray(env_to_head)[np.maximum(columns["action"], 0)]).astype(np.int64)
        self.rewards = learning_rewards(columns["reward"], clip_rewards)
        self.policies = np.zeros((rows, num_actions), dtype=np.float32)
        self.env_steps = np.zeros(rows, dtype=np.int64)
        self.priorities = np.where(is_last, 0.0, 1.0)
        self.size = rows
        self.num_transitions = int((~is_last).sum())
        self.dataset_path = str(dataset.path)
        self.dataset_sha256 = dataset.sha256

    def reference(self) -> dict[str, str]:
        """The dataset this replay holds: {"path": ..., "sha256": ...}."""
        return {"path": self.dataset_path, "sha256": self.dataset_sha256}

    def state_dict(self) -> dict:
        """The dataset reference, priorities and draw generator (no frames)."""
        return {
            "dataset": self.reference(),
            "priorities": self.priorities.copy(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restores priorities and generator saved from a replay of the same dataset.

        Raises:
            ConfigError: the state belongs to another dataset file.
        """
        if state["dataset"]["sha256"] != self.dataset_sha256:
            raise ConfigError(
                f"the checkpoint's offline state belongs to dataset {state['dataset']['path']} "
                f"(sha256 {state['dataset']['sha256'][:12]}...), not to {self.dataset_path}"
            )
        self.priorities[:] = np.asarray(state["priorities"])
        self.rng.bit_generator.state = state["rng"]
