"""Teacher-targets files: a teacher's MCTS policy and root value for every row of one dataset.

A targets file has the dataset's N rows: ``policy`` float32 [N, A] (normalised visit counts over
the game's action set) and ``root_value`` float32 [N] (clipped-reward scale). Its root attributes
name the teacher, its checkpoint's sha256, the search settings and the sha256 of the dataset file
it labels, so it can never be joined to another dataset. Like datasets, targets files are
immutable: a new labelling is a new file.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.errors import DatasetError
from xtra_bench.data.format import FORMAT_VERSION, TARGETS_KIND, _plain, check_version
from xtra_bench.data.integrity import (
    file_sha256,
    install,
    open_h5,
    read_sidecar,
    remove_file,
    sidecar_path,
    unique_tmp,
    verify_sha256,
)
from xtra_bench.data.validation import typed_attr
from xtra_bench.data.writer import Compression

REQUIRED_TARGETS_ATTRS = ("teacher_id", "checkpoint_sha256", "search", "dataset_sha256")
TEACHER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_POLICY_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True, eq=False)
class Targets:
    """The targets of one teacher for one dataset.

    Attributes:
        path: the targets file.
        teacher_id: names the teacher (also in the file name).
        policy: float32 [N, A], the teacher's search policy on every row.
        root_value: float32 [N], the teacher's root value on every row.
        checkpoint_sha256: identifies the teacher's weights.
        search: the search settings used (simulations, discount, ...).
        dataset_sha256: the file these targets label.
    """

    path: Path
    teacher_id: str
    policy: np.ndarray
    root_value: np.ndarray
    checkpoint_sha256: str
    search: dict[str, Any]
    dataset_sha256: str

    def __repr__(self) -> str:
        return (
            f"Targets(teacher_id={self.teacher_id!r}, policy={self.policy.dtype}{list(self.policy.shape)},"
            f" root_value={self.root_value.dtype}{list(self.root_value.shape)}, dataset={self.dataset_sha256[:12]}…)"
        )


def targets_path(dataset_path: Path, teacher_id: str) -> Path:
    """The conventional file name of a teacher's targets beside its dataset: ``<stem>.targets-<teacher>.hdf5``."""
    dataset_path = Path(dataset_path)
    return dataset_path.with_name(f"{dataset_path.stem}.targets-{teacher_id}.hdf5")


def _check_arrays(dataset: Dataset, policy: np.ndarray, root_value: np.ndarray) -> None:
    n, a = dataset.header.num_rows, dataset.num_actions
    if policy.shape != (n, a) or root_value.shape != (n,):
        raise DatasetError(
            f"targets for {dataset.path} must be policy [{n}, {a}] and root_value [{n}];"
            f" got {list(policy.shape)} and {list(root_value.shape)}"
        )
    if not (np.isfinite(policy).all() and np.isfinite(root_value).all()) or (policy < 0).any():
        raise DatasetError("targets must be finite and the policy non-negative")
    with open_h5(dataset.path) as h5:
        acting = ~h5["is_last"][:]
    sums = policy[acting].sum(axis=1)
    if sums.size and np.abs(sums - 1).max() > _POLICY_TOLERANCE:
        row = int(np.flatnonzero(acting)[np.argmax(np.abs(sums - 1))])
        raise DatasetError(f"the policy of row {row} sums to {policy[row].sum():.4f}, not 1 (only last rows may differ)")


