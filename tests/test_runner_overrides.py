"""`run --set` / `--config`: typed overrides, one-line refusals, their own job directories and stage-1 key."""

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xtra_bench.agents import default_registry
from xtra_bench.cli import main
from xtra_bench.envs import make_spec
from xtra_bench.errors import ConfigError
from xtra_bench.report.scores import score_tables
from xtra_bench.report.store import load_results
from xtra_bench.runner.jobs import Stage1
from xtra_bench.runner.overrides import coerce

RUN = ["run", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "0", "--preset", "smoke",
       "--env-steps", "8", "--eval-interval", "4", "--eval-episodes", "2", "--periodic-eval-episodes", "1", "--no-progress"]  # fmt: skip


@pytest.mark.parametrize(
    "value, tp, expected",
    [
        pytest.param("0.1", float, 0.1, id="float"),
        pytest.param(3, float, 3.0, id="toml-int-as-float"),
        pytest.param("1e3", int, 1000, id="int-in-e-notation"),
        pytest.param("100_000", int, 100_000, id="int-with-underscores"),
        pytest.param("off", bool, False, id="bool"),
        pytest.param("representation, dynamics", tuple[str, ...], ("representation", "dynamics"), id="comma-list"),
        pytest.param("[[0.5, 1.0], [1.0, 0.25]]", tuple[tuple[float, float], ...], ((0.5, 1.0), (1.0, 0.25)), id="json-pairs"),
        pytest.param("none", int | None, None, id="optional"),
    ],
)
def test_values_are_typed_by_the_field(value, tp, expected):
    assert coerce(value, tp, "key") == expected


@pytest.mark.parametrize(
    "value, tp",
    [("abc", float), ("0.5", int), (True, int), (1, bool), ("maybe", bool), ([1, 2, 3], tuple[int, int]), (2, str)],
)
def test_a_value_of_the_wrong_type_is_refused(value, tp):
    with pytest.raises(ConfigError, match="key takes"):
        coerce(value, tp, "key")


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    "sets, message",
    [
        pytest.param(["lrr=0.1"], "no agent of this run (efficientzero, random) has a setting 'lrr'. Did you mean lr?", id="unknown-key"),
        pytest.param(["lr=fast"], "lr takes float, not 'fast' (efficientzero's smoke preset has lr=", id="bad-value"),
        pytest.param(["batch_size=1"], "invalid EfficientZero setting(s): batch_size=1", id="rejected-by-the-config"),
        pytest.param(["lr"], "--set 'lr' is not key=value", id="no-equals"),
    ],
)
def test_bad_overrides_are_one_line_before_any_work(tmp_path, sets, message):
    args = [*RUN, "--agent", "efficientzero,random", "--out", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    assert message in one_error_line(CliRunner().invoke(main, args))
    assert not (tmp_path / "runs").exists()


def test_overrides_reach_the_agent_and_the_stage1_key_but_not_its_directory():
    agent = default_registry().make("xtra", make_spec("MinAtar-Breakout"), preset="smoke", overrides={"lr": 0.1, "cosine_threshold": 0.2})
    assert (agent.cfg.lr, agent.xcfg.cosine_threshold) == (0.1, 0.2)
    plain = Stage1("xtra", ("xtra",), "smoke", ("MinAtar-Asterix",), ("a",), (Path("a.hdf5"),), ("0" * 64,), "MinAtar-Breakout")
    tuned = Stage1(*[getattr(plain, f) for f in ("group", "agents", "preset", "games", "dataset_ids", "dataset_paths", "sha256s", "spec_game")], (("lr", 0.1),))
    assert tuned.hash != plain.hash and (plain.suffix, tuned.suffix) == ("", f"-{tuned.hash}")
    assert tuned.workdir(Path("runs")) == plain.workdir(Path("runs"))  # teachers etc. are keyed by config inside it


def test_runs_with_other_overrides_share_a_results_tree_in_their_own_directories(tmp_path):
    out = tmp_path / "runs"
    toml = tmp_path / "sweep.toml"
    toml.write_text("lr = 0.3\ndiscount = 0.99\n")
    first = CliRunner().invoke(main, [*RUN, "--agent", "efficientzero,random", "--out", str(out), "--config", str(toml)])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, [*RUN, "--agent", "efficientzero", "--out", str(out), "--config", str(toml), "--set", "lr=0.4"])
    assert second.exit_code == 0, second.output
    digest = lambda o: hashlib.sha256(json.dumps(o, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:8]  # noqa: E731
    dirs = {p.name for p in (out / "jobs").iterdir()}
    assert dirs == {"random", f"efficientzero@{digest({'discount': 0.99, 'lr': 0.3})}", f"efficientzero@{digest({'discount': 0.99, 'lr': 0.4})}"}
    config = json.loads((out / f"jobs/efficientzero@{digest({'discount': 0.99, 'lr': 0.4})}/MinAtar-Breakout/seed-0/config.json").read_text())
    assert config["overrides"] == {"discount": 0.99, "lr": 0.4}
    assert (config["agent_config"]["lr"], config["agent_config"]["discount"]) == (0.4, 0.99)
    assert json.loads((out / "jobs/random/MinAtar-Breakout/seed-0/config.json").read_text())["overrides"] == {}
    (table,) = score_tables(load_results([out]), "random")
    assert set(table.methods) == {"random", "efficientzero [discount=0.99, lr=0.3]", "efficientzero [discount=0.99, lr=0.4]"}
