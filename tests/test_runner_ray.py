"""`--launcher ray`: jobs as Ray tasks on a local Ray started for the run."""

import json

import pytest
from click.testing import CliRunner

from xtra_bench.cli import main

ray = pytest.importorskip("ray")


def test_a_local_ray_runs_two_jobs(tmp_path):
    args = [
        "run", "--agent", "random", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "0,1",
        "--preset", "smoke", "--env-steps", "20", "--eval-interval", "10", "--eval-episodes", "2",
        "--periodic-eval-episodes", "1", "--launcher", "ray", "--no-progress", "--out", str(tmp_path),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    for seed in (0, 1):
        job = tmp_path / f"jobs/random/MinAtar-Breakout/seed-{seed}"
        assert (job / "DONE").is_file()
        evals = [json.loads(line) for line in (job / "evals.jsonl").read_text().splitlines()]
        assert [(r["step"], r["kind"]) for r in evals] == [(10, "periodic"), (20, "periodic"), (20, "final"), (20, "final")]
    assert "2 jobs complete" in result.output
    assert not ray.is_initialized()  # the local Ray started for the run is stopped after it
