"""Streaming sampler at paper scale: synthetic Atari-like datasets, batches/s and resident memory.

``make`` writes synthetic datasets of paper size (default 1.2M steps per game, 96x96x3 frames) in
the dataset format with the real writer's chunking and filter (``Compression()``: gzip-4, chunks
of 16 frames; ``--chunk-frames`` and ``--level`` write others), chunks compressed on every core. Frames look like Atari screens to the
compressor: a static playfield per game (bands, a brick or maze pattern, a score bar) and a few
sprites moving and bouncing, so gzip-4 keeps ~1-4% of the raw bytes like real Breakout and
MsPacman. Episodes have random lengths, rewards, life losses and endings. The files are
benchmark inputs only: never commit them (delete them with ``clean``).

``run`` samples batches as training does and prints batches/s, peak resident memory, the cache's
hit rate and the CPU used per wall second:

- ``student``: XTRA's student (``OfflineTasks``): one ``StreamingSampler`` per game sharing one chunk
  cache, 256 rows split evenly across the games, 4 stacked + 5 unrolled frames, uniform draws,
  next batch prefetched in the background.
- ``window14``: the same with 256 windows of 14 consecutive frames (4 stacked + 10 unrolled), the
  access pattern of 4 stacked + 5 unrolled + 5 bootstrap frames.
- ``teacher``: an EfficientZero teacher's ``DatasetReplay`` on one game (4 + 5 + 5 frames),
  priorities rewritten after every batch as the update loop does (so nothing is drawn ahead).
- ``memory``: the ceiling: a numpy gather of 256 x 14 frames from frames already in memory
  (``--memory-rows`` of them).

``sizes`` rewrites the frames of real dataset files (the bundled samples) in memory with other
chunk sizes and gzip levels and prints each file's size as a share of the raw frames.

``compare`` runs several ``run`` configurations in turn, round after round, each in a process of
its own (so peak memory is its own), and prints the medians over the rounds: interleaving makes the
machine's noise hit every configuration alike.

Usage:
  python benchmarks/streaming.py make --out DATA_DIR --games 2 [--chunk-frames 16 --level 4]
  python benchmarks/streaming.py run --data DATA_DIR --mode student [--cache-gb 2] --seconds 60 --json
  python benchmarks/streaming.py run --data DATA_DIR --mode student --step-ms 100   # a trainer beside it
  python benchmarks/streaming.py compare --rounds 3 --seconds 30 "c16 w14=--data DATA_DIR --mode window14" "old=--code OLD_TREE --data DATA_DIR"
  python benchmarks/streaming.py sizes xtra_bench/datasets/samples/Breakout-random-sample.hdf5   # real frames
  python benchmarks/streaming.py clean --data DATA_DIR
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import datetime
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

from xtra_bench.data.format import COLUMNS, FRAME
from xtra_bench.data.integrity import file_sha256, install
from xtra_bench.data.writer import Compression, DatasetMeta, root_attrs

try:  # the same zlib streams, written faster
    from zlib_ng import zlib_ng as zlib
except ImportError:
    import zlib

FRAME_SHAPE = (96, 96, 3)
GAMES = ("Alien", "Assault", "BattleZone", "Carnival", "Centipede", "DemonAttack", "Phoenix", "SpaceInvaders")


# ---- synthetic data -----------------------------------------------------------------------------
def episode_layout(steps: int, rng: np.random.Generator) -> np.ndarray:
    """Episode lengths (transitions) summing to ``steps``: 300-3,000 steps each, like Atari games."""
    lengths = []
    while sum(lengths) < steps:
        lengths.append(int(rng.integers(300, 3000)))
    lengths[-1] -= sum(lengths) - steps
    if lengths[-1] < 1:
        lengths.pop()
        lengths[-1] += steps - sum(lengths)
    return np.asarray(lengths, np.int64)


def playfield(game_seed: int) -> np.ndarray:
    """A static screen: coloured bands, a brick or maze pattern and a score bar."""
    rng = np.random.default_rng(game_seed)
    screen = np.zeros(FRAME_SHAPE, np.uint8)
    edges = np.sort(rng.choice(np.arange(8, 88), size=4, replace=False))
    for top, bottom in zip([0, *edges], [*edges, 96]):
        screen[top:bottom] = rng.integers(0, 120, size=3)
    if game_seed % 2:  # bricks
        for row in range(20, 44, 4):
            screen[row : row + 3, 4:92] = rng.integers(60, 255, size=3)
            screen[row : row + 3, 4:92:8] = 0
    else:  # a maze of walls
        walls = rng.random((12, 12)) < 0.25
        screen[12:84, 12:84][np.kron(walls, np.ones((6, 6), bool))] = rng.integers(80, 255, size=3)
    screen[0:8] = 20
    return screen


def chunk_frames(rows: np.ndarray, step: np.ndarray, episode: np.ndarray, base: np.ndarray, game_seed: int) -> np.ndarray:
    """Frames of some consecutive rows: the playfield, 5 sprites bouncing, a score that changes."""
    frames = np.broadcast_to(base, (len(rows), *FRAME_SHAPE)).copy()
    for s in range(5):
        # Start and speed per (game, episode, sprite); positions bounce between the walls.
        key = (game_seed * 1_000_003 + episode.astype(np.int64) * 101 + s * 7919) % (2**31)
        start_y = key * 40503 % 80
        start_x = key * 9973 % 80
        vy = 1 + (key >> 3) % 3
        vx = 1 + (key >> 5) % 3
        y = np.abs((start_y + vy * step) % 160 - 80) + 8
        x = np.abs((start_x + vx * step) % 172 - 86) + 2
        colour = np.array([255 - 40 * s, 80 + 30 * s, 50 * s % 255], np.uint8)
        size = 4 + s
        for i in range(len(rows)):
            frames[i, y[i] : y[i] + size, x[i] : x[i] + size] = colour
    score = (step // 97) % 1000
    for i in range(len(rows)):
        digits = f"{score[i]:03d}"
        for d, ch in enumerate(digits):
            frames[i, 1:7, 40 + 6 * d : 44 + 6 * d] = 255 if int(ch) % 2 else 180
            frames[i, 3:5, 41 + 6 * d : 43 + 6 * d] = int(ch) * 25
    return frames


def make_game(path: Path, game: str, game_seed: int, steps: int, threads: int, compression: Compression) -> dict:
    import h5py

    rng = np.random.default_rng(game_seed)
    lengths = episode_layout(steps, rng)
    rows_per_episode = lengths + 1
    n, num_episodes = int(rows_per_episode.sum()), len(lengths)
    episode = np.repeat(np.arange(num_episodes), rows_per_episode)
    step = np.arange(n) - np.repeat(np.cumsum(rows_per_episode) - rows_per_episode, rows_per_episode)
    is_last = np.zeros(n, bool)
    is_last[np.cumsum(rows_per_episode) - 1] = True
    is_first = np.concatenate([[True], is_last[:-1]])
    num_actions = 18
    action = np.where(is_last, -1, rng.integers(0, num_actions, size=n)).astype(np.int16)
    reward = np.where(is_last, 0, rng.choice([0, 0, 0, 0, 0, 0, 10, 20, 50], size=n)).astype(np.float32)
    life_loss = (~is_first) & (rng.random(n) < 1 / 400)
    is_terminal = is_last & (rng.random(n) < 0.9)
    columns = {
        "action": action,
        "reward": reward,
        "is_first": is_first,
        "is_last": is_last,
        "is_terminal": is_terminal,
        "life_loss": life_loss,
        "episode": episode.astype(np.int32),
        "policy_id": np.where(is_last, -1, episode % 10).astype(np.int16),
    }
    meta = DatasetMeta(
        dataset_id=f"synthetic/{game}/paper-size-v1",
        game=game,
        suite="atari",
        frame_shape=FRAME_SHAPE,
        action_set=tuple(range(num_actions)),
        env_settings={"synthetic": True, "ale_py_version": "synthetic", "rom_md5": "synthetic"},
        collector={"policies": [{"id": i, "agent": "synthetic"} for i in range(10)], "script": "benchmarks/streaming.py"},
        description="Synthetic Atari-like frames for benchmarks/streaming.py; not a real game.",
    )
    base = playfield(game_seed)
    tmp = path.with_name(path.name + ".tmp")
    start = time.perf_counter()
    with h5py.File(tmp, "w") as h5:
        for name, dtype in COLUMNS.items():
            shape = (n, *FRAME_SHAPE) if name == FRAME else (n,)
            kwargs = compression.dataset_kwargs(shape, dtype)
            if name == FRAME:
                frames_dset = h5.create_dataset(name, shape=shape, dtype=dtype, **kwargs)
                chunk_rows = kwargs["chunks"][0]
            else:
                h5.create_dataset(name, data=columns[name], **kwargs)

        def compressed(c: int) -> bytes:
            lo, hi = c * chunk_rows, min(n, (c + 1) * chunk_rows)
            rows = np.arange(lo, hi)
            block = np.zeros((chunk_rows, *FRAME_SHAPE), np.uint8)  # HDF5 stores edge chunks whole
            block[: hi - lo] = chunk_frames(rows, step[lo:hi], episode[lo:hi], base, game_seed)
            return zlib.compress(block.tobytes(), compression.level)

        num_chunks = -(-n // chunk_rows)
        raw_total = 0
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            pending: collections.deque = collections.deque()
            for c in range(num_chunks + 4 * threads):
                if c < num_chunks:
                    pending.append((c, pool.submit(compressed, c)))
                if len(pending) > 4 * threads or (c >= num_chunks and pending):
                    done, future = pending.popleft()
                    data = future.result()
                    frames_dset.id.write_direct_chunk((done * chunk_rows, 0, 0, 0), data)
                    raw_total += len(data)
        counts = {"num_episodes": num_episodes, "num_steps": n - num_episodes, "num_rows": n}
        h5.attrs.update(root_attrs(meta, compression, meta.collector, counts))
    install(tmp, path, file_sha256(tmp))
    seconds = time.perf_counter() - start
    raw_bytes = n * int(np.prod(FRAME_SHAPE))
    return {
        "game": game,
        "path": str(path),
        "steps": n - num_episodes,
        "episodes": num_episodes,
        "frame_gb_raw": raw_bytes / 1e9,
        "file_gb": path.stat().st_size / 1e9,
        "compressed_share": raw_total / raw_bytes,
        "chunk_frames": chunk_rows,
        "level": compression.level,
        "write_s": seconds,
    }


# ---- measuring ----------------------------------------------------------------------------------
def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_student(paths: list[Path], unroll: int, cache_bytes: int | None, workers: int, seconds: float, prefetch: bool) -> dict:
    from xtra_bench.data import Dataset, SamplerConfig
    from xtra_bench.data.streaming import ChunkCache, StreamingSampler

    cache = ChunkCache(cache_bytes, workers)
    shares = [256 // len(paths) + (i < 256 % len(paths)) for i in range(len(paths))]
    samplers = [
        StreamingSampler(Dataset(p), SamplerConfig(batch_size=share, frame_stack=4, unroll_steps=unroll, n_step=5, seed=i), cache=cache, prefetch=prefetch)
        for i, (p, share) in enumerate(zip(paths, shares))
    ]
    frames_per_batch = 256 * (4 + unroll)

    def one_batch():
        return sum(s.sample().frames.shape[0] for s in samplers)

    return measure(one_batch, seconds, cache, frames_per_batch)


def run_teacher(path: Path, cache_bytes: int | None, workers: int, seconds: float) -> dict:
    from baselines.efficientzero.offline import DatasetReplay
    from xtra_bench.data import Dataset
    from xtra_bench.data.streaming import ChunkCache

    cache = ChunkCache(cache_bytes, workers)
    dataset = Dataset(path)
    layout = dict(frame_stack=4, num_unroll=5, td_steps=5, td_age_interval=10_000, min_td_steps=1, alpha=0.6, seed=0)
    replay = DatasetReplay(dataset, np.arange(18), 18, clip_rewards=True, life_loss_terminal=True, frames="stream", cache=cache, **layout)
    rng = np.random.default_rng(0)

    def one_batch():
        sample = replay.sample(256, 0.4, 0)
        replay.update_priorities(sample.rows, rng.random(256) + 0.1)
        return sample.frames.shape[0]

    return measure(one_batch, seconds, cache, 256 * 14)


def run_memory(path: Path, rows: int, seconds: float) -> dict:
    import h5py

    with h5py.File(path) as h5:
        frames = h5[FRAME][:rows]
    rng = np.random.default_rng(0)

    def one_batch():
        start = rng.integers(0, rows - 14, size=256)
        return frames[start[:, None] + np.arange(14)].shape[0]

    return measure(one_batch, seconds, None, 256 * 14)


STEP_S = 0.0
"""``--step-ms``: seconds a stand-in trainer sleeps after each batch (a GPU update the host waits for)."""
WARMUP_S = 0.0
"""``--warmup-s``: seconds sampled before measuring, so a chunk cache is full (its steady state) when timing starts."""


def page_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(one_batch, seconds: float, cache, frames_per_batch: int) -> dict:
    warmup_end = time.perf_counter() + WARMUP_S
    one_batch()  # warm-up: opens files, starts threads
    while time.perf_counter() < warmup_end:
        one_batch()
    batches, start, cpu0, waited, faults0 = 0, time.perf_counter(), time.process_time(), 0.0, page_faults()
    misses0 = cache.misses if cache is not None else 0
    hits0 = cache.hits if cache is not None else 0
    while time.perf_counter() - start < seconds:
        asked = time.perf_counter()
        one_batch()
        waited += time.perf_counter() - asked
        batches += 1
        if STEP_S:
            time.sleep(STEP_S)
    wall, cpu, faults = time.perf_counter() - start, time.process_time() - cpu0, page_faults() - faults0
    result = {
        "batches": batches,
        "wall_s": wall,
        "batches_per_s": batches / wall,
        "frames_per_batch": frames_per_batch,
        "frame_mb_per_s": batches * frames_per_batch * int(np.prod(FRAME_SHAPE)) / wall / 1e6,
        "cpu_per_wall": cpu / wall,
        "cpu_s_per_batch": cpu / max(1, batches),
        # Each fault maps a fresh page the kernel zeroes first: memory freed and taken again costs CPU.
        "page_faults_per_batch": faults / max(1, batches),
        "step_ms": STEP_S * 1e3,
        "warmup_s": WARMUP_S,
        "data_wait_ms_per_batch": waited / max(1, batches) * 1e3,
        "rss_gb": rss_bytes() / 1e9,
        "peak_rss_gb": peak_rss_bytes() / 1e9,
    }
    if cache is not None:
        hits, misses = cache.hits - hits0, cache.misses - misses0
        result.update(
            cache_gb=cache.max_bytes / 1e9,
            workers=cache.workers,
            chunk_hit_rate=hits / max(1, hits + misses),
            chunks_inflated_per_batch=misses / max(1, batches),
        )
    return result


def machine() -> dict:
    return {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "load_avg": os.getloadavg(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


@click.group()
def main() -> None:
    """Paper-size synthetic datasets and the streaming sampler's speed and memory on them."""


