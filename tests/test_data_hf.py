"""Hugging Face interop: dataset files load with the stock hdf5 builder, and views export with targets."""

from __future__ import annotations

import numpy as np
from data_synthetic import isolated_data_root, random_episodes, write_synthetic  # noqa: F401

from xtra_bench.data import Dataset, read_targets, write_targets
from xtra_bench.data.hf import to_hf_dataset


def test_load_dataset_hdf5_reads_every_column(tmp_path):
    import datasets

    path = write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=31, count=4))
    columns = Dataset(path).read_columns()
    hf = datasets.load_dataset("hdf5", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf"))
    assert hf.num_rows == len(columns["action"])
    assert set(hf.column_names) == set(columns)
    loaded = hf.with_format("numpy")[:]
    for name, array in columns.items():
        np.testing.assert_array_equal(loaded[name], array)


def test_export_of_a_view_with_teacher_targets(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=32, count=5)))
    n, a = dataset.header.num_rows, dataset.num_actions
    policy = np.full((n, a), 1 / a, np.float32)
    root_value = np.linspace(-1, 1, n).astype(np.float32)
    targets_file = write_targets(
        tmp_path / "d.targets-t.hdf5", dataset, teacher_id="t", policy=policy, root_value=root_value, checkpoint_sha256="0" * 64, search={}
    )
    view = dataset.select([3, 1])
    hf = to_hf_dataset(view, include_frames=False, targets=read_targets(targets_file, dataset), cache_dir=tmp_path / "hf")
    rows = np.concatenate([np.arange(start, stop) for start, stop in view.row_ranges()])
    assert "frame" not in hf.column_names and hf.num_rows == len(rows)
    exported = hf.with_format("numpy")[:]
    np.testing.assert_array_equal(exported["episode"], dataset.read_columns(["episode"])["episode"][rows])
    np.testing.assert_allclose(exported["teacher_root_value"], root_value[rows])
    np.testing.assert_allclose(exported["teacher_policy"], policy[rows])
    with_frames = to_hf_dataset(view, cache_dir=tmp_path / "hf")
    assert with_frames.info.description == dataset.dataset_id
    np.testing.assert_array_equal(with_frames.with_format("numpy")[:]["frame"], view.read_columns(["frame"])["frame"])
