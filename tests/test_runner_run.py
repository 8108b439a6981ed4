"""`xtra-bench run`: the results tree of a sweep, kill -9 and --resume, stage-1 caching, refused inputs."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from baselines.efficientzero.config import preset_config
from xtra_bench import agents
from xtra_bench.agents import AgentRegistry, RandomAgent
from xtra_bench.cli import main
from xtra_bench.data.registry import bundled_manifest
from xtra_bench.protocol import Protocol
from xtra_bench.runner import JobStore, RunConfig, run

# Short games: a MinAtar Breakout game lasts 16 steps when the paddle stays put, Space Invaders 17.
TARGETS = "MinAtar-Breakout,MinAtar-SpaceInvaders"
SMALL = ["--preset", "smoke", "--eval-episodes", "2", "--periodic-eval-episodes", "1", "--no-progress"]


def invoke(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)])


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def one_error_line(result) -> str:
    """The single 'Error: ...' line of a refused command (and no traceback)."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def test_sweep_of_two_agents_two_targets_two_seeds_writes_the_results_tree(tmp_path):
    out = tmp_path / "runs"
    result = invoke(
        "--agent", "random,efficientzero", "--pretrain", "MinAtar-Asterix", "--targets", TARGETS, "--seeds", "0-1",
        "--env-steps", 8, "--eval-interval", 4, "--workers", 2, "--out", out, *SMALL,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    protocol = Protocol(env_steps=8, eval_episodes=2, periodic_eval_episodes=1, eval_interval=4)
    assert json.loads((out / "protocol.json").read_text()) == {"hash": protocol.hash(), "protocol": protocol.to_json()}
    job_dirs = sorted(p.relative_to(out / "jobs").as_posix() for p in (out / "jobs").glob("*/*/*"))
    assert job_dirs == [
        f"{a}/{t}/seed-{s}" for a in ("efficientzero", "random") for t in sorted(TARGETS.split(",")) for s in (0, 1)
    ]
    for job in job_dirs:
        agent, target, seed = job.split("/")
        job_dir = out / "jobs" / job
        config = json.loads((job_dir / "config.json").read_text())
        assert {k: config[k] for k in ("agent", "target", "seed", "split", "pretrain", "preset", "env_steps", "eval_episodes")} == {
            "agent": agent, "target": target, "seed": int(seed[5:]), "split": "custom", "pretrain": ["MinAtar-Asterix"],
            "preset": "smoke", "env_steps": 8, "eval_episodes": 2,
        }  # fmt: skip
        assert config["protocol_hash"] == protocol.hash()
        expected_config = dataclasses.asdict(preset_config("smoke")) if agent == "efficientzero" else {}
        assert config["agent_config"] == json.loads(json.dumps(expected_config))
        evals = rows(job_dir / "evals.jsonl")
        # Periodic evaluations at steps 4 and 8 (one episode each), then the final one (two episodes) at step 8.
        assert [(r["step"], r["kind"], r["episode"]) for r in evals] == [
            (4, "periodic", 0), (8, "periodic", 0), (8, "final", 0), (8, "final", 1),
        ]  # fmt: skip
        assert all(isinstance(r["return"], float) for r in evals)
        assert set(json.loads((job_dir / "DONE").read_text())) == {"finished_at", "wall_seconds"}
        assert (job_dir / "checkpoint" / "agent.json").is_file()
        assert all("step" in r for r in rows(job_dir / "metrics.jsonl"))
    # Finished jobs are skipped: a second run does nothing and changes nothing.
    before = (out / "jobs/random/MinAtar-Breakout/seed-0/DONE").read_text()
    again = invoke("--agent", "random", "--pretrain", "MinAtar-Asterix", "--targets", TARGETS, "--seeds", "0-1",
                   "--env-steps", 8, "--eval-interval", 4, "--out", out, "--dry-run", *SMALL)  # fmt: skip
    assert again.exit_code == 0 and again.output.count("done, skipped") == 4
    assert (out / "jobs/random/MinAtar-Breakout/seed-0/DONE").read_text() == before


def start_and_kill(args: list, out: Path, evals: Path, rows_before_kill: int, delay: float) -> None:
    """Runs ``xtra-bench run`` in a subprocess and kill -9s it ``delay`` seconds after ``evals`` has that many rows."""
    command = [sys.executable, "-m", "xtra_bench", "run", *map(str, args), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (evals.is_file() and evals.read_bytes().count(b"\n") >= rows_before_kill) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)  # into the next segment of training
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert not (evals.parent / "DONE").exists(), "the job finished before it was killed"


def loss_rows(path: Path) -> list[dict]:
    """The metric rows without the throughput figures, which depend on the machine's load."""
    return [{k: v for k, v in r.items() if "loss" in k or k in ("step", "update")} for r in rows(path)]


# 30 segments of 1,000 steps (~0.1 s each on an idle machine), so the kill after the third row lands well
# before the end: with 1,500 steps the whole job could finish within the kill's delay.
RANDOM_RESUME = ["--agent", "random", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "3",
                 "--env-steps", "30000", "--eval-interval", "1000", *SMALL]  # fmt: skip
EZ_RESUME = ["--agent", "efficientzero", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "0",
             "--env-steps", "120", "--eval-interval", "40", *SMALL]  # fmt: skip


@pytest.mark.parametrize(
    "args, job, rows_before_kill, delay",
    [
        pytest.param(RANDOM_RESUME, "random/MinAtar-Breakout/seed-3", 3, 0.1, id="random"),
        # Killed after the evaluation at step 80, in the middle of the updates that follow it.
        pytest.param(EZ_RESUME, "efficientzero/MinAtar-Breakout/seed-0", 2, 1.0, id="efficientzero"),
    ],
)
def test_kill_9_in_the_middle_of_a_job_and_resume_gives_the_rows_of_an_uninterrupted_run(tmp_path, args, job, rows_before_kill, delay):
    assert invoke(*args, "--out", tmp_path / "whole").exit_code == 0
    whole, killed = tmp_path / "whole" / "jobs" / job, tmp_path / "killed" / "jobs" / job
    start_and_kill(args, tmp_path / "killed", killed / "evals.jsonl", rows_before_kill, delay)
    assert "continue them with --resume" in one_error_line(invoke(*args, "--out", tmp_path / "killed"))
    assert invoke(*args, "--out", tmp_path / "killed", "--resume").exit_code == 0
    assert (killed / "evals.jsonl").read_text() == (whole / "evals.jsonl").read_text()
    assert loss_rows(killed / "metrics.jsonl") == loss_rows(whole / "metrics.jsonl")
    env_steps, interval = int(args[args.index("--env-steps") + 1]), int(args[args.index("--eval-interval") + 1])
    periodic = [r["step"] for r in rows(whole / "evals.jsonl") if r["kind"] == "periodic"]
    assert periodic == list(range(interval, env_steps + 1, interval))


class Killed(BaseException):
    """Stands for a kill -9: not an Exception, so nothing in the runner catches it."""


def test_rows_written_after_the_last_checkpoint_are_neither_duplicated_nor_lost(tmp_path, monkeypatch):
    config = RunConfig(agents=("random",), pretrain=("MinAtar-Asterix",), targets=("MinAtar-Breakout",), seeds=(0,),
                       preset="smoke", env_steps=60, eval_interval=20, eval_episodes=2, periodic_eval_episodes=1,
                       progress=False)  # fmt: skip
    run(dataclasses.replace(config, out=tmp_path / "whole"))
    save = JobStore.save_checkpoint

    def killed_before_the_second_checkpoint(self, agent, progress):
        if progress.step == 40:
            with open(self.evals, "a") as f:
                f.write('{"step": 40, "ki')  # and half of a row being written
            raise Killed
        save(self, agent, progress)

    monkeypatch.setattr(JobStore, "save_checkpoint", killed_before_the_second_checkpoint)
    with pytest.raises(Killed):
        run(dataclasses.replace(config, out=tmp_path / "cut"))
    monkeypatch.undo()
    job = Path("jobs/random/MinAtar-Breakout/seed-0")
    assert [r["step"] for r in rows_before_half_line(tmp_path / "cut" / job / "evals.jsonl")] == [20, 40]
    run(dataclasses.replace(config, out=tmp_path / "cut", resume=True))
    assert (tmp_path / "cut" / job / "evals.jsonl").read_text() == (tmp_path / "whole" / job / "evals.jsonl").read_text()


def rows_before_half_line(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]]


class StagedAgent(RandomAgent):
    """A random agent whose stage 1 keys a "teacher" by each dataset and a "student" by the set, as
    XTRA's does, and records each artifact it computes (rather than loads)."""

    name = "staged"
    description = "random actions after a stage 1 that writes a teacher per dataset and a student"

    def pretrain(self, datasets, workdir):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)

        def ensure(artifact: Path, content) -> None:
            if not artifact.exists():
                with open(workdir / "computed.log", "a") as log:
                    log.write(artifact.stem + "\n")
                artifact.write_text(json.dumps(content))

        names = sorted(Path(p).stem for p in datasets)
        for name in names:
            ensure(workdir / f"teacher-{name}.json", name)
        ensure(workdir / f"student-{'+'.join(names)}.json", names)
        self.pretrained_on = json.loads((workdir / f"student-{'+'.join(names)}.json").read_text())


@pytest.fixture
def staged_registry(monkeypatch, tmp_path):
    registry = AgentRegistry(include_entry_points=False)
    registry.register(RandomAgent)
    registry.register(StagedAgent)
    monkeypatch.setattr(agents, "default_registry", lambda: registry)
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "data"))
    return registry


SAMPLES = "xtra/{game}/random-sample-v1"


def test_stage1_runs_once_per_pretraining_set_and_is_shared_by_every_job(staged_registry, tmp_path):
    dataset_id = "xtra/MinAtar-Asterix/random-sample-v1"
    out = tmp_path / "runs"
    # A bundled dataset needs no download step: stage 1 copies it into the data cache.
    result = invoke("--agent", "staged,random", "--pretrain", "MinAtar-Asterix", "--targets", TARGETS, "--seeds", "0-1",
                    "--datasets", SAMPLES, "--env-steps", 4, "--eval-interval", 4, "--out", out, *SMALL)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"data/{dataset_id}/entry.json").is_file()
    (stage_dir,) = [p for p in (out / "stage1").iterdir() if p.name != "artifacts"]
    assert (stage_dir / "DONE").is_file()
    sample = "MinAtar-Asterix-random-sample"
    assert (out / "stage1/artifacts/computed.log").read_text() == f"teacher-{sample}\nstudent-{sample}\n"
    manifest = json.loads(bundled_manifest().read_text())
    entry = next(d for d in manifest["datasets"] if d["id"] == dataset_id)
    recorded = json.loads((stage_dir / "stage1.json").read_text())
    assert recorded["datasets"] == [{"game": "MinAtar-Asterix", "id": dataset_id, "sha256": entry["files"][0]["sha256"]}]
    for target in TARGETS.split(","):
        for seed in (0, 1):
            config = json.loads((out / f"jobs/staged/{target}/seed-{seed}/config.json").read_text())
            assert config["stage1"] == stage_dir.name
            assert json.loads((out / f"jobs/random/{target}/seed-{seed}/config.json").read_text())["stage1"] is None
    # Another preset is another stage-1 input: a new directory.
    more = invoke("--agent", "staged", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "0",
                  "--datasets", SAMPLES, "--env-steps", 4, "--eval-interval", 4, "--out", tmp_path / "fast",
                  *SMALL[2:], "--preset", "fast")  # fmt: skip
    assert more.exit_code == 0, more.output
    assert [p.name for p in (tmp_path / "fast" / "stage1").iterdir() if p.name != "artifacts"] != [stage_dir.name]


