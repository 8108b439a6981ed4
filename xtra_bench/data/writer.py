"""A crash-safe, resumable episode writer that produces a finalised format-v1 file.

Episodes go to a staging directory ``<out>.partial/`` in shards of whole episodes, each through a
temporary file and a rename, so a killed process leaves only complete episodes behind. Opening the same output again
resumes: the staged episodes are kept and counted. ``finalise`` assembles them into one HDF5 file
(written beside the output, moved into place when complete), records its sha256 in a sidecar,
makes both read-only and removes the staging directory.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.episode import Episode, episode_rows
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import COLUMNS, DATASET_KIND, FORMAT_VERSION, FRAME
from xtra_bench.data.integrity import (
    atomic_write_bytes,
    file_sha256,
    fsync_dir,
    install,
    remove_file,
    sidecar_path,
    unique_tmp,
)

COMPRESSION_FILTERS = ("none", "gzip", "lzf")


@dataclasses.dataclass(frozen=True)
class Compression:
    """The lossless HDF5 filter of every array, chosen by ``benchmarks/sampler.py`` and ``benchmarks/streaming.py`` (see RESULTS.md).

    Attributes:
        filter: "none", "gzip" (readable by every HDF5 tool) or "lzf" (h5py only, faster).
        level: gzip level 1-9; ignored by the other filters.
        chunk_bytes: target size of one chunk of frames (frames are chunked along rows).
        small_chunk_rows: rows per chunk of the one-value-per-row arrays.
        reason: why this setting, recorded in the file.
    """

    filter: str = "gzip"
    level: int = 4
    # 16 Atari frames (96x96x3). A zlib stream is read from its start, so streaming a window of
    # 14 frames also inflates the rows of its first chunk before it: 21.5 rows on average with
    # 16-row chunks, 32 with the earlier ~1 MB (37-row) ones. Smaller chunks compress worse.
    chunk_bytes: int = 16 * 96 * 96 * 3
    small_chunk_rows: int = 1 << 16
    reason: str = (
        "benchmarks/sampler.py on random Breakout/MsPacman: gzip-4 files are 1.1%/4.2% of raw (lzf 4.2%/24%,"
        " gzip-1 1.6%/5.5%, gzip-9 0.8%/2.1% but writes 3-5x slower) and any HDF5 tool reads them;"
        " benchmarks/streaming.py at paper size: 16-frame chunks stream 1.2-1.4x more batches/s than 37-frame"
        " (~1 MB) ones for files 5-7% larger on real frames, and load as fast"
    )

    def __post_init__(self):
        if self.filter not in COMPRESSION_FILTERS:
            raise DatasetError(f"unknown compression {self.filter!r}; choose one of {', '.join(COMPRESSION_FILTERS)}")

    def dataset_kwargs(self, shape: tuple[int, ...], dtype: np.dtype) -> dict[str, Any]:
        """``h5py.Group.create_dataset`` keyword arguments for an array of ``shape`` (rows first)."""
        rows, row_bytes = shape[0], int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
        chunk_rows = max(1, self.chunk_bytes // row_bytes) if len(shape) > 1 else self.small_chunk_rows
        kwargs: dict[str, Any] = {"chunks": (max(1, min(chunk_rows, rows)), *shape[1:])}
        if self.filter == "gzip":
            kwargs.update(compression="gzip", compression_opts=self.level)
        elif self.filter == "lzf":
            kwargs.update(compression="lzf")
        return kwargs

    def to_attr(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DatasetMeta:
    """What a dataset is: everything written to its root attributes except counts and times.

    Attributes:
        dataset_id: ``<namespace>/<Game>/<source>-v<N>``.
        game: catalog name of the game.
        suite: "atari" or "minatar".
        frame_shape: shape of one frame.
        action_set: the game's actions as ids in the shared 18-action space.
        env_settings: every environment setting (Atari ones include ``ale_py_version`` and ``rom_md5``).
        collector: how the data is produced (policies, checkpoint hashes, seeds, env count).
        description: free text for the dataset card.
        license: SPDX identifier of the data license.
    """

    dataset_id: str = "local/Game/source-v1"
    game: str = "Game"
    suite: str = "atari"
    frame_shape: tuple[int, ...] = (96, 96, 3)
    action_set: tuple[int, ...] = ()
    env_settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    collector: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    license: str = "CC-BY-4.0"

    @classmethod
    def from_spec(cls, spec: Any, **fields: Any) -> DatasetMeta:
        """Fills the game fields from an ``xtra_bench.envs.EnvSpec``; ``fields`` gives the rest."""
        return cls(
            game=spec.game,
            suite=spec.suite,
            frame_shape=tuple(spec.frame_shape),
            action_set=tuple(int(a) for a in spec.action_set),
            env_settings=dict(spec.settings),
            **fields,
        )

    @classmethod
    def from_header(cls, header: Any) -> DatasetMeta:
        """The meta of an existing file (a ``format.Header``), e.g. to rewrite it with another filter."""
        attrs = header.attrs
        return cls(
            dataset_id=header.dataset_id,
            game=header.game,
            suite=header.suite,
            frame_shape=header.frame_shape,
            action_set=header.action_set,
            env_settings=header.env_settings,
            collector=header.collector,
            description=attrs["description"],
            license=attrs["license"],
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-normal form (tuples as lists), used to compare a resumed run with the first one."""
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True, default=str))


