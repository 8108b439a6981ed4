"""collect: the round trip to sampling, kill -9 and resume, overwrite refusal, checkpoint policies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from data_synthetic import isolated_data_root  # noqa: F401

from xtra_bench.agents import default_registry
from xtra_bench.cli import main
from xtra_bench.data import Dataset, Sampler, SamplerConfig
from xtra_bench.envs import make_env

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_collect_verify_sample_round_trip(tmp_path):
    out = tmp_path / "breakout.hdf5"
    result = run_cli("collect", "--game", "MinAtar-Breakout", "--episodes", 6, "--envs", 2, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    assert run_cli("datasets", "verify", out).exit_code == 0
    dataset = Dataset(out)
    spec = make_env("MinAtar-Breakout", 1).spec
    assert len(dataset) == 6 and dataset.action_set == spec.action_set and dataset.frame_shape == spec.frame_shape
    assert dataset.header.collector["policies"][0]["agent"] == "random"
    assert dataset.header.env_settings == json.loads(json.dumps(spec.settings))
    for episode in dataset:
        assert episode.terminated or episode.num_steps == spec.settings["max_episode_steps"]
    batch = Sampler(dataset, SamplerConfig(batch_size=64, unroll_steps=5)).sample()
    assert batch.frames.shape == (64, 9, *spec.frame_shape) and batch.frames.dtype == np.uint8
    starts = dataset.row_ranges()[:, 0]
    at_start = np.isin(batch.rows, starts)
    if at_start.any():
        first = batch.stack(0)[at_start]
        assert (first == first[:, :1]).all()

    again = run_cli("collect", "--game", "MinAtar-Breakout", "--episodes", 6, "--out", out)
    assert again.exit_code == 1 and "already exists; pass --force" in again.output


def test_collected_frames_are_the_env_frames(tmp_path):
    """Replaying a collected episode's actions in a fresh env with the same seed gives the same frames."""
    out = tmp_path / "d.hdf5"
    assert run_cli("collect", "--game", "MinAtar-Breakout", "--episodes", 1, "--seed", 3, "--out", out, "--no-progress").exit_code == 0
    episode = Dataset(out)[0]
    env = make_env("MinAtar-Breakout", 1, mode="train", seed=3)
    frames = [env.reset()[0, -1]]
    for t, action in enumerate(episode.actions):
        batch = env.step(np.array([action]))
        over = batch.terminated[0] or batch.truncated[0]
        frames.append((batch.final_obs if over else batch.obs)[0, -1])
        assert batch.reward[0] == episode.rewards[t]
    np.testing.assert_array_equal(np.stack(frames), episode.frames)


def test_a_checkpoint_policy_acts_through_the_agent_registry(tmp_path):
    registry = default_registry()
    checkpoint = tmp_path / "agent"
    registry.make("random", make_env("MinAtar-Breakout", 1).spec, seed=1).save(checkpoint)
    out = tmp_path / "d.hdf5"
    result = run_cli("collect", "--game", "MinAtar-Breakout", "--policy", checkpoint, "--episodes", 2, "--out", out, "--no-progress")
    assert result.exit_code == 0, result.output
    policy = Dataset(out).header.collector["policies"][0]
    assert policy["checkpoint"] == str(checkpoint) and len(policy["checkpoint_sha256"]) == 64

    other = tmp_path / "asterix-agent"
    registry.make("random", make_env("MinAtar-Asterix", 1).spec).save(other)
    result = run_cli("collect", "--game", "MinAtar-Breakout", "--policy", other, "--episodes", 1, "--out", tmp_path / "e.hdf5")
    assert result.exit_code == 1 and "action set" in result.output
    result = run_cli("collect", "--game", "MinAtar-Breakout", "--policy", tmp_path / "nothing", "--episodes", 1, "--out", tmp_path / "f.hdf5")
    assert result.exit_code == 1 and "neither" in result.output


def test_conflicting_or_missing_budgets_are_refused_before_any_work(tmp_path):
    result = run_cli("collect", "--game", "MinAtar-Breakout", "--episodes", 1, "--steps", 5, "--out", tmp_path / "x.hdf5")
    assert result.exit_code == 1 and "exactly one of --steps and --episodes" in result.output
    assert not (tmp_path / "x.hdf5.partial").exists()
    result = run_cli("collect", "--game", "Breakot", "--episodes", 1, "--out", tmp_path / "x.hdf5")
    assert result.exit_code == 1 and "Breakout" in result.output


def staged_episodes(staging: Path) -> list[tuple[bytes, bytes]]:
    """(actions, frames) bytes of every episode staged on disk, in order."""
    episodes = []
    for shard in sorted(staging.glob("shard-*.npz")):
        with np.load(shard) as rows:
            bounds = np.cumsum(np.concatenate([[0], rows["lengths"]]))
            for a, b in zip(bounds[:-1], bounds[1:]):
                episodes.append((rows["action"][a:b].tobytes(), rows["frame"][a:b].tobytes()))
    return episodes


def test_kill_9_then_the_same_command_resumes_and_keeps_every_episode_once(tmp_path):
    out = tmp_path / "asterix.hdf5"
    staging = tmp_path / "asterix.hdf5.partial"
    command = [sys.executable, "-m", "xtra_bench", "collect", "--game", "MinAtar-Asterix", "--episodes", "250",
               "--envs", "2", "--out", str(out), "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(staging.glob("shard-*.npz")) and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "collect finished before it could be killed"
    assert not out.exists()
    kept = staged_episodes(staging)
    assert kept

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    dataset = Dataset(out)
    assert len(dataset) == 250
    final = [(np.append(e.actions, -1).astype(np.int16).tobytes(), e.frames.tobytes()) for e in dataset]
    assert final[: len(kept)] == kept
    assert all(final.count(episode) == 1 for episode in kept)
    assert len(dataset.header.collector["session_seeds"]) == 2
    assert not staging.exists()
    assert run_cli("datasets", "verify", out).exit_code == 0