def test_leave_one_out_sets_build_each_games_teacher_once(staged_registry, tmp_path):
    from xtra_bench.games import MINATAR

    for game in MINATAR:  # a few random games per MinAtar game
        made = CliRunner().invoke(main, ["collect", "--game", game, "--episodes", 2, "--envs", 1,
                                         "--out", tmp_path / f"{game}.hdf5", "--no-progress"])  # fmt: skip
        assert made.exit_code == 0, made.output
    out = tmp_path / "runs"
    # Breakout's set and SpaceInvaders' share Asterix, Freeway and Seaquest.
    result = invoke("--agent", "staged", "--split", "minatar", "--targets", TARGETS, "--seeds", "0", "--env-steps", 4,
                    "--eval-interval", 4, "--datasets", tmp_path / "{game}.hdf5", "--out", out, *SMALL)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len([p for p in (out / "stage1").iterdir() if p.name != "artifacts"]) == 2  # two stage-1 inputs
    computed = (out / "stage1/artifacts/computed.log").read_text().split()
    assert sorted(c for c in computed if c.startswith("teacher-")) == sorted(f"teacher-{g}" for g in MINATAR)
    assert sorted(c for c in computed if c.startswith("student-")) == [
        "student-MinAtar-Asterix+MinAtar-Breakout+MinAtar-Freeway+MinAtar-Seaquest",
        "student-MinAtar-Asterix+MinAtar-Freeway+MinAtar-Seaquest+MinAtar-SpaceInvaders",
    ]


