"""Smoke test of benchmarks/mcts.py: runs as a script with a tiny budget and prints the promised JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_benchmark(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(REPO / "benchmarks" / "mcts.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_benchmark_prints_json_with_the_promised_keys():
    sizes = ["--roots", "4", "--simulations", "5", "--actions", "3", "--threads", "2", "--repeats", "2"]
    done = run_benchmark("--json", *sizes)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"us_per_root_sim", "threads", "us_per_root_sim_threaded", "speedup_vs_reference"} <= result.keys()
    assert result["threads"] == 2
    assert result["us_per_root_sim"] > 0 and result["us_per_root_sim_threaded"] > 0
    assert result["speedup_vs_reference"] > 1


def test_benchmark_rejects_a_bad_size_in_one_line():
    done = run_benchmark("--roots", "0")
    assert done.returncode == 2
    assert "--roots must be >= 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr
