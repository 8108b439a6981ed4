"""EfficientZero speed: the training step, one batched search and a short whole run.

1. Training step: ``Learner.update`` on a fixed synthetic Atari-shaped batch (96x96 RGB, 4 stacked
   frames, 18 actions), reanalysis excluded.
2. Search: initial inference plus ``run_search`` over ``--roots`` roots with the network.
3. Whole run: the agent's own loop on a real game (batched acting with MCTS, replay, reanalysis
   with the target network, training). A first ``train`` call fills the replay and catches up on
   the updates due; the second one is measured: its sustained updates/s, env steps/s and the split
   of its wall-clock time between training, reanalysis, acting's search, the env and data, as the
   agent reports them.
4. Overlap probe (``--overlap-probe``): would reanalysing the next batch in a worker thread (on its
   own CUDA stream on a GPU) while the current one trains pay? Times draw + reanalysis + update in
   sequence and with the reanalysis of the next batch overlapped, interleaved, on a synthetic
   replay, whatever ``--overlap`` says (which sets the agent's ``overlap_reanalysis`` in the
   whole run).

Example (the GPU figures of ``benchmarks/RESULTS.md``)::

    python benchmarks/ez_speed.py --device cuda --threads 16 --envs 8 --overlap-probe --json
"""

from __future__ import annotations

import copy
import dataclasses
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import click
import numpy as np
import torch

from baselines.efficientzero.agent import EfficientZeroAgent
from baselines.efficientzero.config import EfficientZeroConfig, preset_config
from baselines.efficientzero.learner import Learner
from baselines.efficientzero.losses import TrainBatch
from baselines.efficientzero.networks import build_network
from baselines.efficientzero.reanalyze import reanalyze, search
from baselines.efficientzero.replay import PrioritizedReplay
from baselines.efficientzero.speed import speed_flags
from timing import seconds_per_call, synchronize  # the sibling module (this folder is on sys.path)
from xtra_bench.envs import make_env

FRAME = (96, 96, 3)
ACTIONS = 18


def synthetic_batch(batch_size: int, stack: int, unroll: int, device: torch.device) -> TrainBatch:
    """A training batch of random Atari-shaped data made on ``device`` (the update's cost does not depend on values)."""
    return TrainBatch(
        frames=torch.randint(0, 256, (batch_size, stack + unroll, *FRAME), dtype=torch.uint8, device=device),
        actions=torch.randint(0, ACTIONS, (batch_size, unroll), device=device),
        target_value=torch.rand(batch_size, unroll + 1, device=device) * 10,
        target_value_prefix=torch.randint(0, 3, (batch_size, unroll), device=device).float(),
        target_policy=torch.softmax(torch.randn(batch_size, unroll + 1, ACTIONS, device=device), -1),
        unroll_mask=torch.ones(batch_size, unroll, device=device),
        weights=torch.ones(batch_size, device=device),
        legal=torch.ones(batch_size, ACTIONS, dtype=torch.bool, device=device),
    )


def time_updates(cfg: EfficientZeroConfig, warmup: int, repeats: int, device: torch.device, budget_s: float | None = None) -> float:
    """Updates per second of the training step alone (``budget_s``: stop timing after that many seconds)."""
    torch.manual_seed(0)
    learner = Learner(build_network(FRAME, ACTIONS, cfg, device), cfg)
    batch = synthetic_batch(cfg.batch_size, cfg.frame_stack, cfg.num_unroll_steps, device)
    return 1 / seconds_per_call(lambda: learner.update(batch), warmup=warmup, repeats=repeats, device=device, budget_s=budget_s)


def time_search(cfg: EfficientZeroConfig, roots: int, warmup: int, repeats: int, device: torch.device, budget_s: float | None = None) -> float:
    """Seconds per search of ``roots`` roots (initial inference included; ``budget_s``: stop timing after that many seconds)."""
    torch.manual_seed(0)
    net = build_network(FRAME, ACTIONS, cfg, device)
    obs = torch.randint(0, 256, (roots, cfg.frame_stack, *FRAME), dtype=torch.uint8, device=device)
    legal = np.ones((roots, ACTIONS), dtype=bool)
    rng = np.random.default_rng(0)
    return seconds_per_call(lambda: search(net, obs, legal, cfg, rng, add_noise=True), warmup=warmup, repeats=repeats, device=device, budget_s=budget_s)


