"""`datasets show`: episodes with returns, lengths and policy ids, targets summary, a frame-strip PNG."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from data_synthetic import isolated_data_root, random_episodes, write_synthetic  # noqa: F401

from xtra_bench.cli import main
from xtra_bench.data import Dataset, targets_path, write_targets
from xtra_bench.data.registry import bundled_manifest


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_show_lists_episodes_policies_and_targets(tmp_path):
    episodes = random_episodes(3, 7)
    path = write_synthetic(tmp_path / "d.hdf5", episodes)
    dataset = Dataset(path)
    rows = dataset.header.num_rows
    policy = np.full((rows, dataset.num_actions), 1 / dataset.num_actions, np.float32)
    values = np.linspace(-1, 1, rows).astype(np.float32)
    write_targets(targets_path(path, "t0"), dataset, teacher_id="t0", policy=policy, root_value=values, checkpoint_sha256="0" * 64, search={})
    result = run_cli("datasets", "show", path, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["episodes"] == 7 and summary["steps"] == sum(e.num_steps for e in episodes)
    for row, episode in zip(summary["episode_rows"], episodes):
        assert row["length"] == episode.num_steps
        assert np.isclose(row["return"], episode.total_reward)
        assert row["policy_ids"] == [0]
        assert row["ended"] == ("game over" if episode.terminated else "cut")
    (teacher,) = summary["targets"]
    assert teacher["teacher_id"] == "t0"
    assert np.isclose(teacher["policy_entropy"]["mean"], np.log(3)) and np.isclose(teacher["policy_entropy"]["max_possible"], np.log(3))
    assert -1 <= teacher["root_value"]["min"] < teacher["root_value"]["max"] <= 1
    assert summary["policies"][0]["description"] == "synthetic" and summary["policies"][0]["episodes"] == 7
    text = run_cli("datasets", "show", path, "--limit", 2)
    assert text.exit_code == 0 and "targets of teacher t0" in text.output and "5 more" in text.output


def test_show_draws_a_frame_strip(tmp_path):
    import matplotlib.image

    sample = bundled_manifest().parent / "samples" / "Breakout-random-sample.hdf5"
    out = tmp_path / "strip.png"
    result = run_cli("datasets", "show", sample, "--png", out, "--episode", 1, "--frames", 6)
    assert result.exit_code == 0, result.output
    image = matplotlib.image.imread(out)
    assert image.shape[1] > image.shape[0] > 100  # a wide strip over a plot
    assert image[..., :3].std() > 0.05  # not blank
    refused = run_cli("datasets", "show", sample, "--png", out, "--episode", 2)
    assert refused.exit_code == 1 and "pass --force" in refused.output and matplotlib.image.imread(out).shape == image.shape
    assert run_cli("datasets", "show", sample, "--png", out, "--episode", 99, "--force").exit_code == 1
