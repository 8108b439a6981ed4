"""Finding datasets by id or path, verifying them, listing and deleting cached ones."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.integrity import read_sidecar, sidecar_path, verify_sha256
from xtra_bench.data.registry import (
    DatasetId,
    ManifestEntry,
    Registry,
    cached_file,
    data_root,
    dataset_dir,
    looks_like_id,
    parse_dataset_id,
    read_cached_entry,
)
from xtra_bench.data.targets import Targets, read_targets
from xtra_bench.data.validation import check_against_catalog


def resolve(
    id_or_path: str | Path, *, root: Path | None = None, registry: Registry | None = None, download: bool = False
) -> tuple[Path, ManifestEntry | None]:
    """Finds the dataset file of an id (in the cache) or a path.

    Args:
        id_or_path: a dataset id or the path of a dataset file (an existing path wins).
        root: the data root (default: ``data_root()``).
        registry: the manifest used to download (default: ``Registry.load()``).
        download: fetch an id that is not cached yet instead of failing (one bundled with the
            package is always copied in).

    Returns:
        (the dataset file, its manifest entry when it came from the cache, else None).

    Raises:
        DatasetError: no such path, or an id that is not cached (and ``download`` is False).
        UnknownNameError: an id the registry does not list.
    """
    text = str(id_or_path)
    if Path(text).exists() or not looks_like_id(text):
        path = Path(text)
        if not path.exists():
            raise DatasetError(f"no dataset file {text!r} (an id looks like namespace/Game/source-v1)")
        if not path.is_file():
            raise DatasetError(f"{text} is a directory, not a dataset file")
        return path, None
    entry = read_cached_entry(text, root)
    if entry is None:
        registry = registry or Registry.load()
        registry.get(text)  # an unknown id fails here, with the closest known one
        if not download and not registry.bundled(text):  # a bundled dataset is copied, never "not downloaded"
            raise DatasetError(f"{text} is not downloaded yet; run `xtra-bench datasets download {text}`")
        from xtra_bench.data.download import download as fetch_dataset

        fetch_dataset(text, registry=registry, root=root)
        entry = read_cached_entry(text, root)
    path = cached_file(text, entry.dataset_file.path, root)
    if not path.is_file():
        raise DatasetError(f"{path} is missing from the cache; run `xtra-bench datasets download --force {text}`")
    return path, entry


def load_dataset(id_or_path: str | Path, *, download: bool = False, root: Path | None = None) -> Dataset:
    """Opens a dataset by id (from the cache, downloading it if asked) or by path.

    Raises:
        DatasetError: see ``resolve`` and ``Dataset``.
    """
    path, _ = resolve(id_or_path, root=root, download=download)
    return Dataset(path)


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` checked.

    Attributes:
        path: the dataset file.
        sha256: its checksum, equal to the reference.
        reference: where the reference checksum came from.
        episodes: episodes in the file.
        steps: transitions in the file.
        targets: the teacher of the checked targets file, if one was given.
    """

    path: Path
    sha256: str
    reference: str
    episodes: int
    steps: int
    targets: str | None = None


def verify(id_or_path: str | Path, *, targets: Path | None = None, root: Path | None = None) -> VerifyReport:
    """Recomputes the sha256 of a dataset, validates its schema and structure, and checks a targets file.

    The reference checksum is the manifest's for a cached id and the sidecar's for a path.

    Raises:
        ChecksumError: the bytes differ from the reference.
        DatasetError: no reference checksum, a schema or structure error, a game, suite or action
            set that is not the catalog's, or targets of another dataset.
    """
    path, entry = resolve(id_or_path, root=root)
    if entry is not None:
        expected, reference = entry.dataset_file.sha256, f"the manifest entry of {entry.id}"
    else:
        expected, reference = read_sidecar(path), f"{sidecar_path(path).name}"
        if expected is None:
            raise DatasetError(f"cannot verify {path}: it has no checksum file {sidecar_path(path).name} beside it")
    sha256 = verify_sha256(path, expected, what=f"recorded in {reference}")
    dataset = Dataset(path)
    dataset.validate()
    check_against_catalog(dataset.header)
    labelled: Targets | None = read_targets(targets, dataset) if targets is not None else None
    return VerifyReport(
        path=path,
        sha256=sha256,
        reference=reference,
        episodes=len(dataset),
        steps=dataset.total_steps,
        targets=labelled.teacher_id if labelled else None,
    )


def list_datasets(registry: Registry, root: Path | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per registry entry, with whether it is in the cache."""
    from xtra_bench.data.download import is_cached

    rows = []
    for dataset_id in registry.ids():
        entry = registry.get(dataset_id)
        rows.append(
            {
                "id": entry.id,
                "game": entry.game,
                "episodes": entry.episodes,
                "steps": entry.steps,
                "bytes": sum(f.bytes for f in entry.files),
                "cached": is_cached(entry, root),
                "description": entry.description,
            }
        )
    return rows


def delete(dataset_id: str, root: Path | None = None) -> Path:
    """Removes a dataset's cache directory (only the link, when it is a symbolic link); returns it.

    Raises:
        DatasetIdError: a malformed id.
        DatasetError: the dataset is not in the cache.
    """
    parts: DatasetId = parse_dataset_id(dataset_id)
    directory = dataset_dir(dataset_id, root)
    if directory.is_symlink():
        directory.unlink()  # the link is the cache entry; what it points to is not ours to delete
    elif not directory.is_dir():
        raise DatasetError(f"{dataset_id} is not in the cache {root or data_root()}")
    else:
        shutil.rmtree(directory)
    # Drop the game and namespace directories once empty, so `list` of the cache stays tidy.
    for parent in (directory.parent, directory.parent.parent):
        if parent.is_dir() and not any(parent.iterdir()) and parent.name in (parts.game, parts.namespace):
            parent.rmdir()
    return directory