def write_targets(
    path: Path,
    dataset: Dataset,
    *,
    teacher_id: str,
    policy: np.ndarray,
    root_value: np.ndarray,
    checkpoint_sha256: str,
    search: dict[str, Any],
    compression: Compression = Compression(),
    force: bool = False,
) -> Path:
    """Writes, seals and returns a targets file for every row of ``dataset``'s file.

    Args:
        path: the output file (``targets_path`` gives the conventional name).
        dataset: the labelled dataset; the whole file is labelled, whatever the view.
        teacher_id: the teacher's name (letters, digits, ``_.-``).
        policy: float [N, A], rows of non-last rows sum to 1 (last rows take no action: any values).
        root_value: float [N].
        checkpoint_sha256: sha256 of the teacher's checkpoint.
        search: the search settings, JSON-serialisable.
        compression: the HDF5 filter.
        force: overwrite an existing file.

    Raises:
        DatasetError: bad shapes or values, a bad teacher id, or an existing file without ``force``.
    """
    import h5py

    path = Path(path)
    if not TEACHER_ID_PATTERN.fullmatch(teacher_id):
        raise DatasetError(f"teacher id {teacher_id!r} must be letters, digits, '_', '.' or '-'")
    policy, root_value = np.asarray(policy, np.float32), np.asarray(root_value, np.float32)
    _check_arrays(dataset, policy, root_value)
    if path.exists() and not force:
        raise DatasetError(f"{path} already exists; pass --force to overwrite it")
    tmp = unique_tmp(path)
    with h5py.File(tmp, "w") as h5:
        for name, array in (("policy", policy), ("root_value", root_value)):
            h5.create_dataset(name, data=array, **compression.dataset_kwargs(array.shape, array.dtype))
        h5.attrs.update(
            {
                "kind": TARGETS_KIND,
                "format_version": FORMAT_VERSION,
                "teacher_id": teacher_id,
                "checkpoint_sha256": checkpoint_sha256,
                "search": json.dumps(search, sort_keys=True),
                "dataset_id": dataset.dataset_id,
                "dataset_sha256": dataset.sha256,
                "num_rows": policy.shape[0],
                "num_actions": policy.shape[1],
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            }
        )
    remove_file(path)
    remove_file(sidecar_path(path))
    install(tmp, path, file_sha256(tmp))
    return path


def read_targets(path: Path, dataset: Dataset) -> Targets:
    """Reads a targets file and checks that it labels ``dataset``'s file.

    Raises:
        DatasetError: unreadable, wrong kind or version, a missing attribute or array, other shapes,
            a policy that is not finite, non-negative and summing to 1 on acting rows, or a file
            that labels another dataset.
        ChecksumError: the targets file differs from its sidecar checksum.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no such targets file: {path}")
    expected = read_sidecar(path)
    if expected is not None:
        verify_sha256(path, expected, what=f"recorded in {sidecar_path(path).name}")
    with open_h5(path) as h5:
        check_version(path, h5.attrs, TARGETS_KIND)
        attrs = {key: _plain(h5.attrs[key]) for key in h5.attrs}
        missing = [key for key in REQUIRED_TARGETS_ATTRS if key not in attrs] + [a for a in ("policy", "root_value") if a not in h5]
        if missing:
            raise DatasetError(f"{path} lacks {', '.join(missing)}; it is not a complete targets file")
        fields = {key: typed_attr(attrs, key, str, path) for key in REQUIRED_TARGETS_ATTRS}
        labels = fields["dataset_sha256"]
        if labels != dataset.sha256:
            raise DatasetError(
                f"{path} labels another dataset ({attrs.get('dataset_id', '?')}, sha256 {labels[:12]}…),"
                f" not {dataset.path} (sha256 {dataset.sha256[:12]}…)"
            )
        expected = (dataset.header.num_rows, dataset.num_actions)
        if h5["policy"].shape != expected or h5["root_value"].shape != expected[:1]:
            raise DatasetError(f"{path}: arrays of shape {list(h5['policy'].shape)} do not fit {dataset.path}")
        policy, root_value = h5["policy"][:].astype(np.float32), h5["root_value"][:].astype(np.float32)
    try:
        search = json.loads(fields["search"])
    except ValueError:
        raise DatasetError(f"{path}: root attribute 'search' is not valid JSON") from None
    try:
        _check_arrays(dataset, policy, root_value)
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    return Targets(
        path=path,
        teacher_id=fields["teacher_id"],
        policy=policy,
        root_value=root_value,
        checkpoint_sha256=fields["checkpoint_sha256"],
        search=search,
        dataset_sha256=labels,
    )
