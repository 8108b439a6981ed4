"""One device check: every GPU figure of benchmarks/RESULTS.md and a short Atari learning check, on a deadline.

In order, each section with its own time budget (``device_sizes.py``), all under one deadline:
the EfficientZero training step (paper network, batch 256: eager fp32, with bf16 autocast and
channels-last, compiled), the search of 256 roots x 50 simulations with the network (eager, CUDA
graphs), the speed flags' equivalence checks and pinned vs pageable copies, the C++ tree's thread
scaling, XTRA's cost per update over EfficientZero's, CURL's updates/s, the sustained whole run of
the paper config on Breakout with 8 envs (reanalysis included), and an EfficientZero learning
check on Breakout for the time that is left, against random play. A failing section is recorded
and the next one runs; one that no longer fits before the deadline is skipped.

It writes ``device_check.json`` (every figure, the command, the date, the hardware) after every
section, and at the end ``device_check.md``, a block ready to paste into benchmarks/RESULTS.md,
which it also prints.

Usage::

    bash benchmarks/device_check.sh OUT_DIR                      # a GPU machine: set-up, then this script
    python benchmarks/device_check.py --cpu-smoke --out OUT_DIR  # the same code paths at tiny sizes on a CPU
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import sys
import time
import traceback
from pathlib import Path

import click
import numpy as np
import torch

from device_report import markdown
from device_sections import SECTIONS, TOGGLES, Check, one_line
from device_sizes import CheckSizes, gpu_sizes, smoke_sizes

GPU_BUDGET_S = 480.0
SMOKE_BUDGET_S = 150.0
WRITE_MARGIN_S = 3.0
"""Seconds kept back from the deadline for writing the report."""
MIN_SHARE = 0.25
"""A section other than the learning check runs with at least this share of its nominal budget, or is skipped."""


def cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown model"


def describe_hardware(device: torch.device) -> dict:
    """The device, CPUs and software versions the figures were measured with."""
    try:
        ale_py = importlib.metadata.version("ale-py")
    except importlib.metadata.PackageNotFoundError:
        ale_py = "not installed"
    info = {
        "device": device.type,
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ale_py": ale_py,
        "platform": platform.platform(),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    else:
        info["device_name"] = f"CPU only ({info['cpu_model']})"
    return info


def recorded_command(argv: list[str]) -> str:
    """The command line as run from the repository root, with the output folder as ``OUT_DIR`` (no machine's paths)."""
    args, hide = [], False
    for arg in argv:
        if hide:
            args.append("OUT_DIR")
            hide = False
        elif arg == "--out":
            args.append(arg)
            hide = True
        elif arg.startswith("--out="):
            args.append("--out=OUT_DIR")
        else:
            args.append(shlex.quote(arg))
    return " ".join(["python", "benchmarks/device_check.py", *args])


def section_minimum(sizes: CheckSizes, name: str) -> float:
    """Seconds below which a section is skipped (the learning check's entry is its minimum itself)."""
    nominal = sizes.budgets_s[name]
    return nominal if name == "learning" else MIN_SHARE * nominal


def write_json(path: Path, report: dict) -> None:
    """Writes beside the final name and renames, so that a killed check leaves its last complete report."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, path)


def run_check(sizes: CheckSizes, device: torch.device, flags: frozenset[str], selected: list[str], out: Path, command: str, mode: str) -> dict:
    """Runs the selected sections under the deadline, writing the JSON report after each; returns the report."""
    started = time.perf_counter()
    check = Check(sizes, device, flags, deadline=started + sizes.total_budget_s - WRITE_MARGIN_S)
    report = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "hardware": describe_hardware(device),
        "budget_s": sizes.total_budget_s,
        "flags_chosen": sorted(flags),
        "sections": {},
    }
    json_path = out / "device_check.json"
    names = list(SECTIONS)
    for index, name in enumerate(names):
        title, measure = SECTIONS[name]
        entry: dict = {"title": title}
        # Time is kept for the minimum of every later section but the learning check, which takes what is left.
        reserve = sum(section_minimum(sizes, later) for later in names[index + 1 :] if later in selected and later != "learning")
        available = check.seconds_left() - reserve
        budget = available if name == "learning" else min(sizes.budgets_s[name], available)
        if name not in selected:
            entry.update(status="skipped", reason="not selected (--only)")
        elif budget < section_minimum(sizes, name):
            entry.update(status="skipped", reason=f"{max(0.0, budget):.0f} s left for it before the deadline, it needs {section_minimum(sizes, name):.0f} s")
        else:
            begin = time.perf_counter()
            try:
                entry.update(measure(check, budget), status="ok")
            except Exception as error:  # one section's failure is recorded, and the check goes on
                entry.update(status="failed", error=one_line(error), traceback=traceback.format_exc().splitlines()[-12:])
            entry.update(budget_s=round(budget, 1), elapsed_s=round(time.perf_counter() - begin, 1))
        report["sections"][name] = check.results[name] = entry
        report["broken_flags"] = dict(check.broken)
        write_json(json_path, report)
        took = f" in {entry['elapsed_s']:.1f} s" if "elapsed_s" in entry else ""
        click.echo(f"[{time.perf_counter() - started:6.1f} s] {name}: {entry['status']}{took}", err=True)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["deadline_respected"] = report["elapsed_s"] <= sizes.total_budget_s
    write_json(json_path, report)
    block = markdown(report)
    (out / "device_check.md").write_text(block)
    return report


def parse_sections(only: str | None) -> list[str]:
    if only is None:
        return list(SECTIONS)
    chosen = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown or not chosen:
        raise click.ClickException(f"unknown section(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(SECTIONS)}")
    return chosen


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder for device_check.json and device_check.md.")
@click.option("--cpu-smoke", is_flag=True, help="Tiny sizes on the CPU: the same code paths in a minute or two.")
@click.option("--budget", type=click.FloatRange(min=10), help=f"Seconds for the whole check [default: {GPU_BUDGET_S:.0f}; CPU smoke {SMOKE_BUDGET_S:.0f}].")
@click.option("--only", help=f"Comma-separated sections to run (the others are recorded as skipped): {', '.join(SECTIONS)}.")
@click.option("--tree-threads", type=click.IntRange(min=1), help="Threads of the C++ tree [default: the CPU count up to 16; CPU smoke 2].")
@click.option("--compile/--no-compile", default=True, show_default=True, help="Also time the compiled training step (CUDA only).")
@click.option("--amp/--no-amp", default=True, show_default=True, help="bfloat16 autocast of the training step (CUDA only).")
@click.option("--channels-last/--no-channels-last", default=True, show_default=True, help="Channels-last convolutions.")
@click.option("--cuda-graphs/--no-cuda-graphs", default=True, show_default=True, help="Search's recurrent inference from CUDA graphs (CUDA only).")
@click.option("--pin-memory/--no-pin-memory", default=True, show_default=True, help="Replay batches copied through pinned memory (CUDA only).")
def main(out, cpu_smoke, budget, only, tree_threads, **toggles):
    """Measures every GPU figure and runs a short learning check within the budget; writes one JSON report and a Markdown block."""
    selected = parse_sections(only)
    if cpu_smoke:
        device, sizes = torch.device("cpu"), smoke_sizes(budget or SMOKE_BUDGET_S)
    elif torch.cuda.is_available():
        device, sizes = torch.device("cuda"), gpu_sizes(budget or GPU_BUDGET_S)
    else:
        raise click.ClickException("no CUDA device found: the full check needs a GPU (--cpu-smoke runs it at tiny sizes on a CPU)")
    if tree_threads:
        sizes = dataclasses.replace(sizes, tree_threads=tree_threads)
    flags = frozenset(name for name in TOGGLES if toggles[name])
    out.mkdir(parents=True, exist_ok=True)
    report = run_check(sizes, device, flags, selected, out, recorded_command(sys.argv[1:]), "cpu-smoke" if cpu_smoke else "gpu")
    click.echo(markdown(report), nl=False)
    failed = [name for name, section in report["sections"].items() if section["status"] == "failed"]
    if failed:
        raise click.ClickException(f"section(s) failed: {', '.join(failed)} (errors in {out / 'device_check.json'})")


if __name__ == "__main__":
    main()
