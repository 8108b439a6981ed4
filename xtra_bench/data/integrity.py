"""Checksums, sidecar files and safe opening: how a finished file proves it is unchanged.

A finalised file ``x.hdf5`` has a sidecar ``x.hdf5.sha256`` in ``sha256sum`` format and both are
read-only. Files are published by moving a complete temporary file into place, never by writing
the final path in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xtra_bench.data.errors import ChecksumError, DatasetError
from xtra_bench.data.validation import check_self_contained

SIDECAR_SUFFIX = ".sha256"
_READ_BLOCK = 1 << 20


def file_sha256(path: Path) -> str:
    """Returns the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path: Path) -> Path:
    return Path(str(path) + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> str | None:
    """Returns the sha256 recorded beside ``path``, or None when there is no sidecar."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    fields = sidecar.read_bytes()[:4096].split()
    if not fields or not re.fullmatch(rb"[0-9a-f]{64}", fields[0]):
        raise DatasetError(f"{sidecar} is not a sha256 line (64 lowercase hex digits); the checksum file is damaged")
    return fields[0].decode()


def fsync_dir(directory: Path) -> None:
    """Makes a rename inside ``directory`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename, so no reader sees half of it."""
    tmp = unique_tmp(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        remove_file(tmp)
    fsync_dir(path.parent)


def unique_tmp(path: Path) -> Path:
    """A new, empty temporary file beside ``path`` whose name no other process or thread can be using."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def make_read_only(path: Path) -> None:
    mode = path.stat().st_mode
    path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def remove_file(path: Path) -> None:
    """Deletes a file even when it is read-only (its directory decides); a missing one is fine."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def install(tmp: Path, final: Path, sha256: str) -> None:
    """Moves a complete, checked temporary file to ``final`` and seals it (sidecar, read-only).

    The sidecar goes first: a crash in between leaves a sidecar without a data file, which the next
    attempt overwrites, never a data file whose sidecar describes an older one.
    """
    sidecar = sidecar_path(final)
    remove_file(sidecar)
    atomic_write_bytes(sidecar, f"{sha256}  {final.name}\n".encode())
    make_read_only(sidecar)
    make_read_only(tmp)
    os.replace(tmp, final)
    fsync_dir(final.parent)


def verify_sha256(path: Path, expected: str, *, what: str = "") -> str:
    """Recomputes the sha256 of ``path`` and compares it with ``expected``; returns it.

    Raises:
        ChecksumError: they differ.
    """
    actual = file_sha256(path)
    if actual != expected:
        source = f" ({what})" if what else ""
        raise ChecksumError(
            f"{path} is corrupted: its sha256 is {actual[:12]}…, expected {expected[:12]}…{source}"
        )
    return actual


@contextlib.contextmanager
def open_h5(path: Path) -> Iterator[Any]:
    """Opens an HDF5 file read-only for one operation, turning unreadable files into ``DatasetError``.

    Raises:
        DatasetError: the file is missing, truncated, not HDF5, or holds data outside itself
            (``validation.check_self_contained``).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no such dataset file: {path}")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        reason = str(exc).split("(", 1)[0].strip().rstrip(":")
        raise DatasetError(f"{path} is not a readable HDF5 file (truncated or corrupted?): {reason}") from None
    with h5:
        try:
            check_self_contained(h5, path)
            yield h5
        except OSError as exc:
            raise DatasetError(f"{path} could not be read (corrupted?): {exc}") from None
