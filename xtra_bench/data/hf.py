"""Hugging Face ``datasets`` interop: export a dataset view (and teacher targets) for analysis.

Dataset files also load directly, as flat step-aligned tables, with
``datasets.load_dataset("hdf5", data_files=path, split="train")``; the export below adds views
(selected episodes), optional frames and joined teacher targets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xtra_bench.data.dataset import Dataset
from xtra_bench.data.format import COLUMNS, FRAME
from xtra_bench.data.integrity import open_h5
from xtra_bench.data.targets import Targets


def _features(dataset: Dataset, include_frames: bool, targets: Targets | None):
    import datasets

    features: dict[str, Any] = {}
    for name, dtype in COLUMNS.items():
        if name == FRAME:
            if include_frames:
                shape = dataset.frame_shape
                array_type = {2: datasets.Array2D, 3: datasets.Array3D, 4: datasets.Array4D}[len(shape)]
                features[name] = array_type(shape=shape, dtype="uint8")
        else:
            features[name] = datasets.Value(dtype.name)
    if targets is not None:
        features["teacher_policy"] = datasets.Sequence(datasets.Value("float32"), length=dataset.num_actions)
        features["teacher_root_value"] = datasets.Value("float32")
    return datasets.Features(features)


def _rows(path: str, ranges: list[tuple[int, int]], names: str, targets_path: str | None, sha256: str) -> Iterator[dict]:
    """Yields the rows of a view one episode block at a time.

    ``ranges`` is the only list argument, so ``datasets`` shards over episodes; ``names`` is
    comma-separated for that reason, and ``sha256`` keys the HF cache to the file's content.
    """
    names = names.split(",")
    policy = root_value = None
    if targets_path is not None:
        with open_h5(Path(targets_path)) as h5:
            policy, root_value = h5["policy"][:], h5["root_value"][:]
    for start, stop in ranges:
        with open_h5(Path(path)) as h5:
            block = {name: h5[name][start:stop] for name in names}
        for i in range(stop - start):
            row = {name: block[name][i] for name in names}
            if policy is not None:
                row["teacher_policy"] = policy[start + i]
                row["teacher_root_value"] = root_value[start + i]
            yield row


def to_hf_dataset(
    dataset: Dataset, *, include_frames: bool = True, targets: Targets | None = None, cache_dir: Path | None = None
):
    """Exports a view as a ``datasets.Dataset`` with one row per dataset row.

    Args:
        dataset: the view to export (its episodes, in view order).
        include_frames: keep the ``frame`` column (drop it for fast analysis of actions and rewards).
        targets: teacher targets of the dataset's file, added as ``teacher_policy`` [A] and ``teacher_root_value``.
        cache_dir: where ``datasets`` writes its Arrow files (default: its own cache).

    Returns:
        a ``datasets.Dataset`` whose ``info.description`` is the file's dataset id.
    """
    import datasets

    names = [n for n in COLUMNS if include_frames or n != FRAME]
    hf = datasets.Dataset.from_generator(
        _rows,
        features=_features(dataset, include_frames, targets),
        cache_dir=str(cache_dir) if cache_dir else None,
        gen_kwargs={
            "path": str(dataset.path),
            "ranges": [tuple(map(int, r)) for r in dataset.row_ranges()],
            "names": ",".join(names),
            "targets_path": str(targets.path) if targets is not None else None,
            "sha256": dataset.sha256,
        },
    )
    hf.info.description = dataset.dataset_id
    return hf
