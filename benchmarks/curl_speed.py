"""CURL speed: updates/s of the training step, alone and with prioritised replay sampling.

Synthetic Atari-shaped inputs (96x96 RGB, 4 stacked frames, 18 actions) on whatever device is
present. "update" times ``CurlLearner.update`` on a fixed batch already on the device; "replay +
update" also draws the batch from a filled replay (priorities, n-step returns, stacks) and moves it
to the device, as the agent does on every step.

Example::

    python benchmarks/curl_speed.py --preset paper --repeats 200
"""

from __future__ import annotations

import time

import click
import numpy as np
import torch

from baselines.curl.config import preset_config
from baselines.curl.learner import CurlLearner, RainbowBatch
from baselines.curl.networks import CurlNet
from baselines.curl.replay import EpisodeReplay

FRAME = (96, 96, 3)
ACTIONS = 18
EPISODE_STEPS = 500


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def filled_replay(cfg, transitions: int, seed: int = 0) -> EpisodeReplay:
    """A replay holding ``transitions`` random transitions in episodes of ``EPISODE_STEPS``."""
    rng = np.random.default_rng(seed)
    replay = EpisodeReplay.for_config(cfg, FRAME, transitions, seed=seed)
    frames = rng.integers(0, 256, (cfg.frame_stack + EPISODE_STEPS, *FRAME), dtype=np.uint8)
    for _ in range(transitions // EPISODE_STEPS):
        rewards = rng.choice([0.0, 0.0, 1.0], size=EPISODE_STEPS)
        replay.add_episode(frames, rng.integers(0, ACTIONS, EPISODE_STEPS), rewards, terminal=True)
    return replay


def time_loop(step, warmup: int, repeats: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    synchronize(device)
    return repeats / (time.perf_counter() - start)


@click.command()
@click.option("--preset", default="paper", show_default=True, help="Config preset (network widths, batch size).")
@click.option("--batch-size", type=int, default=None, help="Override the preset's batch size.")
@click.option("--replay-size", default=20_000, show_default=True, help="Transitions in the replay that batches are drawn from.")
@click.option("--repeats", default=200, show_default=True, help="Timed updates of each measurement.")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
def main(preset, batch_size, replay_size, repeats, device, threads):
    """Prints updates/s of CURL's update, alone and with replay sampling."""
    if threads:
        torch.set_num_threads(threads)
    cfg = preset_config(preset, **({"batch_size": batch_size} if batch_size else {}))
    dev = torch.device(device)
    torch.manual_seed(0)
    net = CurlNet(FRAME, ACTIONS, cfg).to(dev)
    learner = CurlLearner(net, cfg, FRAME[0])
    replay = filled_replay(cfg, replay_size)
    legal = np.ones((cfg.batch_size, ACTIONS), dtype=bool)
    fixed = RainbowBatch.from_host(replay.sample(cfg.batch_size, 0.4), legal, dev)

    def replay_step():
        sample = replay.sample(cfg.batch_size, 0.4)
        result = learner.update(RainbowBatch.from_host(sample, legal, dev))
        replay.update_priorities(sample.rows, result.losses)

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} torch threads)"
    click.echo(f"device: {name}; preset {preset}, batch {cfg.batch_size}, n-step {cfg.n_step}, replay {len(replay)} transitions")
    rate = time_loop(lambda: learner.update(fixed), warmup=5, repeats=repeats, device=dev)
    click.echo(f"update: {rate:.1f} updates/s ({1000 / rate:.2f} ms/update)")
    rate = time_loop(replay_step, warmup=5, repeats=repeats, device=dev)
    click.echo(f"replay + update: {rate:.1f} updates/s ({1000 / rate:.2f} ms/update)")


if __name__ == "__main__":
    main()
