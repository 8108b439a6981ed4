"""Hostile and faulty inputs: each builds the bad input itself and asserts one line, no data loss, nothing unchecked.

One test per failure cause of the robustness review (docs/reliability.md maps each guarantee to
its test), then the weak points.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from data_synthetic import isolated_data_root, random_episodes, tagged_episode, write_synthetic  # noqa: F401

from xtra_bench import agents
from xtra_bench.agents import AgentRegistry, RandomAgent
from xtra_bench.cli import main
from xtra_bench.data import ChecksumError, Dataset, DatasetError, read_targets, write_targets
from xtra_bench.data.download import download, parse_hf_url
from xtra_bench.data.integrity import atomic_write_bytes, file_sha256, sidecar_path
from xtra_bench.data.publish import publish
from xtra_bench.data.registry import ENTRY_FILE, Registry, dataset_dir
from xtra_bench.data.trust import admit
from xtra_bench.errors import XtraBenchError
from xtra_bench.protocol import Protocol
from xtra_bench.runner.store import JobStore, results_lock
from report_trees import write_job, write_protocol

CUSTOM = ["--agent", "random", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout"]


def cli(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def one_line(result, *fragments: str) -> str:
    """Asserts a refused command printed one 'Error: ...' line holding every fragment, and no traceback."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def writable_copy(path: Path, to: Path) -> Path:
    shutil.copyfile(path, to)
    to.chmod(0o644)
    return to


def reseal(path: Path) -> None:
    """Writes a sidecar that matches the file as it is now (the hostile edit is 'checksummed')."""
    sidecar_path(path).unlink(missing_ok=True)
    sidecar_path(path).write_text(f"{file_sha256(path)}  {path.name}\n")


@pytest.fixture
def good(tmp_path) -> Path:
    return write_synthetic(tmp_path / "good.hdf5", random_episodes(seed=3, count=3))


def edited(good: Path, tmp_path: Path, name: str, edit) -> Path:
    """A resealed copy of ``good`` changed by ``edit(h5)``."""
    path = writable_copy(good, tmp_path / name)
    with h5py.File(path, "r+") as h5:
        edit(h5)
    reseal(path)
    return path


def manifest_with(tmp_path: Path, datasets) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"manifest_version": 1, "datasets": datasets}))
    return path


def a_manifest_entry(source: Path, **file_fields) -> dict:
    record = {"path": "d.hdf5", "url": source.as_uri(), "sha256": file_sha256(source), "bytes": source.stat().st_size, "kind": "dataset"}
    return {"id": "test/Synthetic/random-v1", "game": "MinAtar-Breakout", "files": [{**record, **file_fields}]}


# ---- 1. one line, never a traceback -----------------------------------------------------------
def _text_version(h5):
    h5.attrs["format_version"] = "one"


def _no_teacher(h5):
    del h5.attrs["teacher_id"]


def _no_policy(h5):
    del h5["policy"]


@pytest.mark.parametrize(
    "edit, fragment", [(_text_version, "'format_version' must be int")], ids=["format-version-as-text"]
)
def test_1_a_dataset_attribute_of_the_wrong_type_is_one_line(good, tmp_path, edit, fragment):
    one_line(cli("datasets", "verify", edited(good, tmp_path, "bad.hdf5", edit)), fragment)


def test_1_a_sidecar_of_binary_bytes_is_one_line_saying_so(good, tmp_path):
    bad = writable_copy(good, tmp_path / "bin.hdf5")
    sidecar_path(bad).write_bytes(b"\xff\xfe\x00binary")
    one_line(cli("datasets", "verify", bad), "is not a sha256 line")


