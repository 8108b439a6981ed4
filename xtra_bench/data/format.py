"""Dataset format v1: the columns, the root attributes and a validator for both.

A dataset file is flat and step-aligned: every top-level array has one row per step, and an
episode of T transitions takes T+1 rows (RLDS style). Row t holds the frame seen before action t,
action t and the raw reward received after it; the last row of an episode holds the final frame,
``is_last``, action -1 and reward 0. ``life_loss`` on row t+1 means a life was lost during
transition t; ``is_terminal`` (game over) is set only on a last row, so a last row without it
ends a game cut at the frame cap.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.errors import DatasetError
from xtra_bench.data.validation import int_list_attr, typed_attr

FORMAT_VERSION = 1
READABLE_FORMAT_VERSIONS: tuple[int, ...] = (1,)
DATASET_KIND = "xtra-bench/dataset"
TARGETS_KIND = "xtra-bench/targets"

FRAME = "frame"
COLUMNS: dict[str, np.dtype] = {
    FRAME: np.dtype(np.uint8),
    "action": np.dtype(np.int16),
    "reward": np.dtype(np.float32),
    "is_first": np.dtype(bool),
    "is_last": np.dtype(bool),
    "is_terminal": np.dtype(bool),
    "life_loss": np.dtype(bool),
    "episode": np.dtype(np.int32),
    "policy_id": np.dtype(np.int16),
}
"""Every top-level array of a dataset file and its dtype; all have N rows, ``frame`` is [N, *frame_shape]."""

SMALL_COLUMNS = tuple(name for name in COLUMNS if name != FRAME)
NO_ACTION = -1
"""``action`` and ``policy_id`` of a last row: no action is taken from the final frame."""

JSON_ATTRS = ("env_settings", "collector", "compression")
"""Root attributes stored as JSON text (HDF5 attributes hold no nested mappings)."""

REQUIRED_ATTRS = (
    "kind",
    "format_version",
    "dataset_id",
    "game",
    "suite",
    "frame_shape",
    "action_set",
    "num_episodes",
    "num_steps",
    "num_rows",
    "env_settings",
    "collector",
    "compression",
    "code_version",
    "created",
    "description",
    "license",
)
ATARI_ATTRS = ("ale_py_version", "rom_md5")
"""Extra root attributes of Atari datasets: they pin the exact emulator and game binary."""


@dataclasses.dataclass(frozen=True)
class Header:
    """The root attributes of a dataset file, parsed.

    Attributes:
        path: the file.
        format_version: the version of this format the file follows.
        dataset_id: ``<namespace>/<Game>/<source>-v<N>``.
        game: catalog name of the game.
        suite: "atari" or "minatar".
        frame_shape: shape of one frame, (96, 96, 3) for Atari.
        action_set: the game's actions as ids in the shared 18-action space.
        num_episodes: episodes in the file.
        num_steps: transitions in the file (rows minus episodes).
        num_rows: rows of every column.
        env_settings: every environment setting the frames and rewards depend on.
        collector: how the data was produced (policies, checkpoint hashes, seeds).
        compression: the HDF5 filter of the arrays and why it was chosen.
        attrs: every root attribute as stored (JSON ones decoded).
    """

    path: Path
    format_version: int
    dataset_id: str
    game: str
    suite: str
    frame_shape: tuple[int, ...]
    action_set: tuple[int, ...]
    num_episodes: int
    num_steps: int
    num_rows: int
    env_settings: dict[str, Any]
    collector: dict[str, Any]
    compression: dict[str, Any]
    attrs: dict[str, Any]

    @property
    def num_actions(self) -> int:
        return len(self.action_set)


def _plain(value: Any) -> Any:
    """Turns an HDF5 attribute value into a plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_version(path: Path, attrs: Any, kind: str) -> int:
    """Checks the kind and format version of a file's root attributes; returns the version.

    Raises:
        DatasetError: the file is of another kind, has no version or one this code cannot read.
    """
    found_kind = _plain(attrs.get("kind", ""))
    if found_kind != kind:
        what = {DATASET_KIND: "a dataset", TARGETS_KIND: "a targets file"}
        raise DatasetError(f"{path} is not {what[kind]} file (its kind is {found_kind or 'missing'!r})")
    if "format_version" not in attrs:
        raise DatasetError(f"{path} has no format_version attribute; it was not written by xtra-bench")
    version = typed_attr({"format_version": _plain(attrs["format_version"])}, "format_version", int, path)
    if version not in READABLE_FORMAT_VERSIONS:
        readable = ", ".join(map(str, READABLE_FORMAT_VERSIONS))
        raise DatasetError(
            f"{path} has format version {version}; this xtra-bench reads version(s) {readable}."
            " Install the xtra-bench release that wrote it."
        )
    return version


