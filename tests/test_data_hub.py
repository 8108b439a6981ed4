"""`datasets publish --to hf://...`: one commit through huggingface_hub's API, against a fake Hub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner
from data_synthetic import isolated_data_root, random_episodes, write_synthetic  # noqa: F401
from fake_hub import FakeHub

from xtra_bench.cli import main
from xtra_bench.data import Dataset, DatasetError, targets_path, write_targets
from xtra_bench.data.hub import parse_hub_target
from xtra_bench.data.registry import Registry


@pytest.fixture
def hub(monkeypatch):
    # Uploads take the LFS path: hf_xet's own protocol is not part of the fake.
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_DISABLE_XET", True)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with FakeHub() as server:
        yield server


@pytest.fixture
def directory(tmp_path):
    directory = tmp_path / "publish"
    (directory / "breakout").mkdir(parents=True)
    path = write_synthetic(directory / "breakout" / "synthetic.hdf5", random_episodes(0, 6))
    dataset = Dataset(path)
    rows = dataset.header.num_rows
    policy = np.full((rows, dataset.num_actions), 1 / dataset.num_actions, np.float32)
    write_targets(targets_path(path, "t0"), dataset, teacher_id="t0", policy=policy, root_value=np.zeros(rows, np.float32),
                  checkpoint_sha256="ab" * 32, search={"simulations": 8})  # fmt: skip
    path.with_suffix(".md").write_text("# card\n")
    return directory


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_publish_uploads_every_file_in_one_commit_and_writes_the_manifest(hub, directory, monkeypatch):
    result = run_cli("datasets", "publish", directory, "--to", "hf://lab/xtra-data@v1/release", "--endpoint", hub.url, "--token", "hf_fake", "--create")
    assert result.exit_code == 0, result.output
    assert hub.commits == 1
    files = hub.repos[("dataset", "lab/xtra-data")]["v1"]
    assert sorted(files) == [
        "release/breakout/synthetic.hdf5",
        "release/breakout/synthetic.md",
        "release/breakout/synthetic.targets-t0.hdf5",
        "release/manifest.json",
    ]
    manifest = directory / "manifest.json"
    assert files["release/manifest.json"] == manifest.read_bytes()
    (entry,) = json.loads(manifest.read_text())["datasets"]
    assert {f["kind"] for f in entry["files"]} == {"dataset", "targets", "card"}
    for f in entry["files"]:
        local = next(directory.rglob(f["path"]))
        assert f["url"] == f"hf://lab/xtra-data@v1/release/{local.relative_to(directory).as_posix()}"
        assert f["sha256"] == sha256(local.read_bytes()) == sha256(files[f["url"].split("@v1/")[1]])
        assert f["bytes"] == local.stat().st_size
    # The datasets went by LFS (batch, then one PUT each), the card and the manifest inline.
    assert sum(method == "PUT" for method, _ in hub.requests) == 2
    assert ("POST", "/datasets/lab/xtra-data.git/info/lfs/objects/batch") in hub.requests
    assert ("POST", "/api/datasets/lab/xtra-data/branch/v1") in hub.requests
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(manifest))
    assert Registry.load().ids() == ["test/Synthetic/random-v1"]


def test_a_refused_upload_writes_no_manifest(hub, directory):
    result = run_cli("datasets", "publish", directory, "--to", "hf://lab/missing@main", "--endpoint", hub.url, "--token", "hf_fake")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "failed" in result.output and "not written" in result.output
    assert not (directory / "manifest.json").exists()


def test_publish_takes_exactly_one_destination(directory):
    assert run_cli("datasets", "publish", directory).exit_code == 2
    assert run_cli("datasets", "publish", directory, "--base-url", "file://.", "--to", "hf://a/b@main").exit_code == 2
    assert run_cli("datasets", "publish", directory, "--base-url", "file://.", "--create").exit_code == 2


def test_hub_targets_parse():
    assert parse_hub_target("hf://lab/d@v1").base_url == "hf://lab/d@v1"
    target = parse_hub_target("hf://models/lab/m@main/a/b/")
    assert (target.repo_type, target.repo_id, target.folder, target.base_url) == ("model", "lab/m", "a/b", "hf://models/lab/m@main/a/b")
    for bad in ("https://x/y", "hf://lab/d", "hf://lab@v1", "hf://lab/d@v1/../x"):
        with pytest.raises(DatasetError):
            parse_hub_target(bad)