@pytest.mark.parametrize("edit, fragment", [(_no_teacher, "lacks teacher_id"), (_no_policy, "lacks policy")], ids=["no-teacher-id", "no-policy"])
def test_1_an_incomplete_targets_file_is_one_line(good, tmp_path, edit, fragment):
    dataset = Dataset(good)
    n, a = dataset.header.num_rows, dataset.num_actions
    targets = write_targets(tmp_path / "t.hdf5", dataset, teacher_id="t", policy=np.full((n, a), 1 / a), root_value=np.zeros(n), checkpoint_sha256="0" * 64, search={})
    targets.chmod(0o644)
    with h5py.File(targets, "r+") as h5:
        edit(h5)
    reseal(targets)
    one_line(cli("datasets", "verify", good, "--targets", targets), fragment)


@pytest.mark.parametrize(
    "datasets, fragment",
    [
        pytest.param({"a": 1}, "'datasets' must be a list", id="datasets-an-object"),
        pytest.param(["xtra/Pong/x-v1"], "must be a JSON object", id="entry-a-string"),
        pytest.param([{"id": 7}], "'id' must be a JSON str", id="id-an-int"),
        pytest.param("bytes", "'bytes' must be a JSON integer", id="bytes-a-string"),
    ],
)
def test_1_a_malformed_manifest_is_one_line(good, tmp_path, monkeypatch, datasets, fragment):
    if datasets == "bytes":
        datasets = [a_manifest_entry(good, bytes="37000")]
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(manifest_with(tmp_path, datasets)))
    one_line(cli("datasets", "list"), fragment)


def test_1_environment_paths_of_the_wrong_kind_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(tmp_path))
    one_line(cli("datasets", "list"), "cannot read the manifest")
    monkeypatch.delenv("XTRA_BENCH_REGISTRY")
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("XTRA_BENCH_DATA", str(tmp_path / "a-file"))
    one_line(cli("datasets", "delete", "test/Synthetic/random-v1", "--yes"), "is not a directory")


def test_1_deleting_a_symlinked_cache_entry_removes_the_link_only(tmp_path, isolated_data_root):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.hdf5").write_text("data")
    link = dataset_dir("test/Synthetic/random-v1")
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere)
    result = cli("datasets", "delete", "test/Synthetic/random-v1", "--yes")
    assert result.exit_code == 0, result.output
    assert not link.exists() and (elsewhere / "keep.hdf5").read_text() == "data"


def test_1_an_out_that_cannot_be_written_is_one_line(tmp_path, good):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_line(cli("collect", "--game", "MinAtar-Breakout", "--episodes", "1", "--out", blocker / "d.hdf5", "--no-progress"), str(blocker))
    one_line(cli("collect", "--game", "MinAtar-Breakout", "--episodes", "1", "--out", tmp_path, "--force", "--no-progress"), "is a directory")
    runs = tmp_path / "runs"
    write_protocol(runs)
    write_job(runs, "random", "Assault", 0, [1.0, 2.0])
    one_line(cli("report", runs, "--out", blocker / "report", "--reps", "10"), str(blocker))
    one_line(cli("run", *CUSTOM, "--out", blocker / "runs", "--no-progress"), str(blocker))


def test_1_a_corrupt_checkpoint_is_one_line(tmp_path):
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "agent.json").write_text('{"agent": "random", "game": ')
    one_line(cli("collect", "--game", "MinAtar-Breakout", "--episodes", "1", "--policy", checkpoint, "--out", tmp_path / "d.hdf5", "--no-progress"), "agent.json is not valid JSON")


def test_1_damaged_results_trees_are_one_line(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "protocol.json").write_text("[1, 2]")
    one_line(cli("run", *CUSTOM, "--out", runs, "--dry-run"), "holds a JSON list")
    one_line(cli("report", runs, "--out", tmp_path / "r"), "is not a JSON object")

    runs = tmp_path / "runs2"
    write_protocol(runs)
    job = write_job(runs, "random", "Assault", 0, [1.0])
    (job / "evals.jsonl").write_text("[1, 2]\n")
    one_line(cli("report", runs, "--out", tmp_path / "r"), "evals.jsonl:1 is not a JSON object")