@main.command("make")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Directory for the synthetic files.")
@click.option("--games", default=2, show_default=True, help="Games to write (each ~1 GB on disk).")
@click.option("--steps", default=1_200_000, show_default=True, help="Transitions per game.")
@click.option("--threads", default=os.cpu_count() or 1, show_default=True, help="Compression threads.")
@click.option("--chunk-frames", type=int, help="Frames per chunk [default: the writer's].")
@click.option("--level", type=click.IntRange(1, 9), help="gzip level [default: the writer's].")
def make_command(out: Path, games: int, steps: int, threads: int, chunk_frames: int | None, level: int | None) -> None:
    """Write synthetic paper-size datasets (skips games already written)."""
    compression = Compression()
    if chunk_frames or level:  # another setting than the writer's, to measure what it would change
        compression = dataclasses.replace(
            compression,
            chunk_bytes=chunk_frames * int(np.prod(FRAME_SHAPE)) if chunk_frames else compression.chunk_bytes,
            level=level or compression.level,
            reason="benchmarks/streaming.py make --chunk-frames/--level",
        )
    out.mkdir(parents=True, exist_ok=True)
    for i, game in enumerate(GAMES[:games]):
        path = out / f"{game}.hdf5"
        if path.exists():
            click.echo(f"{path} exists, skipped")
            continue
        click.echo(json.dumps(make_game(path, game, i + 1, steps, threads, compression)), nl=True)


