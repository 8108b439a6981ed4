"""`xtra-bench status`: every job's state, last evaluation, speed and ETA, read from the results tree."""

import json
import time

import pytest
from click.testing import CliRunner

from xtra_bench.cli import main
from xtra_bench.runner.heartbeat import Heartbeat
from xtra_bench.runner.progress import Event
from xtra_bench.runner.status import record_plan, run_status

NOW = 1_000_000.0


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


@pytest.fixture
def tree(tmp_path):
    """Five jobs of 400 steps: done, running (at 100 + 50 steps, 10 steps/s), failed, stopped, never started."""
    root = tmp_path / "runs"
    write(root / "protocol.json", {"hash": "h", "protocol": {}})
    keys = [f"random/MinAtar-Breakout/seed-{s}" for s in range(5)]
    record_plan(root, [{"key": k, "agent": "random", "target": "MinAtar-Breakout", "seed": s, "env_steps": 400} for s, k in enumerate(keys)])
    jobs = root / "jobs"
    for k in keys[:4]:
        write(jobs / k / "config.json", {"env_steps": 400})
    rows = lambda step, kind, returns: "".join(json.dumps({"step": step, "kind": kind, "episode": i, "return": r}) + "\n" for i, r in enumerate(returns))  # noqa: E731
    write(jobs / keys[0] / "evals.jsonl", rows(200, "periodic", [1.0]) + rows(400, "final", [2.0, 4.0]))
    write(jobs / keys[0] / "DONE", {"finished_at": "x", "wall_seconds": 8.0})
    write(jobs / keys[1] / "evals.jsonl", rows(100, "periodic", [1.0, 2.0]))
    write(jobs / keys[1] / "checkpoint/job_progress.json", {"step": 100, "eval_rows": 2, "metrics_rows": 0, "trained": False, "wall_seconds": 1.0})
    beat = {"pid": 1, "host": "h", "started_at": NOW - 10, "updated_at": NOW - 2, "ended_at": None, "start_step": 100, "steps": 50, "steps_per_s": 10.0}
    write(jobs / keys[1] / "heartbeat.json", beat)
    write(jobs / keys[2] / "error.log", "ValueError: boom\n\nTraceback (most recent call last):\n  ...\n")
    write(jobs / keys[2] / "heartbeat.json", {**beat, "ended_at": NOW - 5})
    write(jobs / keys[3] / "checkpoint/job_progress.json", {"step": 200, "eval_rows": 1, "metrics_rows": 0, "trained": False, "wall_seconds": 1.0})
    write(jobs / keys[3] / "heartbeat.json", {**beat, "updated_at": NOW - 600})  # killed: no longer rewritten
    return root


def test_each_job_is_done_running_failed_or_pending(tree):
    done, running, failed, stopped, new = run_status(tree, now=NOW)
    assert (done.state, done.step, done.last_eval, done.steps_per_s) == ("done", 400, ("final", 400, 3.0), 400 / 8.0)
    assert (running.state, running.step, running.last_eval) == ("running", 150, ("periodic", 100, 1.5))
    assert (running.steps_per_s, running.eta_s) == (10.0, (400 - 150) / 10.0)
    assert (failed.state, failed.error) == ("failed", "ValueError: boom")
    assert (stopped.state, stopped.step, stopped.note) == ("pending", 200, "stopped at step 200; continue with --resume")
    assert (new.state, new.step, new.note) == ("pending", 0, "")


def test_the_status_command_prints_a_line_per_job_and_the_counts(tree):
    result = CliRunner().invoke(main, ["status", str(tree)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "error: ValueError: boom" in result.output
    assert lines[-1] == "5 jobs: 1 done, 0 running, 1 failed, 3 pending"  # `now` is the real clock: the heartbeat is stale
    as_json = json.loads(CliRunner().invoke(main, ["status", str(tree), "--json"]).output)
    assert [r["state"] for r in as_json] == ["done", "pending", "failed", "pending", "pending"]


def test_status_of_a_directory_that_is_no_results_tree_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["status", str(tmp_path)])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "is not a results tree" in result.output


def test_the_heartbeat_counts_steps_from_the_starting_step_and_marks_its_end(tmp_path):
    seen = []
    with Heartbeat(tmp_path, interval=0.01) as beat:
        report = beat.reporter(seen.append)
        report(Event("job", "start", 300))
        report(Event("job", "steps", 10))
        time.sleep(0.2)
        report(Event("job", "steps", 20))
        written = json.loads((tmp_path / "heartbeat.json").read_text())
        assert written["ended_at"] is None
        time.sleep(0.05)
        assert json.loads((tmp_path / "heartbeat.json").read_text())["updated_at"] > written["started_at"]
    final = json.loads((tmp_path / "heartbeat.json").read_text())
    assert [e.kind for e in seen] == ["start", "steps", "steps"]  # passed on unchanged
    assert (final["start_step"], final["steps"]) == (300, 30)
    # the rate counts the 20 steps after the first event over the time between the two events (>= 0.2 s)
    assert 0 < final["steps_per_s"] <= 20 / 0.2
    assert final["ended_at"] is not None


def test_a_real_run_reports_done_jobs_with_their_speed(tmp_path):
    out = tmp_path / "runs"
    args = ["run", "--agent", "random", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "0-1",
            "--preset", "smoke", "--env-steps", "40", "--eval-interval", "20", "--eval-episodes", "2",
            "--periodic-eval-episodes", "1", "--no-progress", "--out", str(out)]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    rows = run_status(out)
    assert [(r.key, r.state, r.step, r.last_eval[:2]) for r in rows] == [
        (f"random/MinAtar-Breakout/seed-{s}", "done", 40, ("final", 40)) for s in (0, 1)
    ]
