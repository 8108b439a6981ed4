"""The ``run`` command: options in, a ``RunConfig`` out, the work delegated to ``xtra_bench.runner.run``."""

from __future__ import annotations

from pathlib import Path

import click

from xtra_bench.agents import PRESETS
from xtra_bench.cli_options import echo_json, json_option
from xtra_bench.protocol import TRAIN_GAMES
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
@click.option("--low-lr-tail", type=int, default=0, show_default=True, help="Updates at the decayed learning rate after the last env step (the paper's Table 2 protocol: 20000).")
@click.option(
    "--train-games",
    type=click.Choice(TRAIN_GAMES),
    default=TRAIN_GAMES[0],
    show_default=True,
    help="At each evaluation point, end every training game (an exact --resume; a game lasts at most eval-interval / envs agent steps) or play the games out, as EfficientZero's release does (a resumed job starts fresh games).",
)
@click.option("--datasets", help="Pretraining dataset id or path with {game} for the game  [default: the published xtra/{game}/ez-checkpoints-v1, else the recipe's dataset in the data cache]")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True, help="Results directory.")
@click.option("--launcher", type=click.Choice(LAUNCHERS), default="local", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Jobs at once with the local launcher.")
@click.option("--ray-address", help="A Ray cluster's address (default: a local Ray started for the run).")
@click.option("--cpus-per-job", type=float, default=1.0, show_default=True, help="CPUs of each job: its torch threads, and what a Ray task asks for.")
@click.option("--gpus-per-job", type=float, help="GPUs of each Ray task  [default: 1 with --device cuda, else 0]")
@click.option("--resume", is_flag=True, help="Continue unfinished jobs from their last checkpoint.")
@click.option("--collect-missing", is_flag=True, help="Make missing pretraining datasets with the preset's data recipe first (once; later runs reuse them).")
@click.option("--dry-run", is_flag=True, help="Print the jobs and what will happen to each, and stop.")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override a config field of the agents that have it (repeatable), e.g. --set lr=0.1.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="A TOML file of key = value overrides (--set wins).")
def run_command(agents, split, pretrain, targets, seeds, dry_run, assignments, config_file, **options) -> None:
    """Run agents on a split's targets over seeds, evaluated by the protocol, into a results tree.

    Finished jobs are skipped; a killed run continues with --resume and ends with exactly the
    evaluation rows of an uninterrupted one (with --train-games play-out it continues in fresh
    games, so its rows differ).

    Overrides (--set, --config) go to jobs/<agent>@<hash>/, so runs with other overrides share a
    results directory (and its stage-1 cache) without mixing; the report labels them "agent [key=value]".

    Examples: xtra-bench run --agent efficientzero --split minatar --seeds 0-2 --preset fast;
    xtra-bench run --agent random,efficientzero --pretrain MinAtar-Asterix --targets MinAtar-Breakout --preset smoke --env-steps 400 --out runs/demo;
    xtra-bench run --agent xtra --split shooter --set lr=0.1 --set cosine_threshold=0.2
    """
    from xtra_bench.protocol import parse_seeds
    from xtra_bench.runner.config import RunConfig
    from xtra_bench.runner.overrides import parse_assignments, read_config_file
    from xtra_bench.runner.run import plan_run, run

    overrides = {**(read_config_file(config_file) if config_file else {}), **parse_assignments(assignments)}
    config = RunConfig(
        overrides=tuple(overrides.items()),
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


@click.command("status")
@click.argument("runs_dir", type=click.Path(file_okay=False, path_type=Path))
@json_option
def status_command(runs_dir: Path, as_json: bool) -> None:
    """Show each job of RUNS_DIR: done, running, failed or pending, its last evaluation, steps/s and ETA.

    A failed job shows the first line of its error; a stopped one continues with `xtra-bench run ... --resume`.

    Example: xtra-bench status runs/demo
    """
    from xtra_bench.runner.status import format_status, run_status

    rows = run_status(runs_dir)
    if as_json:
        echo_json([r.to_json() for r in rows])
        return
    for line in format_status(rows):
        click.echo(line)


@click.command("export")
@click.argument("runs_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace jobs of DEST that hold other results.")
@json_option
def export_command(runs_dir: Path, dest: Path, force: bool, as_json: bool) -> None:
    """Copy the small files of RUNS_DIR's finished jobs into DEST: what to commit of a study.

    Copies protocol.json, plan.json and each finished job's config.json, metrics.jsonl,
    evals.jsonl and DONE; no checkpoints or TensorBoard files. `xtra-bench report DEST` reads the
    copy, and `xtra-bench run --out DEST --resume` skips its jobs and runs the rest. Unfinished
    jobs stay behind; run export again when they finish.

    Example: xtra-bench export runs/minatar-curves results/minatar-curves
    """
    from xtra_bench.runner.export import export_results

    summary = export_results(runs_dir, dest, force=force)
    if as_json:
        echo_json(summary.to_json())
        return
    for line in summary.lines(dest):
        click.echo(line)
