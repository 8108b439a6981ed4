"""The bundled registry: every sample downloads from its file:// URL, verifies and samples."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner
from data_synthetic import isolated_data_root  # noqa: F401

from xtra_bench.cli import main
from xtra_bench.data import Sampler, SamplerConfig, load_dataset
from xtra_bench.data.registry import Registry, bundled_manifest

SAMPLE_IDS = Registry.load(bundled_manifest()).ids()


def test_the_bundled_registry_lists_atari_and_minatar_samples():
    games = {Registry.load().get(i).game for i in SAMPLE_IDS}
    assert any(g.startswith("MinAtar-") for g in games) and any(not g.startswith("MinAtar-") for g in games)
    assert not (bundled_manifest().parent / "__init__.py").exists()


@pytest.mark.parametrize("dataset_id", SAMPLE_IDS)
def test_each_sample_downloads_verifies_and_samples(dataset_id):
    dataset = load_dataset(dataset_id, download=True)
    assert CliRunner().invoke(main, ["datasets", "verify", dataset_id]).exit_code == 0
    entry = Registry.load().get(dataset_id)
    assert len(dataset) == entry.episodes and dataset.total_steps == entry.steps
    batch = Sampler(dataset, SamplerConfig(batch_size=16, unroll_steps=5)).sample()
    assert batch.frames.shape == (16, 9, *dataset.frame_shape)
    assert set(np.unique(batch.actions)) <= set(range(dataset.num_actions))


def test_the_card_example_runs():
    card = (bundled_manifest().parent / "samples" / "MinAtar-Breakout-random-sample.md").read_text()
    code = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["batch"].frames.shape[0] == 32
