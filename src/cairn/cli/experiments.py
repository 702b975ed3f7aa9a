"""``cairn experiments``."""

from __future__ import annotations

import typer

from cairn.cli.output import JSON_HELP, console, fmt_time, print_json, table
from cairn.tracking import Client

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("list")
def list_experiments(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List experiments."""
    found = Client().list_experiments()
    if as_json:
        print_json([vars(e) for e in found])
        return
    t = table("experiments", ["name", "id", "created", "creator", "description"])
    for e in found:
        t.add_row(e.name, e.id, fmt_time(e.created_at), e.creator, e.description or "")
    console.print(t)


@app.command("create")
def create(
    name: str, description: str = typer.Option(None, help="What the experiment is for.")
) -> None:
    """Create an experiment."""
    e = Client().create_experiment(name, description)
    console.print(f"created experiment {e.name} ({e.id})")
