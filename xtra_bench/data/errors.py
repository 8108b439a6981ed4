"""Errors of the dataset package; each is a user-fixable ``XtraBenchError`` the CLI prints as one line."""

from __future__ import annotations

from xtra_bench.errors import XtraBenchError


class DatasetError(XtraBenchError):
    """A dataset or targets file that is missing, unreadable, of another version or inconsistent."""


class ChecksumError(DatasetError):
    """A file whose sha256 differs from the one it must have."""


class DatasetIdError(DatasetError, ValueError):
    """A malformed dataset id, or a manifest path that would leave the data root."""
