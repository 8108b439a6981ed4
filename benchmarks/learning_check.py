"""A short learning check: one agent trained on one game, evaluated by the protocol at fixed points.

Every ``--eval-every`` agent steps the final-weights policy plays ``--episodes`` eval-mode games
(``xtra_bench.evaluation.evaluate``, greedy acting); the curve of mean returns goes to a JSON file
and a PNG plot. Pretraining agents get ``--pretrain`` dataset files first.

Example::

    python benchmarks/learning_check.py --agent curl --game MinAtar-Breakout --steps 20000 --out runs/curl-check
"""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import click
import numpy as np
import torch

from xtra_bench.agents import default_registry
from xtra_bench.envs import make_env
from xtra_bench.evaluation import evaluate


def curve_point(act, game: str, episodes: int, *, seed: int, steps: int, started: float, **env_settings) -> dict:
    """One point of a learning curve: the mean and standard error of ``episodes`` eval-mode games of ``act``.

    Args:
        act: the policy (observations -> env actions), e.g. an agent's greedy ``act``.
        seed: the eval env's seed (the same games for every agent).
        steps: agent steps done when the point is taken.
        started: ``time.perf_counter()`` at the start of the run (the point records the seconds since).
        **env_settings: passed to the eval env (e.g. a lower ``max_episode_frames``).
    """
    returns = evaluate(act, game, episodes, seed=seed, **env_settings)
    return {
        "steps": steps,
        "mean": float(returns.mean()),
        "stderr": float(returns.std(ddof=1) / np.sqrt(len(returns))) if len(returns) > 1 else 0.0,
        "seconds": round(time.perf_counter() - started, 1),
    }


def plot_curve(points: list[dict], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    steps = [p["steps"] for p in points]
    means = np.array([p["mean"] for p in points])
    stderr = np.array([p["stderr"] for p in points])
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(steps, means, marker="o")
    ax.fill_between(steps, means - stderr, means + stderr, alpha=0.25)
    ax.set_xlabel("agent steps")
    ax.set_ylabel("eval return (mean ± s.e.)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command()
@click.option("--agent", "agent_name", default="curl", show_default=True, help="A registered agent.")
@click.option("--game", default="MinAtar-Breakout", show_default=True)
@click.option("--preset", default="paper", show_default=True)
@click.option("--steps", default=20_000, show_default=True, help="Agent steps of training.")
@click.option("--eval-every", default=2_500, show_default=True, help="Agent steps between evaluations.")
@click.option("--episodes", default=16, show_default=True, help="Eval games per evaluation.")
@click.option("--envs", default=1, show_default=True, help="Training envs stepped together.")
@click.option("--seed", default=0, show_default=True)
@click.option("--pretrain", "pretrain_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", default="cuda" if torch.cuda.is_available() else "cpu", show_default=True)
@click.option("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for curve.json and curve.png.")
def main(agent_name, game, preset, steps, eval_every, episodes, envs, seed, pretrain_files, device, threads, out):
    """Trains, evaluates at fixed points, and writes the learning curve."""
    if threads:
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    env = make_env(game, envs, mode="train", seed=seed)
    agent = default_registry().make(agent_name, env.spec, preset=preset, seed=seed, device=device)
    if pretrain_files:
        agent.pretrain(list(pretrain_files), out / "stage1")
    start = time.perf_counter()
    points: list[dict] = []

    def on_eval(steps_done: int) -> None:
        points.append(curve_point(functools.partial(agent.act, greedy=True), game, episodes, seed=1000 + seed, steps=steps_done, started=start))
        click.echo(f"{steps_done:>8} steps  return {points[-1]['mean']:8.2f} ± {points[-1]['stderr']:.2f}  ({points[-1]['seconds']} s)")

    on_eval(0)
    agent.train(env, steps, eval_every=eval_every, on_eval=on_eval)
    summary = {"agent": agent_name, "game": game, "preset": preset, "seed": seed, "device": device, "curve": points}
    (out / "curve.json").write_text(json.dumps(summary, indent=2))
    plot_curve(points, f"{agent_name} on {game} ({preset})", out / "curve.png")
    click.echo(f"wrote {out / 'curve.json'} and {out / 'curve.png'}")


if __name__ == "__main__":
    main()
