"""The results store: JSONL rows cut back to a checkpoint, checkpoints replaced atomically, protocol checks."""

import json

import pytest

from xtra_bench.agents import RandomAgent
from xtra_bench.envs import make_spec
from xtra_bench.errors import ConfigError, XtraBenchError
from xtra_bench.protocol import Protocol
from xtra_bench.runner.store import JobProgress, JobStore, check_protocol, truncate_lines, write_protocol


def test_truncate_keeps_complete_lines_and_drops_half_a_row(tmp_path):
    path = tmp_path / "evals.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n{"a": ')
    truncate_lines(path, 2)
    assert path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'
    truncate_lines(path, 2)  # already cut: unchanged
    assert path.read_bytes() == b'{"a": 1}\n{"a": 2}\n'


def test_truncate_refuses_a_file_shorter_than_its_checkpoint(tmp_path):
    path = tmp_path / "evals.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    with pytest.raises(XtraBenchError, match="has 1 rows but its checkpoint covers 3"):
        truncate_lines(path, 3)


def test_checkpoint_is_replaced_whole_and_survives_a_crash_between_renames(tmp_path):
    store = JobStore(tmp_path / "job")
    store.start({"agent": "random"})
    agent = RandomAgent(make_spec("MinAtar-Breakout"), seed=0)
    store.save_checkpoint(agent, JobProgress(step=10, eval_rows=4))
    agent.steps_done = 20
    store.save_checkpoint(agent, JobProgress(step=20, eval_rows=8))
    assert store.checkpoint_progress() == JobProgress(step=20, eval_rows=8)
    assert json.loads((store.checkpoint / "agent.json").read_text())["steps_done"] == 20
    # A crash after moving the checkpoint aside and before renaming the new one into place.
    store.checkpoint.rename(tmp_path / "job" / "checkpoint.old")
    (tmp_path / "job" / "checkpoint.tmp").mkdir()
    assert store.peek_progress() == JobProgress(step=20, eval_rows=8)
    assert store.checkpoint_progress() == JobProgress(step=20, eval_rows=8)
    assert store.checkpoint.is_dir() and not (tmp_path / "job" / "checkpoint.tmp").exists()


def test_rows_written_after_the_checkpoint_are_dropped_on_rewind(tmp_path):
    store = JobStore(tmp_path / "job")
    store.start({})
    store.append_evals(10, "periodic", [1.0, 2.0])
    progress = JobProgress(step=10, eval_rows=2)
    store.append_evals(20, "periodic", [3.0, 4.0])  # written, then the job was killed before checkpointing
    store.rewind(progress)
    rows = [json.loads(line) for line in store.evals.read_text().splitlines()]
    assert rows == [
        {"step": 10, "kind": "periodic", "episode": 0, "return": 1.0},
        {"step": 10, "kind": "periodic", "episode": 1, "return": 2.0},
    ]


def test_another_protocol_is_refused_naming_the_difference(tmp_path):
    write_protocol(tmp_path, Protocol(env_steps=400))
    check_protocol(tmp_path, Protocol(env_steps=400))
    with pytest.raises(ConfigError, match=r"another protocol.*env_steps 400 here vs 500 now"):
        check_protocol(tmp_path, Protocol(env_steps=500))
    recorded = json.loads((tmp_path / "protocol.json").read_text())
    assert recorded == {"hash": Protocol(env_steps=400).hash(), "protocol": Protocol(env_steps=400).to_json()}


def test_a_save_killed_while_removing_the_previous_checkpoint_leaves_the_next_save_working(tmp_path):
    store = JobStore(tmp_path / "job")
    store.start({})
    agent = RandomAgent(make_spec("MinAtar-Breakout"), seed=0)
    store.save_checkpoint(agent, JobProgress(step=10))
    leftover = tmp_path / "job" / "checkpoint.old"
    leftover.mkdir()
    (leftover / "agent.json").write_text("{}")  # the old checkpoint, half removed when the job was killed
    assert store.peek_progress() == JobProgress(step=10)
    store.save_checkpoint(agent, JobProgress(step=20))
    assert store.checkpoint_progress() == JobProgress(step=20) and not leftover.exists()
