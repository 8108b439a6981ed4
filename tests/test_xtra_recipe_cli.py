"""The data recipe (a scaled-down run) and the `collect --recipe` / `pretrain` commands' user errors."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from xtra_bench.cli import main
from xtra_bench.data import Dataset
from xtra_bench.data import recipe as recipe_module
from xtra_bench.data.recipe import Recipe, collect_recipe, recipe_dataset_path
from xtra_bench.data.registry import Registry
from xtra_bench.runner.stage1 import dataset_for


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "cache"))


@pytest.mark.slow
def test_recipe_plays_each_checkpoint_into_one_dataset(tmp_path, monkeypatch, samples_only_registry):
    tiny = Recipe(preset="smoke", env_steps=100, checkpoint_every=40, episodes_per_checkpoint=2, train_envs=2, play_envs=2, low_lr_tail=0)
    monkeypatch.setitem(recipe_module.RECIPES, "smoke", tiny)
    torch.set_num_threads(1)
    # Recorded under the id stage 1 looks for in a registry, as a dataset to publish is.
    path = collect_recipe("MinAtar-Breakout", "smoke", dataset_id="xtra/MinAtar-Breakout/ez-checkpoints-v1", progress=False)
    assert path == recipe_dataset_path("MinAtar-Breakout", "smoke")
    dataset = Dataset(path)
    assert dataset.dataset_id == "xtra/MinAtar-Breakout/ez-checkpoints-v1"
    policies = dataset.header.attrs["collector"]["policies"]
    # One update per env step once 64 transitions are in replay, the rest caught up at the end: 100 updates.
    assert [p["updates"] for p in policies] == [40, 80]
    ids = dataset.read_columns(["policy_id", "is_last"])
    acting = ~ids["is_last"]
    episodes_of = {i: int((ids["policy_id"][np.flatnonzero(ids["is_last"]) - 1] == i).sum()) for i in range(2)}
    assert episodes_of == {0: 2, 1: 2} and len(dataset) == 4
    assert set(np.unique(ids["policy_id"][acting])) == {0, 1}
    # With no published dataset of the game in the registry, stage 1 takes the one the recipe made.
    assert dataset_for("MinAtar-Breakout", None, Registry.load(), "smoke") == str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["collect", "--recipe", "smoke", "--game", "MinAtar-Breakout", "--episodes", "3"], "drop --episodes"),
        (["collect", "--recipe", "smoke"], "exactly one of --game and --split"),
        (["collect", "--recipe", "minatar", "--game", "MinAtar-Breakout", "--steps", "3"], "drop --steps"),
        (["collect", "--split", "minatar", "--out", "x"], "--split goes with --recipe"),
        (["collect", "--recipe", "smoke", "--split", "minatar", "--id", "xtra/A/b-v1"], "--id must contain {game}"),
        (["collect", "--game", "MinAtar-Breakout"], "give --game and --out"),
        (["pretrain", "--split", "minatar", "--target", "Pong"], "not a target of split 'minatar'"),
        (["pretrain", "--split", "minatar", "--target", "MinAtar-Breakout", "--preset", "minatar"], "--recipe minatar"),
    ],
)
def test_user_errors_are_one_line(args, message, samples_only_registry):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_pretrain_names_the_missing_datasets_and_no_option_it_does_not_have(samples_only_registry):
    result = CliRunner().invoke(main, ["pretrain", "--split", "minatar", "--target", "MinAtar-Breakout", "--preset", "smoke"])
    assert result.exit_code != 0
    assert "pretraining dataset(s) missing (MinAtar-Asterix, MinAtar-Freeway" in result.output and "Traceback" not in result.output
    assert "xtra-bench collect" in result.output and "--collect-missing" not in result.output
