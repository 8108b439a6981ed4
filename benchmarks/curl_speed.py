"""CURL speed: updates/s of the training step, alone and with prioritised replay sampling.

Synthetic Atari-shaped inputs (96x96 RGB, 4 stacked frames, 18 actions) on whatever device is
present. "update" times ``CurlLearner.update`` on a fixed batch already on the device; "replay +
update" also draws the batch from a filled replay (priorities, n-step returns, stacks) and moves it
to the device, as the agent does on every step.

Example::

    python benchmarks/curl_speed.py --preset paper --repeats 200
"""

from __future__ import annotations

import click
import numpy as np
import torch

from baselines.curl.config import preset_config
from baselines.curl.learner import CurlLearner, RainbowBatch
from baselines.curl.networks import CurlNet
from baselines.curl.replay import EpisodeReplay
from timing import seconds_per_call  # the sibling module (this folder is on sys.path)

FRAME = (96, 96, 3)
ACTIONS = 18
EPISODE_STEPS = 500


def filled_replay(cfg, transitions: int, seed: int = 0) -> EpisodeReplay:
    """A replay holding ``transitions`` random transitions in episodes of ``EPISODE_STEPS``."""
    rng = np.random.default_rng(seed)
    replay = EpisodeReplay.for_config(cfg, FRAME, transitions, seed=seed)
    frames = rng.integers(0, 256, (cfg.frame_stack + EPISODE_STEPS, *FRAME), dtype=np.uint8)
    for _ in range(transitions // EPISODE_STEPS):
        rewards = rng.choice([0.0, 0.0, 1.0], size=EPISODE_STEPS)
        replay.add_episode(frames, rng.integers(0, ACTIONS, EPISODE_STEPS), rewards, terminal=True)
    return replay


def measure(cfg, replay_size: int, repeats: int, device: torch.device, warmup: int = 5, budget_s: float | None = None) -> dict:
    """Updates/s of CURL's update on a fixed batch, and with each batch drawn from a filled replay.

    Args:
        cfg: a CURL config (network, batch size, n-step).
        replay_size: transitions in the replay the batches come from (at least ``EPISODE_STEPS``).
        budget_s: seconds the timed repeats of each of the two measurements may take (None: all ``repeats``).
    """
    torch.manual_seed(0)
    net = CurlNet(FRAME, ACTIONS, cfg).to(device)
    learner = CurlLearner(net, cfg, FRAME[0])
    replay = filled_replay(cfg, replay_size)
    legal = np.ones((cfg.batch_size, ACTIONS), dtype=bool)
    fixed = RainbowBatch.from_host(replay.sample(cfg.batch_size, 0.4), legal, device)

    def replay_step():
        sample = replay.sample(cfg.batch_size, 0.4)
        result = learner.update(RainbowBatch.from_host(sample, legal, device))
        replay.update_priorities(sample.rows, result.losses)

    timing = dict(warmup=warmup, repeats=repeats, device=device, budget_s=budget_s)
    return {
        "batch_size": cfg.batch_size,
        "n_step": cfg.n_step,
        "replay_transitions": len(replay),
        "update_per_s": 1 / seconds_per_call(lambda: learner.update(fixed), **timing),
        "replay_update_per_s": 1 / seconds_per_call(replay_step, **timing),
    }


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
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} torch threads)"
    figures = measure(cfg, replay_size, repeats, dev)
    click.echo(f"device: {name}; preset {preset}, batch {cfg.batch_size}, n-step {cfg.n_step}, replay {figures['replay_transitions']} transitions")
    rate = figures["update_per_s"]
    click.echo(f"update: {rate:.1f} updates/s ({1000 / rate:.2f} ms/update)")
    rate = figures["replay_update_per_s"]
    click.echo(f"replay + update: {rate:.1f} updates/s ({1000 / rate:.2f} ms/update)")


if __name__ == "__main__":
    main()
