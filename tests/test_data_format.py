"""Format v1 on disk: writer round trip, crash-safe staging, and the one-line errors of bad files."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from data_synthetic import isolated_data_root, random_episodes, synthetic_meta, tagged_episode, write_synthetic  # noqa: F401

from xtra_bench.cli import main
from xtra_bench.data import Dataset, DatasetError, EpisodeWriter, write_targets
from xtra_bench.data.integrity import file_sha256, sidecar_path


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result, match):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert match in lines[0], lines[0]


def writable_copy(src, dst):
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o644)
    return dst


def reseal(path):
    """Rewrites the sidecar of a deliberately edited file, so only the edit itself is wrong."""
    sidecar_path(path).write_text(f"{file_sha256(path)}  {path.name}\n")


def test_round_trip_keeps_every_array_and_the_row_layout(tmp_path):
    episodes = random_episodes(seed=1, count=6)
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", episodes))
    assert len(dataset) == 6
    assert dataset.total_steps == sum(e.num_steps for e in episodes)
    for written, read in zip(episodes, dataset):
        for name in ("frames", "actions", "rewards", "life_loss", "policy_ids"):
            np.testing.assert_array_equal(getattr(written, name), getattr(read, name))
        assert read.terminated == written.terminated
    with h5py.File(dataset.path) as h5:
        first = episodes[0].num_steps  # the first episode's last row
        assert h5["action"][first] == -1 and h5["reward"][first] == 0 and h5["is_last"][first]
        assert h5["is_first"][first + 1] and h5["episode"][first + 1] == 1
        assert h5.attrs["format_version"] == 1
    dataset.validate()


def test_finalised_file_is_read_only_and_matches_its_sidecar(tmp_path):
    path = write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=2, count=2))
    assert not os.stat(path).st_mode & 0o222
    assert sidecar_path(path).read_text().split()[0] == file_sha256(path)
    assert not (tmp_path / "d.hdf5.partial").exists()


def test_episode_repr_shows_shapes_not_values():
    text = repr(tagged_episode(7, [1.0, 0.0, 2.0]))
    assert "frames=uint8[4, 3, 3, 2]" in text and "actions=int16[3]" in text
    assert "[[" not in text


def test_views_select_and_filter_episodes(tmp_path):
    dataset = Dataset(write_synthetic(tmp_path / "d.hdf5", [tagged_episode(t, [0.0] * t) for t in (1, 2, 3, 4)]))
    view = dataset.select([3, 1])
    assert [e.frames[0, 0, 0, 0] for e in view] == [4, 2]
    long = dataset.filter_episodes(lambda e: e.num_steps >= 3)
    assert list(long.episode_indices) == [2, 3] and long.total_steps == 7


def test_an_interrupted_writer_resumes_with_its_complete_episodes(tmp_path):
    out = tmp_path / "d.hdf5"
    episodes = random_episodes(seed=3, count=5)
    writer = EpisodeWriter(out, synthetic_meta())
    for episode in episodes[:3]:
        writer.add(episode)
    writer.flush()
    writer.add(episodes[3])  # accepted, not yet staged: a crash loses it
    (writer.staging / "shard-00000001.npz.tmp").write_bytes(b"half a shard")  # a write cut by a crash
    del writer

    resumed = EpisodeWriter(out, synthetic_meta())
    assert resumed.resumed and resumed.num_episodes == 3
    for episode in episodes[3:]:
        resumed.add(episode)
    dataset = Dataset(resumed.finalise())
    assert [e.num_steps for e in dataset] == [e.num_steps for e in episodes]


def test_writer_refuses_to_overwrite_or_to_resume_other_settings(tmp_path):
    out = write_synthetic(tmp_path / "d.hdf5", random_episodes(seed=4, count=1))
    with pytest.raises(DatasetError, match="already exists; pass --force"):
        EpisodeWriter(out, synthetic_meta())
    EpisodeWriter(tmp_path / "e.hdf5", synthetic_meta())
    with pytest.raises(DatasetError, match="other settings .dataset_id differ"):
        EpisodeWriter(tmp_path / "e.hdf5", synthetic_meta("test/Synthetic/other-v1"))


def test_structure_errors_name_the_row(tmp_path):
    path = writable_copy(write_synthetic(tmp_path / "d.hdf5", [tagged_episode(1, [1.0, 2.0])]), tmp_path / "bad.hdf5")
    with h5py.File(path, "r+") as h5:
        h5["action"][2] = 1  # the last row must carry no action
    with pytest.raises(DatasetError, match=r"a last row has an action \(row 2\)"):
        Dataset(path).validate()


@pytest.fixture
def good_file(tmp_path):
    return write_synthetic(tmp_path / "good.hdf5", random_episodes(seed=5, count=4))


def test_cli_verify_accepts_a_good_file(good_file):
    result = run_cli("datasets", "verify", good_file)
    assert result.exit_code == 0 and result.output.startswith("OK ") and "4 episodes" in result.output


def test_cli_flipped_byte_is_one_line(good_file, tmp_path):
    bad = writable_copy(good_file, tmp_path / "flipped.hdf5")
    shutil.copyfile(sidecar_path(good_file), sidecar_path(bad))
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    assert_one_line_error(run_cli("datasets", "verify", bad), "is corrupted: its sha256 is")


def test_cli_truncated_file_is_one_line(good_file, tmp_path):
    bad = writable_copy(good_file, tmp_path / "truncated.hdf5")
    shutil.copyfile(sidecar_path(good_file), sidecar_path(bad))
    with open(bad, "r+b") as f:
        f.truncate(os.path.getsize(bad) // 2)
    assert_one_line_error(run_cli("datasets", "verify", bad), "is corrupted")
    assert_one_line_error(run_cli("datasets", "info", bad), "is not a readable HDF5 file (truncated or corrupted?)")


def test_cli_wrong_format_version_is_one_line(good_file, tmp_path):
    bad = writable_copy(good_file, tmp_path / "future.hdf5")
    with h5py.File(bad, "r+") as h5:
        h5.attrs["format_version"] = 2
    reseal(bad)
    assert_one_line_error(run_cli("datasets", "verify", bad), "has format version 2; this xtra-bench reads version(s) 1")


def test_cli_targets_of_another_dataset_are_one_line(good_file, tmp_path):
    other = Dataset(write_synthetic(tmp_path / "other.hdf5", random_episodes(seed=6, count=2), "test/Synthetic/other-v1"))
    n, a = other.header.num_rows, other.num_actions
    targets = write_targets(
        tmp_path / "other.targets-t0.hdf5",
        other,
        teacher_id="t0",
        policy=np.full((n, a), 1 / a),
        root_value=np.zeros(n),
        checkpoint_sha256="0" * 64,
        search={"num_simulations": 50},
    )
    assert run_cli("datasets", "verify", other.path, "--targets", targets).exit_code == 0
    assert_one_line_error(run_cli("datasets", "verify", good_file, "--targets", targets), "labels another dataset")


def test_cli_missing_file_and_missing_checksum_are_one_line(good_file, tmp_path):
    assert_one_line_error(run_cli("datasets", "info", tmp_path / "nope.hdf5"), "no dataset file")
    bare = writable_copy(good_file, tmp_path / "bare.hdf5")
    assert_one_line_error(run_cli("datasets", "verify", bare), "has no checksum file bare.hdf5.sha256")
