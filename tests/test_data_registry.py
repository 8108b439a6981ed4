"""Ids, the data root, manifests, file:// and hf:// downloads, publish, list, delete."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from data_synthetic import isolated_data_root, random_episodes, write_synthetic  # noqa: F401

from xtra_bench.cli import main
from xtra_bench.data import ChecksumError, DatasetIdError, load_dataset, make_dataset_id, parse_dataset_id
from xtra_bench.data.download import download, parse_hf_url
from xtra_bench.data.integrity import file_sha256
from xtra_bench.data.publish import publish
from xtra_bench.data.registry import Registry, data_root, dataset_dir
from xtra_bench.data.store import verify


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize(
    "text, parts",
    [
        ("xtra/Phoenix/ez-checkpoints-v1", ("xtra", "Phoenix", "ez-checkpoints", 1)),
        ("lab.x/MinAtar-Breakout/random-v12", ("lab.x", "MinAtar-Breakout", "random", 12)),
    ],
)
def test_ids_parse_and_generate(text, parts):
    assert tuple(parse_dataset_id(text)) == parts
    assert make_dataset_id(*parts) == text


@pytest.mark.parametrize("text", ["xtra/Phoenix/ez", "../Phoenix/x-v1", "xtra/../x-v1", "xtra/Phoenix/x-v01", "a/b/c/d-v1", "/abs/x-v1"])
def test_malformed_ids_show_the_expected_form(text):
    with pytest.raises(DatasetIdError, match="expected <namespace>/<Game>/<source>-v<N>"):
        parse_dataset_id(text)


def test_data_root_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("XTRA_BENCH_DATA")
    monkeypatch.setenv("XTRA_BENCH_DATA", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg" / "xtra-bench"


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A published directory with one dataset and a card, its manifest named by XTRA_BENCH_REGISTRY."""
    directory = tmp_path / "mirror"
    directory.mkdir()
    path = write_synthetic(directory / "synthetic.hdf5", random_episodes(seed=21, count=3))
    (directory / "synthetic.md").write_text("# Synthetic\n")
    manifest, _ = publish(directory, "file://.")
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(manifest))
    return manifest, path


def test_publish_then_download_by_id_then_open_and_verify(mirror, isolated_data_root):
    manifest, original = mirror
    entry = json.loads(manifest.read_text())["datasets"][0]
    assert entry["id"] == "test/Synthetic/random-v1" and entry["episodes"] == 3
    assert {f["kind"] for f in entry["files"]} == {"dataset", "card"}
    assert entry["files"][0]["url"] == "file://./synthetic.hdf5"  # relative to the manifest

    result = run_cli("datasets", "download", "test/Synthetic/random-v1")
    assert result.exit_code == 0, result.output
    cached = dataset_dir("test/Synthetic/random-v1") / "synthetic.hdf5"
    assert cached.is_file() and file_sha256(cached) == file_sha256(original)
    assert (cached.parent / "synthetic.md").read_text() == "# Synthetic\n"
    assert len(load_dataset("test/Synthetic/random-v1")) == 3
    assert run_cli("datasets", "verify", "test/Synthetic/random-v1").exit_code == 0
    listed = json.loads(run_cli("datasets", "list", "--json").output)
    assert listed[0]["id"] == "test/Synthetic/random-v1" and listed[0]["cached"] is True
    info = json.loads(run_cli("datasets", "info", "test/Synthetic/random-v1", "--json").output)
    assert info["num_episodes"] == 3 and info["game"] == "MinAtar-Breakout"

    result = run_cli("datasets", "delete", "test/Synthetic/random-v1", "--yes")
    assert result.exit_code == 0 and not cached.exists()
    assert json.loads(run_cli("datasets", "list", "--json").output)[0]["cached"] is False


def test_unknown_and_undownloaded_ids_are_one_line(mirror):
    result = run_cli("datasets", "info", "test/Synthetic/randm-v1")
    assert result.exit_code == 1 and "Did you mean 'test/Synthetic/random-v1'?" in result.output
    result = run_cli("datasets", "verify", "test/Synthetic/random-v1")
    assert result.exit_code == 1 and "is not downloaded yet" in result.output
    result = run_cli("datasets", "download", "test/A/x-v1", "test/B/y-v1")
    assert result.exit_code == 1 and "test/A/x-v1" in result.output and "test/B/y-v1" in result.output


def test_a_mismatching_download_never_enters_the_cache_and_the_old_copy_stays(mirror, tmp_path):
    manifest, original = mirror
    download("test/Synthetic/random-v1")
    cached = dataset_dir("test/Synthetic/random-v1") / "synthetic.hdf5"
    before = cached.read_bytes()

    other = write_synthetic(tmp_path / "other.hdf5", random_episodes(seed=22, count=3))
    swapped = original.parent / "synthetic.hdf5"
    swapped.chmod(0o644)
    shutil.copyfile(other, swapped)  # the mirror now serves other bytes under the same name
    with pytest.raises(ChecksumError, match="the cached copy was left unchanged"):
        download("test/Synthetic/random-v1", force=True)
    assert cached.read_bytes() == before
    assert not list(cached.parent.glob("*.part"))

    result = run_cli("datasets", "download", "--force", "test/Synthetic/random-v1")
    assert result.exit_code == 1 and "sha256" in result.output and "Traceback" not in result.output
    assert cached.read_bytes() == before


