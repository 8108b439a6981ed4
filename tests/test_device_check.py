"""The device check's CPU smoke: every section runs at tiny sizes, on time, into one JSON report and a Markdown block."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
SMOKE_LIMIT_S = 180
"""The smoke's promise: three minutes at most on a CPU."""


def run_script(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(BENCHMARKS / "device_check.py"), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=SMOKE_LIMIT_S + 60)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One CPU smoke run: (report, Markdown file, stdout, wall seconds, output folder)."""
    out = tmp_path_factory.mktemp("device-check")
    start = time.perf_counter()
    done = run_script("--cpu-smoke", "--out", str(out))
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return json.loads((out / "device_check.json").read_text()), (out / "device_check.md").read_text(), done.stdout, wall, out


@pytest.fixture
def check_modules(monkeypatch):
    """The benchmark modules, imported as the script imports them (their folder on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import device_check
    import device_sizes

    return device_check, device_sizes


def numbers(value):
    """Every number inside a JSON value."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)


def test_every_section_runs_within_the_deadline(smoke):
    report, _, _, wall, _ = smoke
    assert list(report["sections"]) == ["train_step", "search", "speed_flags", "tree_scaling", "xtra_cost", "curl", "whole_run", "learning"]
    assert {name: s["status"] for name, s in report["sections"].items()} == dict.fromkeys(report["sections"], "ok")
    assert report["mode"] == "cpu-smoke" and report["deadline_respected"]
    assert report["elapsed_s"] <= report["budget_s"] == 150
    # Each time is rounded to 0.1 s: the sections' sum may exceed the total by half a tenth per section.
    assert sum(s["elapsed_s"] for s in report["sections"].values()) <= report["elapsed_s"] + 0.05 * len(report["sections"])
    assert wall < SMOKE_LIMIT_S


def test_every_figure_is_positive_and_finite(smoke):
    report = smoke[0]
    for name, section in report["sections"].items():
        assert section["figures"], name
        for figure, value in section["figures"].items():
            assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, (name, figure, value)
        assert all(math.isfinite(v) for v in numbers(section["details"])), name
    figures = {name: s["figures"] for name, s in report["sections"].items()}
    assert {"eager_updates_per_s", "amp_channels_last_updates_per_s"} <= figures["train_step"].keys()
    assert {"us_per_root_sim_1_threads", "us_per_root_sim_2_threads", "speedup_2_threads"} <= figures["tree_scaling"].keys()
    assert {"update_xtra_over_ez", "run_xtra_over_ez"} <= figures["xtra_cost"].keys()
    assert {"update_per_s", "replay_update_per_s"} == figures["curl"].keys()
    assert {"updates_per_s", "env_steps_per_s"} == figures["whole_run"].keys()


def test_the_report_names_the_hardware_and_the_command(smoke):
    report, block, stdout, _, out = smoke
    hardware = report["hardware"]
    assert hardware["cpu_count"] == os.cpu_count() and hardware["torch"] == torch.__version__ and hardware["device"] == "cpu"
    assert report["command"] == "python benchmarks/device_check.py --cpu-smoke --out OUT_DIR"
    assert report["date"][:4].isdigit() and "T" in report["date"]
    assert stdout == block
    assert block.startswith("### Device check (CPU smoke)")
    assert "not GPU figures" in block and report["command"] in block
    assert f"{hardware['cpu_count']} CPUs ({hardware['cpu_model']})" in block and f"torch {hardware['torch']}" in block
    for section in report["sections"].values():
        assert section["title"] in block
    assert str(out) not in block and str(out) not in json.dumps(report)  # no machine's paths to paste


def test_the_speed_flags_fall_back_on_a_cpu_with_the_same_numbers(smoke):
    sections = smoke[0]["sections"]
    flags = sections["speed_flags"]["details"]["flags"]
    assert {name: state.split(":")[0] for name, state in flags.items()} == {
        "compile": "skipped", "amp": "skipped", "channels_last": "on", "overlap_reanalysis": "on", "cuda_graphs": "skipped", "pin_memory": "skipped",
    }
    details = sections["speed_flags"]["details"]
    assert details["search_same_visit_counts_share"] == 1.0 and details["search_root_value_max_abs_diff"] == 0.0
    assert details["pinned_copy_identical"] is True
    assert "compile" in sections["train_step"]["details"]["skipped"] and "cuda_graphs" in sections["search"]["details"]["skipped"]
    for name in ("whole_run", "learning"):
        assert sections[name]["details"]["flags"]["cuda_graphs"].startswith("skipped")


def test_the_learning_check_trains_evaluates_and_cites_the_paper(smoke):
    section = smoke[0]["sections"]["learning"]
    figures, details = section["figures"], section["details"]
    assert figures["env_steps"] >= 64 and figures["updates"] > 0
    assert details["eval"]["episodes"] == 2 and 20 <= details["eval"]["max_agent_steps_per_game"] <= 60
    assert {"mean", "stderr", "steps"} <= details["eval"]["efficientzero"].keys() and details["eval"]["random"]["steps"] == 0
    assert details["published"]["efficientzero_100k"] == 414.1 and details["published"]["random"] == 1.7
    assert "not a reproduction" in details["note"] and "not a reproduction" in smoke[1]


def test_a_failing_section_is_recorded_and_the_next_one_runs(check_modules, monkeypatch, tmp_path):
    device_check, device_sizes = check_modules

    def broken(check, budget_s):
        raise RuntimeError("no such kernel\nsecond line")

    monkeypatch.setitem(device_check.SECTIONS, "search", ("EfficientZero search with the network", broken))
    report = device_check.run_check(
        device_sizes.smoke_sizes(60), torch.device("cpu"), frozenset(), ["search", "tree_scaling"], tmp_path, "cmd", "cpu-smoke"
    )
    search, tree = report["sections"]["search"], report["sections"]["tree_scaling"]
    assert search["status"] == "failed" and search["error"] == "RuntimeError: no such kernel"
    assert any("no such kernel" in line for line in search["traceback"])
    assert tree["status"] == "ok" and tree["figures"]["us_per_root_sim_1_threads"] > 0
    assert report["sections"]["train_step"] == {"title": device_check.SECTIONS["train_step"][0], "status": "skipped", "reason": "not selected (--only)"}
    assert json.loads((tmp_path / "device_check.json").read_text())["sections"]["search"]["status"] == "failed"
    assert "| EfficientZero search with the network | failed | RuntimeError: no such kernel |" in (tmp_path / "device_check.md").read_text()


def test_a_learning_check_that_no_longer_fits_is_skipped(check_modules, tmp_path):
    device_check, device_sizes = check_modules
    sizes = dataclasses.replace(device_sizes.smoke_sizes(10), budgets_s={**device_sizes.smoke_sizes(10).budgets_s, "learning": 8})
    report = device_check.run_check(sizes, torch.device("cpu"), frozenset(), ["tree_scaling", "learning"], tmp_path, "cmd", "cpu-smoke")
    assert report["sections"]["tree_scaling"]["status"] == "ok"
    learning = report["sections"]["learning"]
    assert learning["status"] == "skipped" and learning["reason"].endswith("it needs 8 s")
    assert report["deadline_respected"] and report["elapsed_s"] < 10


def test_the_learning_check_stops_training_at_its_share_of_the_budget(check_modules, tmp_path):
    device_check, device_sizes = check_modules
    # The evaluation's share is generous so that a CPU busy with other jobs still ends within the deadline.
    base = device_sizes.smoke_sizes(24)
    sizes = dataclasses.replace(base, learning_max_steps=100_000, eval_budget_s=10)
    report = device_check.run_check(sizes, torch.device("cpu"), frozenset(), ["learning"], tmp_path, "cmd", "cpu-smoke")
    learning = report["sections"]["learning"]
    assert learning["status"] == "ok", learning.get("traceback")
    assert learning["details"]["stopped_by_deadline"] and learning["details"]["planned_steps"] == 100_000
    assert learning["figures"]["train_s"] <= learning["budget_s"] - sizes.eval_budget_s + 3  # the guard runs between env steps
    assert report["deadline_respected"]


def test_an_unknown_section_is_refused_in_one_line(tmp_path):
    done = run_script("--cpu-smoke", "--only", "search,warp", "--out", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: unknown section(s) warp; choose from " + ", ".join(
        ["train_step", "search", "speed_flags", "tree_scaling", "xtra_cost", "curl", "whole_run", "learning"]
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without a GPU")
def test_the_full_check_without_a_gpu_stops_in_one_line(tmp_path):
    done = run_script("--out", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["Error: no CUDA device found: the full check needs a GPU (--cpu-smoke runs it at tiny sizes on a CPU)"]
    assert not (tmp_path / "device_check.json").exists()


def test_the_recorded_command_hides_the_output_folder(check_modules):
    device_check, _ = check_modules
    assert device_check.recorded_command(["--out", "/some/where", "--only", "a b"]) == "python benchmarks/device_check.py --out OUT_DIR --only 'a b'"
    assert device_check.recorded_command(["--out=/some/where"]) == "python benchmarks/device_check.py --out=OUT_DIR"