@main.command("run")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--mode", type=click.Choice(["student", "window14", "teacher", "memory"]), default="student", show_default=True)
@click.option("--games", type=int, help="Use the first N files (default: all; teacher: the first).")
@click.option("--cache-gb", type=float, help="Chunk cache size [default: the library's, $XTRA_BENCH_CACHE_BYTES or none].")
@click.option("--workers", type=int, default=os.cpu_count() or 1, show_default=True, help="Chunk threads.")
@click.option("--seconds", default=60.0, show_default=True, help="How long to sample.")
@click.option("--no-prefetch", is_flag=True, help="Do not draw the next batch ahead.")
@click.option("--memory-rows", default=100_000, show_default=True, help="Frames loaded for --mode memory.")
@click.option("--step-ms", default=0.0, show_default=True, help="A stand-in trainer sleeps this long after each batch (prefetch then works beside it).")
@click.option("--warmup-s", default=0.0, show_default=True, help="Sample this long before measuring (fills the chunk cache).")
@click.option("--json", "as_json", is_flag=True)
def run_command(
    data: Path, mode: str, games: int | None, cache_gb: float | None, workers: int, seconds: float, no_prefetch: bool, memory_rows: int, step_ms: float, warmup_s: float, as_json: bool
) -> None:
    """Sample for --seconds and print batches/s, resident memory and the cache's hit rate."""
    global STEP_S, WARMUP_S
    STEP_S, WARMUP_S = step_ms / 1e3, warmup_s
    paths = sorted(data.glob("*.hdf5"))[: games or None]
    if not paths:
        raise click.UsageError(f"no .hdf5 file in {data}; run `make` first")
    cache_bytes = None if cache_gb is None else int(cache_gb * 1e9)
    if mode == "student":
        result = run_student(paths, 5, cache_bytes, workers, seconds, not no_prefetch)
    elif mode == "window14":
        result = run_student(paths, 10, cache_bytes, workers, seconds, not no_prefetch)
    elif mode == "teacher":
        result = run_teacher(paths[0], cache_bytes, workers, seconds)
    else:
        result = run_memory(paths[0], memory_rows, seconds)
    result = {"mode": mode, "games": len(paths) if mode in ("student", "window14") else 1, "prefetch": not no_prefetch, **result, **machine()}
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            click.echo(f"{key:<26}{value:.3f}" if isinstance(value, float) else f"{key:<26}{value}")


