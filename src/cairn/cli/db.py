"""``cairn db``: the metadata store's schema."""

from __future__ import annotations

import typer

from cairn.cli.output import console
from cairn.core import settings
from cairn.store import SCHEMA_HEAD
from cairn.store.engine import make_engine
from cairn.store.migrate import current_revision, upgrade

app = typer.Typer(help="The metadata store's schema.", no_args_is_help=True)


@app.command("status")
def status() -> None:
    """Show the store's schema revision and the one this cairn needs."""
    engine = make_engine(settings().uri)
    with engine.connect() as conn:
        revision = current_revision(conn)
    state = "up to date" if revision == SCHEMA_HEAD else "needs `cairn db upgrade`"
    console.print(
        f"store {settings().uri}\nrevision {revision or 'none'}; this cairn needs {SCHEMA_HEAD}: {state}"
    )


@app.command("upgrade")
def upgrade_cmd() -> None:
    """Upgrade the store's schema to this cairn's, keeping every record."""
    before, after = upgrade(make_engine(settings().uri))
    if before == after:
        console.print(f"already at revision {after}")
    else:
        console.print(f"upgraded from revision {before or 'none'} to {after}")
