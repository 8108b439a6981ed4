"""The ``xtra-bench`` command group; each subcommand stays thin and delegates to a library module."""

from __future__ import annotations

import json
import sys

import click

from xtra_bench import __version__
from xtra_bench.errors import XtraBenchError


class _Group(click.Group):
    """Turns library errors a user can fix into one 'Error: ...' line and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except XtraBenchError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xtra-bench")
def main() -> None:
    """Cross-task transfer in model-based RL on Atari100k: datasets, protocol, agents, reports."""


def echo_json(obj) -> None:
    """Prints ``obj`` as indented JSON on stdout."""
    click.echo(json.dumps(obj, indent=2))


if __name__ == "__main__":
    sys.exit(main())
