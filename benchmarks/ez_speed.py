"""EfficientZero speed: updates/s of the training step and the time of one batched search.

Synthetic Atari-shaped inputs (96x96 RGB, 4 stacked frames, 18 actions) on whatever device is
present. The training step times ``Learner.update`` on a fixed batch (reanalysis excluded); the
search times initial inference plus ``run_search`` over ``--roots`` roots.

Example::

    python benchmarks/ez_speed.py --preset paper --batch-size 256 --roots 256 --simulations 50
"""

from __future__ import annotations

import time

import click
import numpy as np
import torch

from baselines.efficientzero.config import preset_config
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import EfficientZeroNet
from baselines.efficientzero.reanalyze import search

FRAME = (96, 96, 3)
ACTIONS = 18


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_batch(batch_size: int, stack: int, unroll: int, device: torch.device) -> TrainBatch:
    policy = torch.softmax(torch.randn(batch_size, unroll + 1, ACTIONS), -1)
    return TrainBatch(
        frames=torch.randint(0, 256, (batch_size, stack + unroll, *FRAME), dtype=torch.uint8).to(device),
        actions=torch.randint(0, ACTIONS, (batch_size, unroll)).to(device),
        target_value=(torch.rand(batch_size, unroll + 1) * 10).to(device),
        target_value_prefix=torch.randint(0, 3, (batch_size, unroll)).float().to(device),
        target_policy=policy.to(device),
        consistency_mask=torch.ones(batch_size, unroll).to(device),
        weights=torch.ones(batch_size).to(device),
        legal=torch.ones(batch_size, ACTIONS, dtype=torch.bool).to(device),
    )


def time_updates(learner: Learner, batch: TrainBatch, warmup: int, repeats: int, device: torch.device) -> float:
    for _ in range(warmup):
        learner.update(batch)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        learner.update(batch)
    synchronize(device)
    return repeats / (time.perf_counter() - start)


def time_search(net, roots: int, cfg, warmup: int, repeats: int, device: torch.device) -> float:
    obs = torch.randint(0, 256, (roots, cfg.frame_stack, *FRAME), dtype=torch.uint8, device=device)
    legal = np.ones((roots, ACTIONS), dtype=bool)
    rng = np.random.default_rng(0)
    for _ in range(warmup):
        search(net, obs, legal, cfg, rng, add_noise=True)
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        search(net, obs, legal, cfg, rng, add_noise=True)
    synchronize(device)
    return (time.perf_counter() - start) / repeats


@click.command()
@click.option("--preset", default="paper", show_default=True, help="Config preset (network widths, unroll).")
@click.option("--batch-size", default=256, show_default=True, help="Training batch size.")
@click.option("--roots", default=256, show_default=True, help="Roots per search.")
@click.option("--simulations", default=50, show_default=True, help="Simulations per search.")
@click.option("--threads", default=1, show_default=True, help="Threads of the C++ tree.")
@click.option("--repeats", default=10, show_default=True, help="Timed repetitions of each measurement.")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--compile/--no-compile", default=False, show_default=True, help="torch.compile the training step.")
@click.option("--amp/--no-amp", default=False, show_default=True, help="bfloat16 autocast on CUDA.")
def main(preset, batch_size, roots, simulations, threads, repeats, device, compile, amp):
    """Prints updates/s of the training step and milliseconds per search."""
    cfg = preset_config(
        preset, batch_size=batch_size, num_simulations=simulations, search_threads=threads, compile=compile, amp=amp
    )
    dev = torch.device(device)
    torch.manual_seed(0)
    net = EfficientZeroNet(FRAME, ACTIONS, cfg).to(dev)
    learner = Learner(net, cfg)
    batch = synthetic_batch(batch_size, cfg.frame_stack, cfg.num_unroll_steps, dev)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} torch threads)"
    click.echo(f"device: {name}; preset {preset}, batch {batch_size}, unroll {cfg.num_unroll_steps}, compile={compile}, amp={amp}")
    updates_per_s = time_updates(learner, batch, warmup=2, repeats=repeats, device=dev)
    click.echo(f"training step: {updates_per_s:.2f} updates/s ({1000 / updates_per_s:.1f} ms/update)")
    seconds = time_search(net, roots, cfg, warmup=1, repeats=repeats, device=dev)
    click.echo(f"search: {roots} roots x {simulations} simulations: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