def read_header(h5: Any, path: Path) -> Header:
    """Validates the attributes and array shapes of an open dataset file and parses its header.

    Args:
        h5: an open ``h5py.File``.
        path: its path, for messages.

    Raises:
        DatasetError: wrong kind or version, a missing attribute or column, a wrong dtype or shape.
    """
    version = check_version(path, h5.attrs, DATASET_KIND)
    attrs = {key: _plain(h5.attrs[key]) for key in h5.attrs}
    missing = [key for key in REQUIRED_ATTRS if key not in attrs]
    if attrs.get("suite") == "atari":
        missing += [key for key in ATARI_ATTRS if key not in attrs]
    if missing:
        raise DatasetError(f"{path} lacks root attribute(s) {', '.join(missing)}")
    for key in JSON_ATTRS:
        try:
            attrs[key] = json.loads(attrs[key])
        except (TypeError, ValueError):
            raise DatasetError(f"{path}: root attribute {key!r} is not valid JSON") from None
        typed_attr(attrs, key, dict, path)
    counts = {key: typed_attr(attrs, key, int, path) for key in ("num_episodes", "num_steps", "num_rows")}
    if min(counts.values()) < 0:
        raise DatasetError(f"{path}: negative counts {counts}")
    header = Header(
        path=path,
        format_version=version,
        dataset_id=typed_attr(attrs, "dataset_id", str, path),
        game=typed_attr(attrs, "game", str, path),
        suite=typed_attr(attrs, "suite", str, path),
        frame_shape=int_list_attr(attrs, "frame_shape", path),
        action_set=int_list_attr(attrs, "action_set", path),
        **counts,
        env_settings=attrs["env_settings"],
        collector=attrs["collector"],
        compression=attrs["compression"],
        attrs=attrs,
    )
    if header.num_rows != header.num_steps + header.num_episodes:
        raise DatasetError(f"{path}: num_rows {header.num_rows} != num_steps + num_episodes")
    for name, dtype in COLUMNS.items():
        if name not in h5:
            raise DatasetError(f"{path} lacks the array {name!r}")
        array = h5[name]
        shape = (header.num_rows, *header.frame_shape) if name == FRAME else (header.num_rows,)
        if array.dtype != dtype or array.shape != shape:
            raise DatasetError(
                f"{path}: array {name!r} is {array.dtype}{list(array.shape)}, expected {dtype}{list(shape)}"
            )
    return header


def check_structure(header: Header, columns: dict[str, np.ndarray]) -> None:
    """Checks that the small columns describe whole, consecutive episodes as the format says.

    Args:
        header: the file's header.
        columns: every name in ``SMALL_COLUMNS`` -> its [N] array.

    Raises:
        DatasetError: naming the first row that breaks a rule.
    """
    path, n = header.path, header.num_rows
    is_first, is_last = columns["is_first"], columns["is_last"]
    if n == 0:
        if header.num_episodes:
            raise DatasetError(f"{path}: no rows but num_episodes={header.num_episodes}")
        return
    expected_first = np.zeros(n, bool)
    expected_first[0] = True
    expected_first[1:] = is_last[:-1]
    problems = {
        "is_first is not set exactly after each last row": is_first != expected_first,
        "is_terminal is set on a row that is not last": columns["is_terminal"] & ~is_last,
        "a first row carries life_loss": columns["life_loss"] & is_first,
        "a last row has an action": is_last & (columns["action"] != NO_ACTION),
        "a last row has a policy_id": is_last & (columns["policy_id"] != NO_ACTION),
        "a last row has a reward": is_last & (columns["reward"] != 0),
        "an action is outside the action set": ~is_last
        & ((columns["action"] < 0) | (columns["action"] >= header.num_actions)),
        "a reward is not finite": ~np.isfinite(columns["reward"]),
    }
    if not is_last[-1]:
        raise DatasetError(f"{path}: the rows end inside an episode (row {n - 1} is not a last row)")
    episode_ids = np.cumsum(is_first) - 1
    problems["the episode column does not count episodes from 0"] = columns["episode"] != episode_ids
    for message, bad in problems.items():
        if bad.any():
            raise DatasetError(f"{path}: {message} (row {int(np.flatnonzero(bad)[0])})")
    num_episodes = int(is_last.sum())
    if num_episodes != header.num_episodes:
        raise DatasetError(f"{path}: {num_episodes} episodes found, the header says {header.num_episodes}")
