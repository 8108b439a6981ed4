"""The ``xtra-bench`` command group; each subcommand stays thin and delegates to a library module."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xtra_bench import __version__
from xtra_bench.cli_options import echo_json, json_option
from xtra_bench.agents import PRESETS
from xtra_bench.crash_log import one_line, write_crash_log
from xtra_bench.data.cli import collect_command, datasets_group
from xtra_bench.data.recipe import RECIPES
from xtra_bench.errors import XtraBenchError
from xtra_bench.report.cli import report_command
from xtra_bench.runner.cli import export_command, run_command, status_command


class _Group(click.Group):
    """Turns every error into one 'Error: ...' line and exit code 1, never a traceback.

    Library errors a user can fix keep their message; an operating-system error names the file; any
    other exception is a bug, whose traceback goes to a log file that the line names.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["xtra_bench.argv"] = list(args)  # for the message of an unexpected error
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except XtraBenchError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"cannot use{where}: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence: a bug, logged, one line shown
            argv = ctx.meta.get("xtra_bench.argv", [])
            raise click.ClickException(one_line(exc, argv, write_crash_log(exc, argv))) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xtra-bench")
def main() -> None:
    """Cross-task transfer in model-based RL on Atari100k: datasets, protocol, agents, reports."""


@main.command()
@click.argument("names", nargs=-1)
@json_option
def games(names: tuple[str, ...], as_json: bool) -> None:
    """List the game catalog (or the NAMES given): ROM, category, action set, random and human scores.

    Example: xtra-bench games --json
    """
    from xtra_bench.games import GAMES, get_game

    chosen = [get_game(n) for n in names] if names else list(GAMES.values())
    if as_json:
        echo_json([g.to_json() for g in chosen])
        return
    fmt = lambda v: "-" if v is None else f"{v:g}"  # noqa: E731
    click.echo(f"{'game':<22}{'suite':<9}{'category':<15}{'actions':>8}{'random':>10}{'human':>10}  atari100k")
    for g in chosen:
        click.echo(
            f"{g.name:<22}{g.suite:<9}{g.category or '-':<15}{len(g.action_set):>8}{fmt(g.random):>10}{fmt(g.human):>10}"
            f"  {'yes' if g.atari100k else ''}"
        )


@main.command()
@json_option
@click.option("--pretrain", help="Show a custom split instead: comma-separated pretraining games (with --targets).")
@click.option("--targets", help="Comma-separated targets of the custom split (with --pretrain).")
def splits(as_json: bool, pretrain: str | None, targets: str | None) -> None:
    """List the protocol's splits: each target and the games it is pretrained on.

    Examples: xtra-bench splits --json;  xtra-bench splits --pretrain Phoenix,Pooyan --targets Assault
    """
    from xtra_bench.protocol import SPLITS, custom_split

    if (pretrain is None) != (targets is None):
        raise click.UsageError("--pretrain and --targets go together: give both to define a custom split")
    chosen = {"custom": custom_split(pretrain, targets)} if pretrain is not None else SPLITS
    if as_json:
        echo_json({name: split.to_json() for name, split in chosen.items()})
        return
    for name, split in chosen.items():
        click.echo(f"{name}:")
        for target, pretrain in split.pretrain.items():
            click.echo(f"  {target:<16} <- {', '.join(pretrain)}")


@main.command()
@json_option
def agents(as_json: bool) -> None:
    """List the agents that `xtra-bench run --agent` accepts, including installed plugins.

    Example: xtra-bench agents
    """
    from xtra_bench.agents import default_registry

    registry = default_registry()
    rows = [registry.info(name) for name in registry.names()]
    if as_json:
        echo_json([{"name": r.name, "description": r.description, "source": r.source} for r in rows])
        return
    for r in rows:
        click.echo(f"{r.name:<28}{r.description}")


@main.command()
@click.option("--split", "split_name", required=True, help="The split whose pretraining games are used (see `xtra-bench splits`).")
@click.option("--target", "targets", multiple=True, help="Only this target's pretraining set (repeatable; default: every target).")
@click.option("--preset", default="paper", show_default=True, type=click.Choice(PRESETS))
@click.option("--recipe", type=click.Choice(list(RECIPES)), help="Data recipe of locally made datasets [default: the preset].")
@click.option("--out", default=Path("runs"), show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="The results directory whose runs reuse stage 1 (`xtra-bench run --out` it).")
@click.option("--device", default="cpu", show_default=True, help="Torch device.")
def pretrain(split_name: str, targets: tuple[str, ...], preset: str, recipe: str | None, out: Path, device: str) -> None:
    """Run XTRA's stage 1 alone (teachers, targets, student) into the cache that runs reuse.

    Example: xtra-bench pretrain --split diverse --preset paper --device cuda
    """
    import logging

    from xtra_bench.pretraining import pretrain_split
    from xtra_bench.runner.jobs import artifacts_dir

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    done = pretrain_split(split_name, out, targets=targets, preset=preset, recipe=recipe, device=device)
    click.echo(f"stage 1 ready in {artifacts_dir(out)} for {', '.join(done)}")


main.add_command(datasets_group)
main.add_command(collect_command)
main.add_command(report_command)
main.add_command(run_command)
main.add_command(status_command)
main.add_command(export_command)

if __name__ == "__main__":
    sys.exit(main())