def whole_run(game: str, preset: str, cfg: EfficientZeroConfig, updates: int, device: str, warmup_steps: int | None = None) -> dict[str, float]:
    """Throughput of ``updates`` updates of the agent's loop once its replay is warm and caught up.

    Args:
        warmup_steps: env steps per warm-up call (default: the replay's minimum or 100 per env,
            whichever is larger); every update due by the end of the warm-up is run before the
            measured call.

    Returns:
        The agent's throughput metrics over the measured call (``updates_per_s``,
        ``env_steps_per_s``, ``share_<stage>``).
    """
    cfg = dataclasses.replace(cfg, log_interval=0)
    agent = EfficientZeroAgent(make_env(game, num_envs=1).spec, preset=preset, seed=0, device=device, config=cfg)
    # Warm-up: fill the replay, then catch up on the updates due (the agent does at most two per
    # env step until it has), so that the measured call runs at the steady one update per step.
    chunk = warmup_steps or max(cfg.min_replay_size, 100 * cfg.num_envs)
    segment = 0
    while segment == 0 or agent.learner.steps < int(cfg.updates_per_env_step * agent.env_steps):
        segment += 1
        agent.train(make_env(game, num_envs=cfg.num_envs, mode="train", seed=segment), agent.env_steps + chunk)
    steps = agent.env_steps + int(np.ceil(updates / cfg.updates_per_env_step / cfg.num_envs)) * cfg.num_envs
    agent.train(make_env(game, num_envs=cfg.num_envs, mode="train", seed=0), steps)
    # The measured call started the agent's timer; nothing has reported since (log_interval 0).
    return agent.timer.report(agent.learner.steps, agent.env_steps)


def synthetic_replay(cfg: EfficientZeroConfig, episodes: int = 20, steps: int = 100) -> PrioritizedReplay:
    """A replay of random Atari-shaped episodes (frames, actions, rewards, uniform search policies)."""
    replay = PrioritizedReplay(
        FRAME, ACTIONS, episodes * steps, clip_rewards=True, frame_stack=cfg.frame_stack, num_unroll=cfg.num_unroll_steps,
        td_steps=cfg.td_steps, td_age_interval=max(1, int(cfg.td_age_fraction * 100_000)), min_td_steps=cfg.min_td_steps, alpha=cfg.priority_alpha,
    )
    rng = np.random.default_rng(0)
    for _ in range(episodes):
        frames = rng.integers(0, 256, (cfg.frame_stack + steps, *FRAME), dtype=np.uint8)
        policies = np.full((steps, ACTIONS), 1 / ACTIONS, np.float32)
        replay.add_episode(frames, rng.integers(0, ACTIONS, steps), rng.normal(size=steps), policies, np.arange(steps), True)
    return replay


def probe_overlap(cfg: EfficientZeroConfig, rounds: int, updates: int, device: torch.device) -> dict[str, float]:
    """Milliseconds per update (draw + reanalysis + SGD step) in sequence and with reanalysis overlapped.

    The overlapped variant reanalyses batch i+1 in a worker thread (on a side CUDA stream on a
    GPU) while batch i trains; rounds of both variants alternate so that load drifts hit both.
    """
    torch.manual_seed(0)
    net = build_network(FRAME, ACTIONS, cfg, device)
    target, learner = copy.deepcopy(net), Learner(net, cfg)
    replay, legal, rng = synthetic_replay(cfg), np.ones(ACTIONS, bool), np.random.default_rng(0)
    stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def prepare():
        sample = replay.sample(cfg.batch_size, 1.0, 0)
        if stream is None:
            return reanalyze(sample, target, legal, cfg, rng, device, cfg.reanalyze_ratio)
        with torch.cuda.stream(stream):
            batch = reanalyze(sample, target, legal, cfg, rng, device, cfg.reanalyze_ratio)
        stream.synchronize()
        return batch

    def sequential():
        for _ in range(updates):
            learner.update(prepare())

    def overlapped(pool):
        pending = pool.submit(prepare)
        for i in range(updates):
            batch = pending.result()
            if i + 1 < updates:
                pending = pool.submit(prepare)
            learner.update(batch)

    times: dict[str, list[float]] = {"sequential": [], "overlapped": []}
    with ThreadPoolExecutor(max_workers=1) as pool:
        learner.update(prepare())
        for r in range(rounds):
            order = ("sequential", "overlapped") if r % 2 == 0 else ("overlapped", "sequential")
            for name in order:
                synchronize(device)
                start = time.perf_counter()
                sequential() if name == "sequential" else overlapped(pool)
                synchronize(device)
                times[name].append((time.perf_counter() - start) / updates * 1000)
    return {f"{name}_ms_per_update": statistics.median(values) for name, values in times.items()}


def describe_run(name: str, metrics: dict[str, float]) -> str:
    split = ", ".join(f"{k[len('share_'):]} {v:.1%}" for k, v in metrics.items() if k.startswith("share_"))
    return (
        f"whole run ({name}): {metrics['updates_per_s']:.2f} updates/s, {metrics['env_steps_per_s']:.2f} env steps/s;"
        f" time: {split}"
    )


