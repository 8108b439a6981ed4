"""`xtra-bench export`: a study's committable files, which `report` reads and `run --resume` continues."""

import json
from pathlib import Path

from click.testing import CliRunner

from xtra_bench.cli import main

ARGS = ["--agent", "random", "--split", "minatar", "--targets", "MinAtar-Breakout,MinAtar-SpaceInvaders", "--seeds", "0-1",
        "--env-steps", "8", "--eval-interval", "4", "--preset", "smoke", "--eval-episodes", "2",
        "--periodic-eval-episodes", "1", "--no-progress"]  # fmt: skip
UNFINISHED = "random/MinAtar-SpaceInvaders/seed-1"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def study(tmp_path) -> Path:
    """Four random-agent jobs, one of them stopped before its DONE (what a killed job leaves)."""
    src = tmp_path / "runs"
    assert cli("run", *ARGS, "--out", src).exit_code == 0
    (src / "jobs" / UNFINISHED / "DONE").unlink()
    return src


def test_export_copies_only_the_small_files_of_finished_jobs(tmp_path):
    src, dest = study(tmp_path), tmp_path / "results"
    result = cli("export", src, dest)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"3 finished jobs copied to {dest} (0 replaced), 0 already there",
        f"1 not finished, left behind: {UNFINISHED}",
    ]
    finished = ["random/MinAtar-Breakout/seed-0", "random/MinAtar-Breakout/seed-1", "random/MinAtar-SpaceInvaders/seed-0"]
    expected = {"protocol.json", "plan.json"} | {f"jobs/{k}/{name}" for k in finished for name in ("config.json", "metrics.jsonl", "evals.jsonl", "DONE")}
    assert files(dest) == expected  # no checkpoint, heartbeat or TensorBoard file
    assert (src / "jobs" / finished[0] / "checkpoint").is_dir()
    for name in sorted(expected):
        assert (dest / name).read_bytes() == (src / name).read_bytes(), name
    # The plan keeps the unfinished job, so status shows what is left to run.
    status = json.loads(cli("status", dest, "--json").output)
    assert {r["key"]: r["state"] for r in status} == {**{k: "done" for k in finished}, UNFINISHED: "pending"}


def test_the_export_reports_like_the_source_and_resumes_only_what_is_left(tmp_path):
    src, dest = study(tmp_path), tmp_path / "results"
    assert cli("export", src, dest).exit_code == 0
    # Reported from the copy, the finished jobs' scores are the source's.
    (src / "jobs" / UNFINISHED).rename(tmp_path / "aside")
    for tree in (src, dest):
        assert cli("report", tree, "--baseline", "random").exit_code == 0
    assert (dest / "report/scores.csv").read_text() == (src / "report/scores.csv").read_text()
    plan = cli("run", *ARGS, "--out", dest, "--resume", "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert plan.output.count("done, skipped") == 3 and UNFINISHED in plan.output


def test_exporting_again_changes_nothing_and_other_results_need_force(tmp_path):
    src, dest = study(tmp_path), tmp_path / "results"
    assert cli("export", src, dest).exit_code == 0
    again = cli("export", src, dest)
    assert again.output.splitlines()[0] == f"0 finished jobs copied to {dest} (0 replaced), 3 already there"
    job = "jobs/random/MinAtar-Breakout/seed-0"
    (dest / job / "evals.jsonl").write_text("")
    refused = cli("export", src, dest)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        f"Error: {dest} already holds other results for 1 job(s) (random/MinAtar-Breakout/seed-0); rerun with --force to replace them"
    ]
    assert (dest / job / "evals.jsonl").read_text() == ""
    forced = cli("export", src, dest, "--force", "--json")
    assert json.loads(forced.output)["replaced"] == ["random/MinAtar-Breakout/seed-0"]
    assert (dest / job / "evals.jsonl").read_bytes() == (src / job / "evals.jsonl").read_bytes()


def test_refused_exports_are_one_line_and_write_nothing(tmp_path):
    src = study(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "protocol.json").write_text(json.dumps({"hash": "0123456789abcdef", "protocol": {}}))
    cases = {
        "not-a-tree": (tmp_path / "nothing", tmp_path / "out", "is not a results tree"),
        "itself": (src, src, "is the results tree being exported"),
        "other-protocol": (src, other, "holds results of another protocol (hash 0123456789abcdef"),
    }
    for name, (source, dest, message) in cases.items():
        before = files(dest) if dest.exists() else None
        result = cli("export", source, dest)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], (name, result.output)
        assert (files(dest) if dest.exists() else None) == before, name