STAGING_SUFFIX = ".partial"
_META_FILE = "meta.json"
_SESSIONS_FILE = "sessions.json"
_SHARD_GLOB = "shard-*.npz"
_LENGTHS = "lengths"


def staging_path(path: Path) -> Path:
    """The staging directory of an output file."""
    return Path(str(path) + STAGING_SUFFIX)


class EpisodeWriter:
    """Writes complete episodes to ``path``, resuming an interrupted run of the same dataset.

    Episodes are staged in shards of whole episodes; a shard is written (and synced) once
    ``flush_seconds`` have passed or ``flush_bytes`` of frames are waiting, so a crash loses at most
    that much collected work and never leaves part of an episode.

    Args:
        path: the final dataset file.
        meta: what the dataset is; a resumed run must give the same one.
        compression: the filter of the final file.
        force: discard an existing final file or staging directory instead of refusing / resuming.
        flush_seconds: longest time an accepted episode waits before it is staged on disk.
        flush_bytes: most frame bytes that wait in memory before they are staged.

    Raises:
        DatasetError: ``path`` exists (without ``force``), or its staging directory belongs to a run
            with other settings.
    """

    def __init__(
        self,
        path: Path,
        meta: DatasetMeta,
        *,
        compression: Compression = Compression(),
        force: bool = False,
        flush_seconds: float = 1.0,
        flush_bytes: int = 64 << 20,
    ):
        self.path = Path(path)
        self.meta = meta
        self.compression = compression
        self.staging = staging_path(self.path)
        self.flush_seconds = flush_seconds
        self.flush_bytes = flush_bytes
        if self.path.is_dir():
            raise DatasetError(f"{self.path} is a directory; give the dataset's file name, e.g. {self.path / 'dataset.hdf5'}")
        if self.path.exists() or sidecar_path(self.path).exists():
            if not force:
                raise DatasetError(f"{self.path} already exists; pass --force to overwrite it")
            remove_file(self.path)
            remove_file(sidecar_path(self.path))
        if force and self.staging.exists():
            shutil.rmtree(self.staging)
        self._pending: list[dict[str, np.ndarray]] = []
        self._pending_bytes = 0
        self._last_flush = time.monotonic()
        self._open_staging()

    def _open_staging(self) -> None:
        meta_json = self.meta.to_json()
        meta_file = self.staging / _META_FILE
        if meta_file.is_file():
            previous = json.loads(meta_file.read_text())
            if previous != meta_json:
                changed = sorted(k for k in meta_json.keys() | previous.keys() if meta_json.get(k) != previous.get(k))
                raise DatasetError(
                    f"{self.staging} holds an interrupted run with other settings ({', '.join(changed)} differ);"
                    " rerun with the same arguments to resume it, or pass --force to start over"
                )
        else:
            self.staging.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(meta_file, json.dumps(meta_json, indent=1).encode())
        for leftover in self.staging.glob("*.tmp"):
            leftover.unlink()
        sessions_file = self.staging / _SESSIONS_FILE
        self.session = json.loads(sessions_file.read_text())["sessions"] if sessions_file.is_file() else 0
        atomic_write_bytes(sessions_file, json.dumps({"sessions": self.session + 1}).encode())
        self._shards = sorted(self.staging.glob(_SHARD_GLOB))
        self._lengths: list[int] = []
        for shard in self._shards:
            with np.load(shard) as rows:
                self._lengths.extend(rows[_LENGTHS].tolist())

    @property
    def resumed(self) -> bool:
        """True when this writer continues an interrupted run."""
        return self.session > 0

    @property
    def num_episodes(self) -> int:
        """Complete episodes accepted so far (staged on disk or waiting to be)."""
        return len(self._lengths) + len(self._pending)

    @property
    def num_steps(self) -> int:
        """Transitions of the accepted episodes."""
        return sum(self._lengths) - len(self._lengths) + sum(len(p["action"]) - 1 for p in self._pending)

    @property
    def num_staged_episodes(self) -> int:
        """Complete episodes on disk: what a crash now would keep."""
        return len(self._lengths)

    def add(self, episode: Episode) -> None:
        """Accepts one complete episode; it is on disk after the next ``flush`` (automatic, see the class)."""
        if tuple(episode.frames.shape[1:]) != tuple(self.meta.frame_shape):
            raise DatasetError(f"episode frames are {episode.frames.shape[1:]}, the dataset's are {self.meta.frame_shape}")
        self._pending.append(episode_rows(episode))
        self._pending_bytes += episode.frames.nbytes
        if self._pending_bytes >= self.flush_bytes or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Stages the waiting episodes as one shard (temporary file, sync, rename)."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        rows = {name: np.concatenate([p[name] for p in self._pending]) for name in self._pending[0]}
        lengths = [len(p["action"]) for p in self._pending]
        shard = self.staging / f"shard-{len(self._shards):08d}.npz"
        tmp = unique_tmp(shard)
        with open(tmp, "wb") as f:
            np.savez(f, **rows, **{_LENGTHS: np.asarray(lengths, np.int64)})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, shard)
        fsync_dir(self.staging)
        self._shards.append(shard)
        self._lengths.extend(lengths)
        self._pending, self._pending_bytes = [], 0

    def finalise(self, collector_extra: dict[str, Any] | None = None) -> Path:
        """Writes the final file from the staged episodes, seals it and removes the staging directory.

        Args:
            collector_extra: facts known only at the end (e.g. every session's seed), merged into
                the ``collector`` attribute.

        Returns:
            the path of the finished dataset.
        """
        self.flush()
        if not self._shards:
            raise DatasetError(f"no complete episode was written to {self.staging}; nothing to finalise")
        tmp = unique_tmp(self.path)
        collector = {**self.meta.collector, **(collector_extra or {})}
        _assemble(self._shards, tmp, self.meta, self.compression, collector)
        install(tmp, self.path, file_sha256(tmp))
        shutil.rmtree(self.staging)
        return self.path


