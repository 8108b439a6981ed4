"""Options and output helpers shared by every command module."""

from __future__ import annotations

import json

import click


def echo_json(obj) -> None:
    """Prints ``obj`` as indented JSON on stdout (paths and other objects as strings)."""
    click.echo(json.dumps(obj, indent=2, default=str))


def json_option(func):
    """Adds ``--json`` (as the ``as_json`` flag) to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)
