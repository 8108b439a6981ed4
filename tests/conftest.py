"""Fixtures shared by every test module."""

import json

import pytest
import torch

from xtra_bench.data.registry import REGISTRY_ENV, bundled_manifest


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread, and the suite shares a small machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def samples_only_registry(tmp_path, monkeypatch):
    """The bundled manifest cut to its random samples (absolute file:// URLs into the package), in
    use: a registry that publishes no pretraining dataset, whatever the package bundles."""
    manifest = json.loads(bundled_manifest().read_text())
    manifest["datasets"] = [d for d in manifest["datasets"] if d["id"].endswith("/random-sample-v1")]
    for entry in manifest["datasets"]:
        for file in entry["files"]:
            file["url"] = (bundled_manifest().parent / file["url"].removeprefix("file://")).resolve().as_uri()
    path = tmp_path / "samples-manifest.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setenv(REGISTRY_ENV, str(path))
    return path
