"""Checks at the boundary where data enters: an HDF5 file, its attributes, and a header vs the catalog.

A dataset or targets file is identified by its sha256, so everything it holds must be inside it:
external links, virtual datasets and external raw storage would let a column change while the
checksum stays the same. Sizes that an array declares are bounded by the bytes the file really
stores, so a small file cannot make a reader allocate terabytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xtra_bench.data.errors import DatasetError

ALLOWED_FILTERS = {1: "gzip", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
"""HDF5 filter ids a file may use: lossless, and with a bounded expansion on decompression."""
MAX_EXPANSION = 1100
"""Most bytes one stored byte may decompress to: deflate's limit is about 1032, lzf's far lower."""


def check_self_contained(h5: Any, path: Path) -> None:
    """Refuses an open HDF5 file whose data is not all inside it, or whose arrays declare more than it stores.

    Args:
        h5: an open ``h5py.File``.
        path: its path, for messages.

    Raises:
        DatasetError: a link that is not a hard link (external or soft), a virtual dataset, a
            dataset with external raw storage, a filter outside ``ALLOWED_FILTERS``, or an array
            larger than its stored bytes can hold.
    """
    import h5py

    def walk(group: Any, prefix: str) -> None:
        for name in group:
            where = f"{prefix}{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
                raise DatasetError(f"{path}: {where!r} is {kind}; a dataset file must hold all its data itself")
            item = group[name]
            if isinstance(item, h5py.Group):
                walk(item, f"{where}/")
            else:
                check_storage(item, path, where)

    walk(h5, "")


def check_storage(array: Any, path: Path, name: str) -> None:
    """Refuses a virtual, externally stored or under-stored HDF5 dataset (see ``check_self_contained``)."""
    if array.is_virtual:
        raise DatasetError(f"{path}: {name!r} is a virtual dataset reading other files; refusing it")
    if array.external:
        raise DatasetError(f"{path}: {name!r} keeps its bytes in external file(s); refusing it")
    plist = array.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    unknown = [f for f in filters if f not in ALLOWED_FILTERS]
    if unknown:
        raise DatasetError(f"{path}: {name!r} uses HDF5 filter(s) {unknown}; only {', '.join(ALLOWED_FILTERS.values())} are read")
    declared = array.size * array.dtype.itemsize
    stored = array.id.get_storage_size()
    limit = stored * MAX_EXPANSION if filters else stored
    if declared > limit:
        raise DatasetError(
            f"{path}: {name!r} declares {list(array.shape)} ({declared} bytes) but the file stores {stored} bytes"
            " of it; the file is truncated or forged"
        )


def typed_attr(attrs: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    """The attribute ``key`` if it has the Python type ``kind`` (bool is no int), else a ``DatasetError``."""
    value = attrs[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DatasetError(f"{path}: root attribute {key!r} must be {kind.__name__}, found {type(value).__name__} {value!r:.40}")
    return value


def int_list_attr(attrs: dict[str, Any], key: str, path: Path) -> tuple[int, ...]:
    """The attribute ``key`` as a tuple of ints (a list of integers as stored), else a ``DatasetError``."""
    value = attrs[key]
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise DatasetError(f"{path}: root attribute {key!r} must be a list of integers, found {value!r:.40}")
    return tuple(value)


def check_against_catalog(header: Any, game: str | None = None) -> None:
    """Checks a dataset header against the game catalog: a known game, its suite and its action set.

    Args:
        header: a ``format.Header``.
        game: the game the dataset is meant for (e.g. a pretraining game of a run); None: any.

    Raises:
        DatasetError: an unknown game, another game than ``game``, or a suite or action set that
            is not the catalog's.
    """
    from xtra_bench.games import GAMES

    if game is not None and header.game != game:
        raise DatasetError(f"{header.path} holds {header.game} data, not {game}; check --datasets")
    if header.game not in GAMES:
        raise DatasetError(f"{header.path}: game {header.game!r} is not in the game catalog (see `xtra-bench games`)")
    entry = GAMES[header.game]
    if header.suite != entry.suite or tuple(header.action_set) != entry.action_set:
        raise DatasetError(
            f"{header.path}: its suite {header.suite!r} and action set {list(header.action_set)} are not"
            f" {header.game}'s ({entry.suite!r}, {list(entry.action_set)})"
        )