def test_1_a_damaged_job_progress_and_a_done_job_without_config(tmp_path):
    out = tmp_path / "runs"
    protocol = Protocol(env_steps=4, eval_episodes=1, periodic_eval_episodes=1, eval_interval=4)
    write_protocol(out, protocol)
    store = JobStore(out / "jobs" / "random" / "MinAtar-Breakout" / "seed-0")
    config = {"agent": "random", "target": "MinAtar-Breakout", "seed": 0, "split": "custom", "pretrain": ["MinAtar-Asterix"],
              "preset": "paper", "env_steps": 4, "eval_episodes": 1, "protocol_hash": protocol.hash(), "stage1": None}  # fmt: skip
    store.start(config)
    (store.checkpoint).mkdir()
    (store.checkpoint / "job_progress.json").write_text(json.dumps({"step": 4, "surprise": 1}))
    args = [*CUSTOM, "--seeds", "0", "--env-steps", 4, "--eval-interval", 4, "--eval-episodes", 1, "--periodic-eval-episodes", 1]
    one_line(cli("run", *args, "--out", out, "--resume", "--dry-run"), "job_progress.json is damaged (key(s) surprise)")

    runs = tmp_path / "tree"
    write_protocol(runs)
    write_job(runs, "random", "Assault", 0, [1.0])
    orphan = write_job(runs, "random", "Assault", 1, [2.0])
    (orphan / "config.json").unlink()
    result = cli("report", runs, "--out", tmp_path / "r", "--reps", "10")
    assert result.exit_code == 0, result.output


def test_1_nan_cpus_are_refused_also_in_a_dry_run(tmp_path):
    one_line(cli("run", *CUSTOM, "--cpus-per-job", "nan", "--dry-run", "--out", tmp_path / "runs"), "--cpus-per-job must be in")


def test_1_an_unexpected_error_is_one_line_naming_the_input_and_the_log(tmp_path, monkeypatch, good):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("xtra_bench.data.store.verify", broken)
    line = one_line(cli("datasets", "verify", good), "internal error", str(good), "ZeroDivisionError: a bug")
    log = Path(line.split("full traceback in ")[1].rstrip(")"))
    assert log.is_relative_to(tmp_path / "state") and "Traceback" in log.read_text() and str(good) in log.read_text()


# ---- 2. memory bombs ---------------------------------------------------------------------------
def test_2_a_small_file_declaring_a_trillion_rows_is_refused_without_allocating(good, tmp_path):
    bomb = tmp_path / "bomb.hdf5"
    rows = 10**12
    with h5py.File(good) as src, h5py.File(bomb, "w") as h5:
        h5.attrs.update(dict(src.attrs))
        h5.attrs.update({"num_rows": rows, "num_steps": rows - 1, "num_episodes": 1})
        for name in src:
            shape = (rows, *src[name].shape[1:])
            h5.create_dataset(name, shape=shape, dtype=src[name].dtype, chunks=(1 << 16, *shape[1:]), compression="gzip")
    assert bomb.stat().st_size < 100_000
    reseal(bomb)
    started = time.monotonic()
    one_line(cli("datasets", "verify", bomb), "declares", "stores 0 bytes")
    assert time.monotonic() - started < 10


def test_2_huge_seed_ranges_are_refused_before_expanding(tmp_path):
    started = time.monotonic()
    one_line(cli("run", *CUSTOM, "--seeds", "0-99999999", "--dry-run", "--out", tmp_path / "runs"), "more than 1000")
    assert time.monotonic() - started < 10