def test_a_first_download_that_mismatches_caches_nothing(mirror):
    manifest, original = mirror
    original.chmod(0o644)
    data = bytearray(original.read_bytes())
    data[-1] ^= 0xFF
    original.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="nothing was cached"):
        download("test/Synthetic/random-v1")
    assert not (dataset_dir("test/Synthetic/random-v1") / "synthetic.hdf5").exists()


@pytest.mark.parametrize("bad_path", ["../../../escape.hdf5", "/etc/passwd", "a/../../b.hdf5", "..\\x.hdf5"])
def test_a_manifest_path_escaping_the_cache_is_refused(tmp_path, monkeypatch, bad_path):
    manifest = tmp_path / "manifest.json"
    file = {"path": bad_path, "url": "file://x.hdf5", "sha256": "0" * 64, "bytes": 1, "kind": "dataset"}
    manifest.write_text(json.dumps({"manifest_version": 1, "datasets": [{"id": "evil/Game/x-v1", "files": [file]}]}))
    with pytest.raises(DatasetIdError, match="would escape the dataset's cache directory"):
        Registry.load(manifest)
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(manifest))
    result = run_cli("datasets", "download", "evil/Game/x-v1")
    assert result.exit_code == 1 and "refusing it" in result.output
    assert not (tmp_path / "escape.hdf5").exists()


def test_hf_urls_go_through_huggingface_hub_and_are_verified(mirror, monkeypatch, tmp_path):
    manifest, original = mirror
    doc = json.loads(manifest.read_text())
    doc["datasets"][0]["files"] = [dict(doc["datasets"][0]["files"][0], url="hf://lab/xtra-data@0123abc/data/synthetic.hdf5")]
    manifest.write_text(json.dumps(doc))
    calls = []

    def fake_hf_hub_download(repo_id, filename, *, repo_type, revision, local_dir):
        calls.append((repo_id, filename, repo_type, revision))
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True)
        shutil.copyfile(original, target)
        return str(target)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_hf_hub_download)
    path = download("test/Synthetic/random-v1")
    assert calls == [("lab/xtra-data", "data/synthetic.hdf5", "dataset", "0123abc")]
    assert file_sha256(path) == file_sha256(original)
    assert verify("test/Synthetic/random-v1").episodes == 3
    assert parse_hf_url("hf://models/lab/m@main/a/b.h5") == ("lab/m", "model", "main", "a/b.h5")


def test_publish_refuses_to_overwrite_a_manifest(mirror):
    manifest, _ = mirror
    result = run_cli("datasets", "publish", manifest.parent, "--base-url", "https://example.org/d")
    assert result.exit_code == 1 and "already exists; pass --force" in result.output
    result = run_cli("datasets", "publish", manifest.parent, "--base-url", "https://example.org/d", "--force")
    assert result.exit_code == 0
    assert json.loads(manifest.read_text())["datasets"][0]["files"][0]["url"] == "https://example.org/d/synthetic.hdf5"


def test_publish_merge_replaces_its_ids_and_keeps_the_other_entries(mirror, isolated_data_root):
    manifest, _ = mirror
    more = manifest.parent.parent / "more"
    more.mkdir()
    write_synthetic(more / "other.hdf5", random_episodes(seed=3, count=2), dataset_id="test/Synthetic/other-v1")
    assert run_cli("datasets", "publish", more, "--base-url", "file://../more", "--out", manifest, "--merge").exit_code == 0
    datasets = json.loads(manifest.read_text())["datasets"]
    assert [(d["id"], d["episodes"], d["files"][0]["url"]) for d in datasets] == [
        ("test/Synthetic/other-v1", 2, "file://../more/other.hdf5"),
        ("test/Synthetic/random-v1", 3, "file://./synthetic.hdf5"),
    ]
    assert [len(load_dataset(download(i))) for i in ("test/Synthetic/other-v1", "test/Synthetic/random-v1")] == [2, 3]
    # The same id again: its entry is replaced, not listed twice.
    for stale in more.iterdir():
        stale.unlink()
    write_synthetic(more / "other-v2.hdf5", random_episodes(seed=4, count=5), dataset_id="test/Synthetic/other-v1")
    assert run_cli("datasets", "publish", more, "--base-url", "file://../more", "--out", manifest, "--merge").exit_code == 0
    assert [(d["id"], d["episodes"]) for d in json.loads(manifest.read_text())["datasets"]] == [
        ("test/Synthetic/other-v1", 5),
        ("test/Synthetic/random-v1", 3),
    ]
    missing = run_cli("datasets", "publish", more, "--base-url", "file://.", "--out", more / "none.json", "--merge")
    assert missing.exit_code == 1 and "no manifest to merge into" in missing.output
    assert run_cli("datasets", "publish", more, "--base-url", "file://.", "--out", manifest, "--merge", "--force").exit_code == 2
