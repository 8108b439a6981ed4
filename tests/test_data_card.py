"""`xtra-bench datasets card`: a dataset's card written from the file, checked against hand-made expectations."""

from __future__ import annotations

import dataclasses

import numpy as np
from click.testing import CliRunner
from data_synthetic import isolated_data_root, synthetic_meta, tagged_episode  # noqa: F401

from xtra_bench.cli import main
from xtra_bench.data import Dataset, write_dataset, write_targets
from xtra_bench.data.registry import bundled_manifest


def _table_rows(card: str) -> list[str]:
    return [line for line in card.splitlines() if line.startswith("| ")]


def test_the_sample_card_written_by_hand_matches_the_generated_one():
    # The bundled sample's card was written by hand before the generator existed.
    written = (bundled_manifest().parent / "samples/MinAtar-Breakout-random-sample.md").read_text()
    result = CliRunner().invoke(main, ["datasets", "card", "xtra/MinAtar-Breakout/random-sample-v1"])
    assert result.exit_code == 0, result.output
    assert _table_rows(result.output) == _table_rows(written)
    assert result.output.startswith("# xtra/MinAtar-Breakout/random-sample-v1\n")


def _recipe_dataset(path):
    policies = [
        {"id": i, "agent": "efficientzero", "updates": 1000 * (i + 1), "checkpoint_sha256": f"{i}" * 64, "greedy": True}
        for i in range(2)
    ]
    collector = {"recipe": "minatar", "preset": "minatar", "env_steps": 20000, "checkpoint_every": 1000,
                 "episodes_per_checkpoint": 2, "seed": 0, "policies": policies}  # fmt: skip
    meta = dataclasses.replace(synthetic_meta("local/MinAtar-Breakout/ez-minatar-v1"), collector=collector)
    games = [(0, [1, 0]), (0, [0, 0, 0]), (1, [2, 1]), (1, [3])]  # returns 1, 0 | 3, 3
    episodes = []
    for tag, (policy, rewards) in enumerate(games, start=1):
        episode = tagged_episode(tag, rewards)
        episodes.append(dataclasses.replace(episode, policy_ids=np.full(len(rewards), policy, np.int16)))
    return Dataset(write_dataset(path, meta, episodes))


def test_a_recipe_card_gives_each_checkpoint_its_games_and_returns_and_each_teacher_its_search(tmp_path):
    dataset = _recipe_dataset(tmp_path / "MinAtar-Breakout.hdf5")
    n = dataset.header.num_rows
    write_targets(tmp_path / "MinAtar-Breakout.targets-t0.hdf5", dataset, teacher_id="t0", policy=np.full((n, 3), 1 / 3),
                  root_value=np.full(n, 0.5), checkpoint_sha256="ab" * 32, search={"num_simulations": 8})  # fmt: skip
    out = tmp_path / "MinAtar-Breakout.md"
    assert CliRunner().invoke(main, ["datasets", "card", str(dataset.path), "--out", str(out), "--limits", "Tiny."]).exit_code == 0
    card = out.read_text()
    rows = _table_rows(card)
    assert "| raw returns | mean 1.8, min 0, max 3 |" in rows  # (1 + 0 + 3 + 3) / 4
    assert "| transitions | 8 (12 rows) |" in rows
    behaviour = next(r for r in rows if r.startswith("| behaviour policy"))
    assert "2 checkpoints of one EfficientZero run (`minatar` preset, 20000 agent steps" in behaviour
    assert "2 greedy games each (`xtra-bench collect --recipe minatar`)" in behaviour
    (first, second) = [r for r in rows if "efficientzero, sha256" in r]
    assert first.startswith("| 0 | efficientzero, sha256 000000000000, after 1000 updates | 2 | 5 | 0.50 ± 0.50 | 0 | 1 |")
    assert second.startswith("| 1 | efficientzero, sha256 111111111111, after 2000 updates | 2 | 3 | 3.00 ± 0.00 | 3 | 3 |")
    (teacher,) = [r for r in rows if r.startswith("| `MinAtar-Breakout.targets-t0.hdf5`")]
    # A uniform policy over 3 actions has entropy ln 3 = 1.0986 nats.
    assert teacher == "| `MinAtar-Breakout.targets-t0.hdf5` | t0 | `abababababab` | num_simulations=8 | 1.10 of 1.10 | 0.50 ± 0.00 |"
    assert card.rstrip().endswith("## Limits\nTiny.")
    # Nothing is overwritten without --force.
    again = CliRunner().invoke(main, ["datasets", "card", str(dataset.path), "--out", str(out)])
    assert again.exit_code == 1 and "exists; pass --force" in again.output
    assert out.read_text() == card