def root_attrs(meta: DatasetMeta, compression: Compression, collector: dict[str, Any], counts: dict[str, int]) -> dict:
    """The root attributes of a dataset file (``format.REQUIRED_ATTRS`` and, for Atari, ``ATARI_ATTRS``)."""
    from xtra_bench import __version__

    attrs = {
        "kind": DATASET_KIND,
        "format_version": FORMAT_VERSION,
        "dataset_id": meta.dataset_id,
        "game": meta.game,
        "suite": meta.suite,
        "frame_shape": np.asarray(meta.frame_shape, np.int64),
        "action_set": np.asarray(meta.action_set, np.int64),
        **counts,
        "env_settings": json.dumps(meta.env_settings, sort_keys=True, default=str),
        "collector": json.dumps(collector, sort_keys=True, default=str),
        "compression": json.dumps(compression.to_attr(), sort_keys=True),
        "code_version": f"xtra-bench {__version__}",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "description": meta.description,
        "license": meta.license,
    }
    if meta.suite == "atari":
        attrs["ale_py_version"] = str(meta.env_settings.get("ale_py_version", ""))
        attrs["rom_md5"] = str(meta.env_settings.get("rom_md5", ""))
    return attrs


def _assemble(shards: list[Path], out: Path, meta: DatasetMeta, compression: Compression, collector: dict) -> None:
    import h5py

    lengths = []
    for shard in shards:
        with np.load(shard) as rows:
            lengths.append(rows[_LENGTHS])
    episode_lengths = np.concatenate(lengths)
    n, num_episodes = int(episode_lengths.sum()), len(episode_lengths)
    # A chunk cache larger than a few frame chunks lets a chunk split between two shards be
    # compressed once, when it is complete, instead of re-read and re-compressed.
    with h5py.File(out, "w", rdcc_nbytes=8 * compression.chunk_bytes + (1 << 20), rdcc_nslots=10007) as h5:
        for name, dtype in COLUMNS.items():
            shape = (n, *meta.frame_shape) if name == FRAME else (n,)
            h5.create_dataset(name, shape=shape, dtype=dtype, **compression.dataset_kwargs(shape, dtype))
        h5["episode"][:] = np.repeat(np.arange(num_episodes, dtype=np.int32), episode_lengths)
        start = 0
        for shard in shards:
            with np.load(shard) as rows:
                length = int(rows[_LENGTHS].sum())
                for name in COLUMNS:
                    if name != "episode":
                        h5[name][start : start + length] = rows[name]
            start += length
        counts = {"num_episodes": num_episodes, "num_steps": n - num_episodes, "num_rows": n}
        h5.attrs.update(root_attrs(meta, compression, collector, counts))
    with open(out, "rb+") as f:
        os.fsync(f.fileno())


def write_dataset(path: Path, meta: DatasetMeta, episodes: list[Episode], **kwargs: Any) -> Path:
    """Writes and finalises a dataset from in-memory episodes (for tests, conversions and tools).

    Args:
        path: the output file.
        meta: what the dataset is.
        episodes: the complete episodes, in order.
        **kwargs: ``compression`` and ``force``, as for ``EpisodeWriter``.
    """
    writer = EpisodeWriter(path, meta, **kwargs)
    for episode in episodes:
        writer.add(episode)
    return writer.finalise()
