"""Admitting a dataset into training: its bytes, its header and its rows, checked once per content.

A run may be pointed at any file (``--datasets '{game}.hdf5'``) or at a cache that was changed
after download, so before stage 1 every pretraining dataset is hashed and compared with its
reference checksum, and its header and rows are checked against the game it stands for. The
second part is remembered by sha256 (a content address), so later runs only hash.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import ChecksumError
from xtra_bench.data.integrity import atomic_write_bytes, file_sha256
from xtra_bench.data.registry import data_root
from xtra_bench.data.validation import check_against_catalog

VERIFIED_DIR = ".verified"
"""Under the data root: one empty file ``<sha256>.<game>`` per dataset content admitted for a game."""


def admit(path: Path, game: str, expected_sha256: str | None, *, cache: Path | None = None) -> str:
    """Checks a dataset file before it is trained on as ``game``'s data; returns its sha256.

    Args:
        path: the dataset file.
        game: the catalog game it must hold.
        expected_sha256: its reference checksum (the manifest's or the sidecar's); None: none known.
        cache: where admitted contents are remembered (default: ``<data root>/.verified``).

    Raises:
        ChecksumError: the bytes differ from ``expected_sha256``.
        DatasetError: a header, array or row that breaks the format, another game, or a game,
            suite or action set that is not the catalog's.
    """
    sha256 = file_sha256(path)
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise ChecksumError(
            f"{path} is corrupted or was changed: its sha256 is {sha256[:12]}…, its reference says {expected_sha256[:12]}…"
        )
    marker = (cache or data_root() / VERIFIED_DIR) / f"{sha256}.{game}"
    if marker.is_file():
        return sha256
    check_against_catalog(Dataset(path).header, game)
    with contextlib.suppress(OSError):  # a read-only cache only means checking again next time
        marker.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(marker, b"")
    return sha256
