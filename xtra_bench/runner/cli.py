"""The ``run`` command: options in, a ``RunConfig`` out, the work delegated to ``xtra_bench.runner.run``."""

from __future__ import annotations

from pathlib import Path

import click

from xtra_bench.agents import PRESETS
from xtra_bench.runner.config import DEVICES, LAUNCHERS


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip()) if text else ()


@click.command("run")
@click.option("--agent", "agents", required=True, help="Agent, or comma-separated agents (see `xtra-bench agents`).")
@click.option("--split", help="A named split (see `xtra-bench splits`).")
@click.option("--pretrain", help="A custom split's comma-separated pretraining games (with --targets).")
@click.option("--targets", help="Comma-separated targets: a custom split's, or a subset of the named split's.")
@click.option("--seeds", default="0-4", show_default=True, help="Training seeds: 0-4, 3 or 0,2,5.")
@click.option("--preset", type=click.Choice(PRESETS), default="paper", show_default=True, help="Agent hyper-parameters.")
@click.option("--env-steps", type=int, help="Agent steps per job instead of the protocol's 100k (recorded in the protocol).")
@click.option("--eval-episodes", type=int, default=32, show_default=True, help="Episodes of the final evaluation.")
@click.option("--periodic-eval-episodes", type=int, default=8, show_default=True, help="Episodes of each periodic evaluation.")
@click.option("--eval-interval", type=int, help="Agent steps between periodic evaluations  [default: a tenth of the budget]")
@click.option("--datasets", help="Pretraining dataset id or path with {game} for the game  [default: the registry's dataset of the game]")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True, help="Results directory.")
@click.option("--launcher", type=click.Choice(LAUNCHERS), default="local", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Jobs at once with the local launcher.")
@click.option("--ray-address", help="A Ray cluster's address (default: a local Ray started for the run).")
@click.option("--cpus-per-job", type=float, default=1.0, show_default=True, help="CPUs of each job: its torch threads, and what a Ray task asks for.")
@click.option("--gpus-per-job", type=float, help="GPUs of each Ray task  [default: 1 with --device cuda, else 0]")
@click.option("--resume", is_flag=True, help="Continue unfinished jobs from their last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Print the jobs and what will happen to each, and stop.")
@click.option("--progress/--no-progress", default=True, show_default=True)
def run_command(agents, split, pretrain, targets, seeds, dry_run, **options) -> None:
    """Run agents on a split's targets over seeds, evaluated by the protocol, into a results tree.

    Finished jobs are skipped; a killed run continues with --resume and ends with exactly the
    evaluation rows of an uninterrupted one.

    Examples: xtra-bench run --agent efficientzero --split minatar --seeds 0-2 --preset fast;
    xtra-bench run --agent random,efficientzero --pretrain MinAtar-Asterix --targets MinAtar-Breakout --preset smoke --env-steps 400 --out runs/demo
    """
    from xtra_bench.protocol import parse_seeds
    from xtra_bench.runner.config import RunConfig
    from xtra_bench.runner.run import plan_run, run

    config = RunConfig(
        agents=_names(agents),
        split=split,
        pretrain=_names(pretrain),
        targets=_names(targets),
        seeds=parse_seeds(seeds),
        **options,
    )
    plan = plan_run(config)
    if dry_run:
        for line in [plan.summary(), *plan.describe()]:
            click.echo(line)
        return
    run(config, plan, announce=click.echo)
    click.echo(f"{len(plan.jobs)} jobs complete in {config.out}")
