"""``cairn config``: the effective settings and where each came from."""

from __future__ import annotations

import typer

from cairn.cli.output import JSON_HELP, console, print_json, table
from cairn.core import settings


def show_config(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Print the effective settings and the source of each."""
    rows = settings().describe()
    if as_json:
        print_json({name: {"value": value, "source": source} for name, value, source in rows})
        return
    t = table("cairn settings", ["setting", "value", "source"])
    for row in rows:
        t.add_row(*row)
    console.print(t)