@pytest.fixture
def published_registry(staged_registry, samples_only_registry, tmp_path, monkeypatch):
    """The bundled samples plus two published pretraining datasets: MinAtar-Asterix's bundled
    (its bytes are the Asterix sample's) and MinAtar-Freeway's on a remote host."""
    manifest = json.loads(samples_only_registry.read_text())
    sample = next(d for d in manifest["datasets"] if d["id"] == "xtra/MinAtar-Asterix/random-sample-v1")
    asterix = {**sample, "id": "xtra/MinAtar-Asterix/ez-checkpoints-v1", "files": [sample["files"][0]]}
    remote = {"path": "MinAtar-Freeway.hdf5", "url": "https://example.org/MinAtar-Freeway.hdf5", "sha256": "0" * 64,
              "bytes": 1, "kind": "dataset"}  # fmt: skip
    freeway = {**sample, "id": "xtra/MinAtar-Freeway/ez-checkpoints-v1", "game": "MinAtar-Freeway", "files": [remote]}
    manifest["datasets"] += [asterix, freeway]
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(path))
    return staged_registry


def test_a_published_bundled_dataset_serves_stage1_with_no_step_and_the_sample_never_does(published_registry, tmp_path):
    result = invoke("--agent", "staged", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--seeds", "0",
                    "--env-steps", 4, "--eval-interval", 4, "--out", tmp_path / "runs", *SMALL)  # fmt: skip
    assert result.exit_code == 0, result.output
    (stage_dir,) = [p for p in (tmp_path / "runs/stage1").iterdir() if p.name != "artifacts"]
    (recorded,) = json.loads((stage_dir / "stage1.json").read_text())["datasets"]
    # The registry lists Asterix's sample too; without --datasets only the published dataset is chosen.
    assert recorded["id"] == "xtra/MinAtar-Asterix/ez-checkpoints-v1"
    assert (tmp_path / "data/xtra/MinAtar-Asterix/ez-checkpoints-v1/entry.json").is_file()
    assert not (tmp_path / "data/xtra/MinAtar-Asterix/random-sample-v1").exists()


def test_a_missing_pretraining_dataset_is_one_line_naming_the_download_or_the_recipe(published_registry, tmp_path):
    remote = invoke("--agent", "staged", "--pretrain", "MinAtar-Freeway", "--targets", "MinAtar-Breakout",
                    "--out", tmp_path / "runs", *SMALL)  # fmt: skip
    assert "`xtra-bench datasets download xtra/MinAtar-Freeway/ez-checkpoints-v1`" in one_error_line(remote)
    nothing = invoke("--agent", "staged", "--pretrain", "MinAtar-Seaquest", "--targets", "MinAtar-Breakout",
                     "--out", tmp_path / "runs", *SMALL)  # fmt: skip
    line = one_error_line(nothing)
    assert "`xtra-bench collect --game MinAtar-Seaquest --recipe smoke`" in line and "--collect-missing" in line
    assert not (tmp_path / "runs").exists()


def test_every_missing_dataset_is_named_and_a_bundled_sample_serves_only_when_named(staged_registry, samples_only_registry, tmp_path):
    args = ["--agent", "staged", "--pretrain", "MinAtar-Asterix,MinAtar-Freeway", "--targets", "MinAtar-Breakout",
            "--env-steps", 4, "--eval-interval", 4, "--seeds", "0", "--out", tmp_path / "runs", *SMALL]  # fmt: skip
    line = one_error_line(invoke(*args))
    # The registry publishes no pretraining dataset, and its samples are not one.
    assert "2 pretraining dataset(s) missing (MinAtar-Asterix, MinAtar-Freeway)" in line
    assert "`xtra-bench collect --game MinAtar-Asterix --recipe smoke`" in line
    assert "`xtra-bench collect --game MinAtar-Freeway --recipe smoke`" in line
    only = ["--agent", "staged", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout", "--env-steps", 4,
            "--eval-interval", 4, "--seeds", "0", "--datasets", SAMPLES, "--out", tmp_path / "runs", *SMALL]  # fmt: skip
    result = invoke(*only)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "runs/jobs/staged/MinAtar-Breakout/seed-0/config.json").read_text())["stage1"]
    again = invoke(*only, "--seeds", "1")  # the copied sample stays in the cache
    assert again.exit_code == 0, again.output


CUSTOM = ["--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout"]


