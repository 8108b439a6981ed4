"""Sampler speed and the compression choice of dataset files.

Collects (or takes) an Atari dataset, rewrites it with each lossless filter, and measures for
each: file size relative to the raw arrays, write time, load time (decompressing into memory,
which the sampler does once), batches/s of ``Sampler.sample`` for batch 256 x (4 stacked +
K unrolled) frames, and batches/s of reading the same windows straight from the file with h5py
(the alternative to loading). The sampler is compared with a plain in-memory numpy gather of
the same rows.

Timings are medians over interleaved repeats (the machine's noise hits every contender alike).

Usage: python benchmarks/sampler.py [--dataset PATH | --game Breakout --steps 5000] [--json]
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from xtra_bench.data import Compression, Dataset, DatasetMeta, Sampler, SamplerConfig, write_dataset
from xtra_bench.data.collect import CollectConfig, collect

FILTERS = {
    "none": Compression(filter="none"),
    "gzip-1": Compression(filter="gzip", level=1),
    "gzip-4": Compression(filter="gzip", level=4),
    "gzip-9": Compression(filter="gzip", level=9),
    "lzf": Compression(filter="lzf"),
}


def median_seconds(fns: list, repeats: int) -> list[float]:
    """Median seconds per call of each function, calls interleaved so machine noise hits all alike."""
    times = [[] for _ in fns]
    for _ in range(repeats + 1):  # the first round warms up and is dropped
        for fn, record in zip(fns, times):
            start = time.perf_counter()
            fn()
            record.append(time.perf_counter() - start)
    return [float(np.median(record[1:])) for record in times]


def sampler_speed(dataset: Dataset, unroll: int, repeats: int) -> dict:
    """batches/s of the sampler and of an in-memory gather of the same frame rows."""
    sampler = Sampler(dataset, SamplerConfig(batch_size=256, frame_stack=4, unroll_steps=unroll))
    batch = sampler.sample()
    # The same frame rows as the sampler's windows (first frames repeated at starts, clamped at ends).
    rows = np.clip(batch.rows[:, None] + np.arange(-3, unroll + 1), 0, sampler.num_rows - 1)
    frames = sampler.frames
    sample_s, gather_s = median_seconds([sampler.sample, lambda: frames[rows]], repeats)
    sample_rate, gather_rate = 1 / sample_s, 1 / gather_s
    return {
        "unroll": unroll,
        "frames_per_batch": int(rows.size),
        "batch_mb": round(batch.frames.nbytes / 1e6, 1),
        "sampler_batches_per_s": round(sample_rate, 1),
        "gather_batches_per_s": round(gather_rate, 1),
        "cost_ratio_to_gather": round(gather_rate / sample_rate, 3),
    }


def h5py_window_speed(path: Path, num_rows: int, repeats: int) -> float:
    """batches/s of reading 256 windows of 10 frames directly from the file (no loading)."""
    import h5py

    rng = np.random.default_rng(0)
    with h5py.File(path, "r") as h5:
        frames = h5["frame"]

        def read():
            for start in rng.integers(0, num_rows - 10, size=256):
                frames[start : start + 10]

        return 1 / median_seconds([read], repeats)[0]


def compression_table(source: Dataset, workdir: Path, repeats: int) -> list[dict]:
    meta = DatasetMeta.from_header(source.header)
    episodes = list(source)
    raw_bytes = sum(v.nbytes for v in source.read_columns().values())
    rows = []
    for name, compression in FILTERS.items():
        path = workdir / f"{name}.hdf5"
        start = time.perf_counter()
        write_dataset(path, meta, episodes, compression=compression)
        write_s = time.perf_counter() - start
        dataset = Dataset(path)
        load_s = min(median_seconds([lambda: Sampler(dataset)], 3))
        rows.append(
            {
                "filter": name,
                "size_ratio": round(os.path.getsize(path) / raw_bytes, 4),
                "write_s": round(write_s, 2),
                "load_s": round(load_s, 2),
                "load_mb_per_s": round(raw_bytes / 1e6 / load_s, 1),
                **sampler_speed(dataset, 6, repeats),
                "h5py_direct_batches_per_s": round(h5py_window_speed(path, dataset.header.num_rows, 3), 2),
            }
        )
    return rows


@click.command()
@click.option("--dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Use this file instead of collecting.")
@click.option("--game", default="Breakout", show_default=True)
@click.option("--steps", default=5000, show_default=True, help="Transitions to collect with a random policy.")
@click.option("--repeats", default=20, show_default=True, help="Batches timed per measurement.")
@click.option("--json", "as_json", is_flag=True)
def main(dataset: Path | None, game: str, steps: int, repeats: int, as_json: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if dataset is None:
            dataset = collect(CollectConfig(game=game, steps=steps, envs=2, out=workdir / "source.hdf5", progress=False))
        source = Dataset(dataset)
        result = {
            "dataset": {"game": source.game, "episodes": len(source), "steps": source.total_steps, "frame": list(source.frame_shape)},
            "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(), "numpy": np.__version__},
            "default_compression": dataclasses.asdict(Compression()),
            "sampler": [sampler_speed(source, unroll, repeats) for unroll in (5, 6)],
            "compression": compression_table(source, workdir, repeats),
        }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    d = result["dataset"]
    click.echo(f"dataset: {d['game']}, {d['episodes']} episodes, {d['steps']} steps, frames {d['frame']}")
    for s in result["sampler"]:
        click.echo(
            f"batch 256 x (4 stacked + {s['unroll']} unrolled) = {s['frames_per_batch']} frames ({s['batch_mb']} MB):"
            f" sampler {s['sampler_batches_per_s']} batches/s, in-memory gather {s['gather_batches_per_s']} batches/s,"
            f" cost ratio {s['cost_ratio_to_gather']}"
        )
    click.echo(f"{'filter':<8}{'size':>8}{'write s':>9}{'load s':>8}{'load MB/s':>10}{'sampler b/s':>12}{'h5py direct b/s':>16}")
    for c in result["compression"]:
        click.echo(
            f"{c['filter']:<8}{c['size_ratio']:>8.4f}{c['write_s']:>9.2f}{c['load_s']:>8.2f}{c['load_mb_per_s']:>10.1f}"
            f"{c['sampler_batches_per_s']:>12.1f}{c['h5py_direct_batches_per_s']:>16.2f}"
        )


if __name__ == "__main__":
    main()
