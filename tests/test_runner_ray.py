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


@pytest.mark.slow
def test_a_worker_node_removed_mid_job_still_ends_with_every_evaluation_row_once(tmp_path):
    """A two-node local cluster: the job runs on the worker node (the head has too few CPUs for it),
    which is removed once the job has checkpointed; Ray retries the task on a node added in its
    place, the job resumes from its checkpoint, and the rows are those of an uninterrupted run."""
    import threading
    import time

    from ray.cluster_utils import Cluster

    from xtra_bench.runner import RunConfig, run

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    try:
        config = RunConfig(
            agents=("random",), pretrain=("MinAtar-Asterix",), targets=("MinAtar-Breakout",), seeds=(0,), preset="smoke",
            env_steps=6000, eval_interval=200, eval_episodes=2, periodic_eval_episodes=1, out=tmp_path,
            launcher="ray", cpus_per_job=2, progress=False,
        )  # fmt: skip
        job = tmp_path / "jobs/random/MinAtar-Breakout/seed-0"
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.setdefault("plan", run(config)))
        runner.start()
        deadline = time.monotonic() + 120
        while not (job / "evals.jsonl").is_file() or len((job / "evals.jsonl").read_text().splitlines()) < 3:
            assert time.monotonic() < deadline and runner.is_alive(), "the job never reached its third evaluation"
            time.sleep(0.05)
        assert not (job / "DONE").exists()  # mid-job
        cluster.add_node(num_cpus=2)
        cluster.remove_node(worker)
        runner.join(timeout=300)
        assert not runner.is_alive() and "plan" in outcome
    finally:
        ray.shutdown()
        cluster.shutdown()
    evals = [json.loads(line) for line in (job / "evals.jsonl").read_text().splitlines()]
    assert [(r["step"], r["kind"], r["episode"]) for r in evals] == [
        *((s, "periodic", 0) for s in range(200, 6001, 200)), (6000, "final", 0), (6000, "final", 1),
    ]
    assert (job / "DONE").is_file()
    # The attempt that finished started from a checkpoint: the job was cut by the node's removal and resumed.
    assert json.loads((job / "heartbeat.json").read_text())["start_step"] >= 600