@pytest.mark.parametrize(
    "args, message",
    [
        pytest.param(["--agent", "randm", *CUSTOM], "unknown agent 'randm'. Did you mean 'random'?", id="unknown-agent"),
        pytest.param(["--agent", "random", "--split", "shooterz"], "unknown split 'shooterz'", id="unknown-split"),
        pytest.param(["--agent", "random", "--split", "minatar", "--targets", "Pong"], "Pong is not a target of split 'minatar'", id="target-outside-split"),
        pytest.param(["--agent", "random", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Brekout"], "MinAtar-Brekout", id="unknown-target"),
        pytest.param(["--agent", "random", *CUSTOM, "--seeds", "5-2"], "seed range '5-2' runs backwards", id="backwards-seeds"),
        pytest.param(["--agent", "random", *CUSTOM, "--seeds", "a"], "cannot read seeds 'a'", id="unreadable-seeds"),
        pytest.param(["--agent", "random", *CUSTOM, "--env-steps", "0"], "env-steps must be positive, got 0", id="zero-budget"),
        pytest.param(["--agent", "random", *CUSTOM, "--env-steps", "-5"], "env-steps must be positive, got -5", id="negative-budget"),
        pytest.param(["--agent", "random", *CUSTOM, "--eval-episodes", "0"], "eval-episodes must be positive, got 0", id="zero-eval-episodes"),
        pytest.param(["--agent", "random", *CUSTOM, "--eval-interval", "-1"], "eval-interval must be positive", id="negative-interval"),
        pytest.param(["--agent", "random", "--split", "minatar", *CUSTOM], "--split and --pretrain exclude each other", id="split-and-pretrain"),
        pytest.param(["--agent", "random"], "say what to run", id="no-split"),
        pytest.param(["--agent", "random", *CUSTOM, "--workers", "2", "--launcher", "ray"], "--workers is for --launcher local", id="workers-with-ray"),
        pytest.param(["--agent", "random", *CUSTOM, "--ray-address", "x:1"], "--ray-address needs --launcher ray", id="address-without-ray"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    result = invoke(*args, "--out", tmp_path / "runs", "--no-progress")
    assert message in one_error_line(result)
    assert not (tmp_path / "runs").exists()


def test_results_of_another_protocol_are_refused(tmp_path):
    base = ["--agent", "random", *CUSTOM, "--seeds", "0", "--eval-interval", "4", "--out", tmp_path, *SMALL]
    assert invoke(*base, "--env-steps", 4).exit_code == 0
    line = one_error_line(invoke(*base, "--env-steps", 6))
    assert "holds results of another protocol" in line and "env_steps 4 here vs 6 now" in line
    assert "eval_episodes 2 here vs 3 now" in one_error_line(invoke(*base, "--env-steps", 4, "--eval-episodes", 3))
    # Same protocol, another preset: the job directory holds another job.
    other = one_error_line(invoke(*base, "--env-steps", 4, "--preset", "fast"))
    assert "holds a job run with other settings (preset 'smoke' there vs 'fast' now)" in other


def test_tensorboard_gets_the_mean_of_each_evaluation(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    config = RunConfig(agents=("random",), pretrain=("MinAtar-Asterix",), targets=("MinAtar-Breakout",), seeds=(0,),
                       preset="smoke", env_steps=40, eval_interval=20, eval_episodes=3, periodic_eval_episodes=2,
                       out=tmp_path, progress=False)  # fmt: skip
    run(config)
    job = tmp_path / "jobs/random/MinAtar-Breakout/seed-0"
    events = event_accumulator.EventAccumulator(str(job / "tensorboard"))
    events.Reload()
    evals = rows(job / "evals.jsonl")
    for tag, kind in (("eval/periodic_return", "periodic"), ("eval/final_return", "final")):
        by_step: dict[int, list[float]] = {}
        for r in evals:
            if r["kind"] == kind:
                by_step.setdefault(r["step"], []).append(r["return"])
        logged = events.Scalars(tag)
        assert [e.step for e in logged] == sorted(by_step)
        assert [e.value for e in logged] == pytest.approx([sum(v) / len(v) for _, v in sorted(by_step.items())])


def test_the_minatar_split_needs_no_collect_step_on_the_bundled_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("XTRA_BENCH_REGISTRY", raising=False)
    result = invoke("--agent", "xtra", "--split", "minatar", "--preset", "minatar", "--seeds", "0", "--dry-run", "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("5 jobs: 5 new, 0 to resume, 0 done; 5 stage-1 task(s) first")
    games = ["MinAtar-Asterix", "MinAtar-Breakout", "MinAtar-Freeway", "MinAtar-Seaquest", "MinAtar-SpaceInvaders"]
    stage1 = sorted(line.split(" on ")[1] for line in result.output.splitlines() if line.startswith("stage1/"))
    assert stage1 == sorted(", ".join(g for g in games if g != left_out) for left_out in games)
    for game in games:  # each one the published set, copied out of the package
        assert (tmp_path / f"data/xtra/{game}/ez-checkpoints-v1/entry.json").is_file()
