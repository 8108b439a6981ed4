"""The ``Dataset`` view: a file path plus the episodes selected from it, metadata as properties.

The view holds no open file: every read opens the file in a ``with`` block, so a dataset can be
passed to forked workers. Selecting episodes returns a new view over the same file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.episode import Episode, episode_from_rows
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import COLUMNS, SMALL_COLUMNS, Header, check_structure, read_header
from xtra_bench.data.integrity import file_sha256, open_h5, read_sidecar


class Dataset:
    """A view of the episodes of one dataset file.

    Args:
        path: a format-v1 file.
        episode_indices: the episodes of the view (default: all), as indices into the file.

    Raises:
        DatasetError: the file is missing, unreadable, of another version or inconsistent (a
            header, array or row that breaks the format: ``format.check_structure``).
    """

    def __init__(self, path: Path, episode_indices: Sequence[int] | np.ndarray | None = None):
        self._path = Path(path)
        with open_h5(self._path) as h5:
            self._header = read_header(h5, self._path)
            columns = {name: h5[name][:] for name in SMALL_COLUMNS}
        # Every view is checked on opening, so no sampler or agent sees rows that break the format.
        check_structure(self._header, columns)
        ends = np.flatnonzero(columns["is_last"]) + 1
        # Row offsets of every episode of the file: episode i spans rows [offsets[i], offsets[i+1]).
        self._offsets = np.concatenate([[0], ends]).astype(np.int64)
        all_episodes = np.arange(self._header.num_episodes)
        indices = all_episodes if episode_indices is None else np.asarray(episode_indices, np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self._header.num_episodes):
            raise DatasetError(f"episode indices must be in [0, {self._header.num_episodes})")
        self._episode_indices = indices
        self._sha256: str | None = None

    @classmethod
    def _view(cls, parent: Dataset, indices: np.ndarray) -> Dataset:
        view = cls.__new__(cls)
        view.__dict__.update(parent.__dict__)
        view._episode_indices = indices
        return view

    # ---- metadata ---------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self._path

    @property
    def header(self) -> Header:
        """Every root attribute of the file, parsed."""
        return self._header

    @property
    def dataset_id(self) -> str:
        return self._header.dataset_id

    @property
    def game(self) -> str:
        return self._header.game

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return self._header.frame_shape

    @property
    def action_set(self) -> tuple[int, ...]:
        return self._header.action_set

    @property
    def num_actions(self) -> int:
        return self._header.num_actions

    @property
    def episode_indices(self) -> np.ndarray:
        """int64 [E]: the file's episodes in this view."""
        return self._episode_indices.copy()

    @property
    def episode_lengths(self) -> np.ndarray:
        """int64 [E]: transitions of each episode of the view."""
        return np.diff(self._offsets)[self._episode_indices] - 1

    @property
    def total_steps(self) -> int:
        """Transitions in the view."""
        return int(self.episode_lengths.sum())

    @property
    def sha256(self) -> str:
        """sha256 of the file: from its sidecar when there is one, computed otherwise."""
        if self._sha256 is None:
            self._sha256 = read_sidecar(self._path) or file_sha256(self._path)
        return self._sha256

    def row_ranges(self) -> np.ndarray:
        """int64 [E, 2]: the file rows [start, stop) of each episode of the view."""
        return np.stack([self._offsets[self._episode_indices], self._offsets[self._episode_indices + 1]], axis=1)

    # ---- episodes ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._episode_indices)

    def __getitem__(self, i: int) -> Episode:
        episode = int(self._episode_indices[i])
        start, stop = self._offsets[episode], self._offsets[episode + 1]
        with open_h5(self._path) as h5:
            rows = {name: h5[name][start:stop] for name in COLUMNS}
        return episode_from_rows(episode, rows)

    def __iter__(self) -> Iterator[Episode]:
        for i in range(len(self)):
            yield self[i]

    def select(self, indices: Sequence[int] | np.ndarray) -> Dataset:
        """A view of some episodes of this view (positions in this view, in the given order)."""
        return self._view(self, self._episode_indices[np.asarray(indices, np.int64)])

    def filter_episodes(self, keep: Callable[[Episode], bool]) -> Dataset:
        """A view of the episodes for which ``keep`` is true (reads every episode once)."""
        return self._view(self, np.asarray([e.id for e in self if keep(e)], np.int64))

    def read_columns(self, names: Sequence[str] = tuple(COLUMNS)) -> dict[str, np.ndarray]:
        """Reads columns for every row of the view, episodes concatenated in view order.

        Returns:
            name -> array [R, ...] with R = total rows of the view (``total_steps + len(self)``).
        """
        ranges = self.row_ranges()
        whole = len(ranges) == self._header.num_episodes and np.array_equal(self._episode_indices, np.arange(len(ranges)))
        with open_h5(self._path) as h5:
            if whole:
                return {name: h5[name][:] for name in names}
            return {
                name: np.concatenate([h5[name][start:stop] for start, stop in ranges])
                if len(ranges)
                else np.zeros((0, *h5[name].shape[1:]), h5[name].dtype)
                for name in names
            }

    def validate(self) -> None:
        """Checks the episode structure of the whole file (the header was checked on opening).

        Raises:
            DatasetError: naming the first row that breaks a rule of the format.
        """
        with open_h5(self._path) as h5:
            columns = {name: h5[name][:] for name in SMALL_COLUMNS}
        check_structure(self._header, columns)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.dataset_id!r}, game={self.game!r}, episodes={len(self)}, steps={self.total_steps},"
            f" frame={list(self.frame_shape)}, path={str(self._path)!r})"
        )

    def info(self) -> dict[str, Any]:
        """A JSON-ready summary of the view and the file's attributes."""
        return {
            "path": str(self._path),
            "episodes": len(self),
            "steps": self.total_steps,
            **self._header.attrs,
        }