@click.command()
@click.option("--preset", default="paper", show_default=True, help="Config preset (network widths, unroll, search).")
@click.option("--batch-size", type=int, help="Training batch size (default: the preset's).")
@click.option("--roots", default=256, show_default=True, help="Roots of the timed search.")
@click.option("--simulations", type=int, help="Simulations per search (default: the preset's).")
@click.option("--threads", default=1, show_default=True, help="Threads of the C++ tree.")
@click.option("--repeats", default=10, show_default=True, help="Timed repetitions of the step and the search.")
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--torch-threads", type=int, help="torch's intra-op threads (default: torch's choice).")
@click.option("--compile/--no-compile", default=False, show_default=True, help="torch.compile the training step.")
@click.option("--amp/--no-amp", default=False, show_default=True, help="bfloat16 autocast on CUDA.")
@click.option("--channels-last/--no-channels-last", default=False, show_default=True, help="Channels-last convolutions.")
@click.option("--cuda-graphs/--no-cuda-graphs", default=False, show_default=True, help="Search's recurrent inference from CUDA graphs (CUDA only).")
@click.option("--pin-memory/--no-pin-memory", default=False, show_default=True, help="Replay batches to the GPU through pinned memory (CUDA only).")
@click.option("--game", default="Breakout", show_default=True, help="Game of the whole run.")
@click.option("--envs", type=int, help="Environments acting as one batch in the whole run (default: the preset's).")
@click.option("--min-replay", type=int, help="Replay size before the first update (default: the preset's).")
@click.option("--run-updates", default=500, show_default=True, help="Measured updates of the whole run (0: skip it).")
@click.option("--overlap/--no-overlap", default=True, show_default=True, help="The agent overlaps reanalysis with training in the whole run.")
@click.option("--overlap-probe", is_flag=True, help="Also time reanalysis overlapped with training (see the module docstring).")
@click.option("--probe-rounds", default=4, show_default=True, help="Alternating rounds of the overlap probe.")
@click.option("--skip-step", is_flag=True, help="Skip the training-step measurement.")
@click.option("--skip-search", is_flag=True, help="Skip the search measurement.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every figure at the end.")
def main(
    preset, batch_size, roots, simulations, threads, repeats, device, torch_threads, compile, amp, channels_last, cuda_graphs,
    pin_memory, game, envs, min_replay, run_updates, overlap, overlap_probe, probe_rounds, skip_step, skip_search, as_json,
):
    """Prints updates/s of the training step, milliseconds per search and the whole run's throughput."""
    if torch_threads:
        torch.set_num_threads(torch_threads)
    overrides = dict(batch_size=batch_size, num_simulations=simulations, num_envs=envs, min_replay_size=min_replay)
    cfg = preset_config(
        preset,
        search_threads=threads,
        compile=compile,
        amp=amp,
        channels_last=channels_last,
        cuda_graphs=cuda_graphs,
        pin_memory=pin_memory,
        overlap_reanalysis=overlap,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} torch threads)"
    click.echo(
        f"device: {name}; preset {preset}, batch {cfg.batch_size}, unroll {cfg.num_unroll_steps}, simulations "
        f"{cfg.num_simulations}, tree threads {threads}; speed flags: {speed_flags(cfg, dev)}"
    )
    figures: dict = {"device": name, "config": {k: v for k, v in dataclasses.asdict(cfg).items() if k != "temperature_schedule"}}
    if not skip_step:
        ups = figures["train_step_updates_per_s"] = time_updates(cfg, warmup=2, repeats=repeats, device=dev)
        click.echo(f"training step: {ups:.2f} updates/s ({1000 / ups:.1f} ms/update)")
    if not skip_search:
        seconds = time_search(cfg, roots, warmup=1, repeats=repeats, device=dev)
        figures["search_ms"] = {"roots": roots, "ms": seconds * 1000}
        click.echo(f"search: {roots} roots x {cfg.num_simulations} simulations: {seconds * 1000:.1f} ms")
    if run_updates:
        metrics = figures["whole_run"] = whole_run(game, preset, cfg, run_updates, device)
        click.echo(describe_run(f"{game}, {cfg.num_envs} envs, {run_updates} updates, overlap {'on' if overlap else 'off'}", metrics))
    if overlap_probe:
        probe = figures["overlap_probe"] = probe_overlap(cfg, probe_rounds, updates=3, device=dev)
        click.echo(
            f"overlap probe (batch {cfg.batch_size}, {cfg.num_simulations} simulations): sequential"
            f" {probe['sequential_ms_per_update']:.1f} ms/update, overlapped {probe['overlapped_ms_per_update']:.1f} ms/update"
        )
    if as_json:
        click.echo(json.dumps(figures))


if __name__ == "__main__":
    main()