COMPARED = ("batches_per_s", "cpu_s_per_batch", "page_faults_per_batch", "peak_rss_gb", "chunk_hit_rate", "chunks_inflated_per_batch")


def run_once(args: list[str], code: str | None) -> dict:
    """One ``run`` in a fresh process; ``code`` is a checkout whose ``xtra_bench`` it imports (default: this one's)."""
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(code).resolve()), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([sys.executable, __file__, "run", *args, "--json"], env=env, capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"run {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


@main.command("compare")
@click.argument("configs", nargs=-1, required=True)
@click.option("--rounds", default=3, show_default=True, help="Runs of every configuration, interleaved.")
@click.option("--seconds", default=30.0, show_default=True, help="How long each run samples.")
@click.option("--warmup-s", default=5.0, show_default=True, help="Sampling before each run's measurement.")
@click.option("--json", "as_json", is_flag=True, help="Print every run, not only the medians.")
def compare_command(configs: tuple[str, ...], rounds: int, seconds: float, warmup_s: float, as_json: bool) -> None:
    """Medians of interleaved runs; each CONFIG is "LABEL=run options", plus "--code DIR" for another checkout's library."""
    plans = []
    for config in configs:
        label, sep, options = config.partition("=")
        if not sep:
            raise click.UsageError(f"{config!r} is not LABEL=OPTIONS")
        args, code = shlex.split(options), None
        if "--code" in args:
            at = args.index("--code")
            code = args[at + 1]
            del args[at : at + 2]
        plans.append((label.strip(), [*args, "--seconds", str(seconds), "--warmup-s", str(warmup_s)], code))
    results: dict[str, list[dict]] = {label: [] for label, _, _ in plans}
    for r in range(rounds):
        for label, args, code in plans:
            result = run_once(args, code)
            results[label].append(result)
            click.echo(f"round {r + 1}/{rounds} {label}: {result['batches_per_s']:.1f} batches/s, load {result['load_avg'][0]:.1f}", err=True)
    medians = {label: {key: float(np.median([run[key] for run in runs])) for key in COMPARED if key in runs[0]} for label, runs in results.items()}
    if as_json:
        click.echo(json.dumps({"medians": medians, "runs": results, **machine()}, indent=1))
        return
    click.echo("| configuration | " + " | ".join(COMPARED) + " |")
    click.echo("|---" * (len(COMPARED) + 1) + "|")
    for label, values in medians.items():
        click.echo(f"| {label} | " + " | ".join(f"{values[key]:.4g}" if key in values else "-" for key in COMPARED) + " |")


@main.command("sizes")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--chunk-frames", default="4,8,16,37", show_default=True, help="Chunk sizes to compare, in frames.")
@click.option("--filters", default="gzip-1,gzip-4,lzf", show_default=True, help="Filters to compare: gzip-LEVEL or lzf.")
def sizes_command(files: tuple[Path, ...], chunk_frames: str, filters: str) -> None:
    """Size of real frames (e.g. the bundled samples) rewritten with each chunk size and filter, as a share of raw."""
    import h5py

    for path in files:
        with h5py.File(path) as h5:
            frames = h5[FRAME][:]
        for name in filters.split(","):
            kind, _, level = name.partition("-")
            for rows in (int(v) for v in chunk_frames.split(",")):
                compression = Compression(filter=kind, level=int(level or 4), chunk_bytes=rows * frames[0].nbytes)
                # An in-memory HDF5 file: the writer's filter and chunking, nothing written to disk.
                with h5py.File(f"{path.name}-{name}-{rows}", "w", driver="core", backing_store=False) as h5:
                    dset = h5.create_dataset(FRAME, data=frames, **compression.dataset_kwargs(frames.shape, frames.dtype))
                    stored = dset.id.get_storage_size()
                click.echo(json.dumps({"file": path.name, "frames": len(frames), "filter": name, "chunk_frames": rows, "share_of_raw": round(stored / frames.nbytes, 5)}))


@main.command("clean")
@click.option("--data", type=click.Path(path_type=Path), required=True)
def clean_command(data: Path) -> None:
    """Delete the synthetic files."""
    if data.exists():
        shutil.rmtree(data)
    click.echo(f"removed {data}")


if __name__ == "__main__":
    main()