# ---- 3. downloads stop at the manifest's size --------------------------------------------------
class _Zeros(http.server.BaseHTTPRequestHandler):
    """Streams zeros without end (no Content-Length), as a hostile server would."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        block = bytes(1 << 16)
        try:
            while not self.server.stop.is_set():
                self.wfile.write(block)
        except OSError:
            pass


def test_3_a_server_streaming_without_end_is_cut_at_the_manifests_size(good, tmp_path, isolated_data_root):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Zeros)
    server.stop = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        entry = a_manifest_entry(good, url=f"http://127.0.0.1:{server.server_address[1]}/d.hdf5")
        registry = Registry.load(manifest_with(tmp_path, [entry]))
        with pytest.raises(DatasetError, match="sent more than the manifest's"):
            download("test/Synthetic/random-v1", registry=registry)
    finally:
        server.stop.set()
        server.shutdown()
    directory = dataset_dir("test/Synthetic/random-v1")
    assert not any(p.stat().st_size > entry["files"][0]["bytes"] for p in directory.rglob("*") if p.is_file())
    with pytest.raises(DatasetError, match="positive size"):
        Registry.load(manifest_with(tmp_path, [a_manifest_entry(good, bytes=-5)]))


# ---- 4. data outside the checksummed file ------------------------------------------------------
def _external_link(h5, other):
    del h5["reward"]
    h5["reward"] = h5py.ExternalLink(str(other), "reward")


def _virtual(h5, other):
    n = h5["reward"].shape[0]
    layout = h5py.VirtualLayout(shape=(n,), dtype=np.float32)
    layout[:] = h5py.VirtualSource(str(other), "reward", shape=(n,))
    del h5["reward"]
    h5.create_virtual_dataset("reward", layout)


def _external_raw(h5, other):
    n = h5["reward"].shape[0]
    raw = Path(str(other) + ".raw")
    raw.write_bytes(np.zeros(n, np.float32).tobytes())
    del h5["reward"]
    h5.create_dataset("reward", shape=(n,), dtype=np.float32, external=[(str(raw), 0, 4 * n)])


@pytest.mark.parametrize("edit, fragment", [(_external_link, "external link"), (_virtual, "virtual dataset"), (_external_raw, "external file")],
                         ids=["external-link", "virtual-dataset", "external-storage"])  # fmt: skip
def test_4_data_read_from_another_file_is_refused_by_verify_open_and_publish(good, tmp_path, edit, fragment):
    other = writable_copy(good, tmp_path / "other.h5")
    directory = tmp_path / "mirror"
    directory.mkdir()
    bad = edited(good, directory, "bad.hdf5", lambda h5: edit(h5, other))
    one_line(cli("datasets", "verify", bad), fragment)
    with pytest.raises(DatasetError, match=fragment):
        Dataset(bad)
    with pytest.raises(DatasetError, match=fragment):
        publish(directory, "https://example.org/d")
    other.write_text("not HDF5 at all")  # a link to a non-HDF5 file: still one line, no traceback
    one_line(cli("datasets", "info", bad), fragment)


# ---- 5. teacher policies are checked on read ---------------------------------------------------
@pytest.mark.parametrize("value, fragment", [(np.nan, "finite"), (-0.5, "non-negative"), (0.9, "sums to")], ids=["nan", "negative", "not-one"])
def test_5_read_targets_refuses_policies_that_write_targets_refuses(good, tmp_path, value, fragment):
    dataset = Dataset(good)
    n, a = dataset.header.num_rows, dataset.num_actions
    targets = write_targets(tmp_path / "t.hdf5", dataset, teacher_id="t", policy=np.full((n, a), 1 / a), root_value=np.zeros(n), checkpoint_sha256="0" * 64, search={})
    targets.chmod(0o644)
    with h5py.File(targets, "r+") as h5:
        h5["policy"][0] = [value, 0.0, 1.0 - value] if value != 0.9 else [0.3, 0.3, 0.3]
    reseal(targets)
    with pytest.raises(DatasetError, match=fragment):
        read_targets(targets, dataset)


# ---- 6. no manifest file may take the cache's own names ---------------------------------------
@pytest.mark.parametrize("name", [ENTRY_FILE, "d.hdf5.sha256", "d.hdf5.part", ".lock"])
def test_6_a_manifest_file_named_like_the_caches_own_files_is_refused(good, tmp_path, name):
    with pytest.raises(DatasetError, match="the cache keeps for itself"):
        Registry.load(manifest_with(tmp_path, [a_manifest_entry(good, path=name)]))


# ---- 7. report --force replaces only a report --------------------------------------------------
def test_7_report_force_never_deletes_a_results_tree_or_a_folder_around_it(tmp_path):
    runs = tmp_path / "lab" / "runs"
    write_protocol(runs)
    write_job(runs, "random", "Assault", 0, [1.0, 2.0])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for out in (tmp_path / "lab", tmp_path, runs / "jobs"):
        one_line(cli("report", runs, "--out", out, "--reps", "10", "--force"), "not a report folder")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    report = tmp_path / "report"
    assert cli("report", runs, "--out", report, "--reps", "10").exit_code == 0
    assert cli("report", runs, "--out", report, "--reps", "10", "--force").exit_code == 0


# ---- 8. pretraining data is admitted before stage 1 -------------------------------------------
def test_8_admit_refuses_changed_bytes_broken_rows_and_another_games_data(good, tmp_path):
    cache = tmp_path / "verified"
    assert admit(good, "MinAtar-Breakout", file_sha256(good), cache=cache) == file_sha256(good)
    with pytest.raises(ChecksumError, match="corrupted or was changed"):
        admit(good, "MinAtar-Breakout", "0" * 64, cache=cache)
    with pytest.raises(DatasetError, match="holds MinAtar-Breakout data, not MinAtar-Asterix"):
        admit(good, "MinAtar-Asterix", None, cache=cache)
    nan = edited(good, tmp_path, "nan.hdf5", lambda h5: h5["reward"].__setitem__(0, np.nan))
    with pytest.raises(DatasetError, match="a reward is not finite"):
        admit(nan, "MinAtar-Breakout", file_sha256(nan), cache=cache)
    assert [p.name for p in cache.iterdir()] == [f"{file_sha256(good)}.MinAtar-Breakout"]


class _Staged(RandomAgent):
    name = "staged"

    def pretrain(self, datasets, workdir):
        pass


def test_8_run_refuses_a_game_pointed_at_another_games_data(good, tmp_path, monkeypatch):
    registry = AgentRegistry(include_entry_points=False)
    registry.register(_Staged)
    monkeypatch.setattr(agents, "default_registry", lambda: registry)
    shutil.copyfile(good, tmp_path / "MinAtar-Asterix.hdf5")
    template = str(tmp_path / "{game}.hdf5")
    result = cli("run", "--agent", "staged", "--pretrain", "MinAtar-Asterix", "--targets", "MinAtar-Breakout",
                 "--datasets", template, "--dry-run", "--out", tmp_path / "runs")  # fmt: skip
    one_line(result, "holds MinAtar-Breakout data, not MinAtar-Asterix")


# ---- 9. one process per results directory and job; unique temporary names --------------------
def test_9_a_second_run_on_a_locked_results_directory_refuses_with_one_line(tmp_path):
    out = tmp_path / "runs"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from xtra_bench.runner.store import results_lock\n"
         "with results_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        args = [*CUSTOM, "--seeds", "0", "--env-steps", 4, "--eval-interval", 4, "--eval-episodes", 1, "--periodic-eval-episodes", 1]
        one_line(cli("run", *args, "--out", out, "--resume", "--no-progress"), "is in use by another xtra-bench process", f"pid {holder.pid}")
        assert not (out / "jobs").exists()
    finally:
        holder.kill()
        holder.wait()
    with results_lock(out), pytest.raises(XtraBenchError, match="in use"):  # a lock is per open file, not per process
        with JobStore(out / "jobs" / "a").lock(), JobStore(out / "jobs" / "a").lock():
            pass


def test_9_concurrent_atomic_writes_never_share_a_temporary_file(tmp_path):
    target = tmp_path / "state.json"

    def write(k: int) -> None:
        for i in range(30):
            atomic_write_bytes(target, json.dumps({"writer": k, "i": i}).encode())

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(target.read_text())["i"] == 29
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


# ---- weak points ------------------------------------------------------------------------------
def test_weak_messages_name_the_real_problem(good, tmp_path):
    (tmp_path / "dir.hdf5").mkdir()
    one_line(cli("datasets", "verify", tmp_path / "dir.hdf5"), "is a directory")
    bad = writable_copy(good, tmp_path / "hex.hdf5")
    sidecar_path(bad).write_text("z" * 64 + "  hex.hdf5\n")
    assert "corrupted" not in one_line(cli("datasets", "verify", bad), "is not a sha256 line")


@pytest.mark.parametrize(
    "attrs, fragment",
    [({"game": "Tetris"}, "not in the game catalog"), ({"action_set": np.array([0, 1, 2], np.int64)}, "are not MinAtar-Breakout's")],
    ids=["unknown-game", "another-action-set"],
)
def test_weak_verify_checks_the_header_against_the_catalog(good, tmp_path, attrs, fragment):
    one_line(cli("datasets", "verify", edited(good, tmp_path, "x.hdf5", lambda h5: h5.attrs.update(attrs))), fragment)


def test_weak_a_dataset_with_an_action_outside_its_action_set_does_not_open(tmp_path):
    path = write_synthetic(tmp_path / "a.hdf5", [tagged_episode(1, [0.0, 1.0])])
    bad = edited(path, tmp_path, "b.hdf5", lambda h5: h5["action"].__setitem__(0, 7))
    with pytest.raises(DatasetError, match="an action is outside the action set"):
        Dataset(bad)


def test_weak_hf_paths_with_dot_dot_and_unsafe_base_urls_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="'..' parts are refused"):
        parse_hf_url("hf://lab/data@main/../../etc/passwd")
    (tmp_path / "d").mkdir()
    one_line(cli("datasets", "publish", tmp_path / "d", "--base-url", "javascript:alert(1)"), "--base-url")


def test_weak_download_and_list_rehash_instead_of_trusting_the_sidecar(good, tmp_path, monkeypatch, isolated_data_root):
    manifest = manifest_with(tmp_path, [a_manifest_entry(good)])
    monkeypatch.setenv("XTRA_BENCH_REGISTRY", str(manifest))
    cached = download("test/Synthetic/random-v1")
    cached.chmod(0o644)
    data = bytearray(cached.read_bytes())
    data[-1] ^= 1  # same size, sidecar untouched
    cached.write_bytes(bytes(data))
    assert json.loads(cli("datasets", "list", "--json").output)[0]["cached"] is False
    with pytest.raises(ChecksumError, match="differs from the manifest"):
        download("test/Synthetic/random-v1")


def test_weak_checkpoint_of_pickled_objects_is_refused_without_suggesting_unsafe_loading(tmp_path):
    import torch

    class Pickled(RandomAgent):
        name = "pickled"

        @classmethod
        def load(cls, path, *, device="cpu"):
            return torch.load(Path(path) / "state.pt", weights_only=True)

    registry = AgentRegistry(include_entry_points=False)
    registry.register(Pickled)
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "agent.json").write_text('{"agent": "pickled"}')
    torch.save({"obj": Protocol()}, checkpoint / "state.pt")
    with pytest.raises(XtraBenchError, match="more than plain weights") as info:
        registry.load_checkpoint(checkpoint)
    assert "weights_only" not in str(info.value)


def test_weak_done_without_evaluations_is_resumed_and_repeated_agents_and_nan_returns_refused(tmp_path):
    runs = tmp_path / "runs"
    write_protocol(runs)
    job = write_job(runs, "random", "Assault", 0, [1.0])
    assert JobStore(job).is_done
    (job / "evals.jsonl").write_text("")
    assert not JobStore(job).is_done
    one_line(cli("run", "--agent", "random,random", *CUSTOM[2:], "--dry-run", "--out", tmp_path / "r"), "--agent random given twice")
    write_job(runs, "random", "Assault", 1, [float("nan")])
    one_line(cli("report", runs, "--out", tmp_path / "report", "--reps", "10"), "not a finite number")
