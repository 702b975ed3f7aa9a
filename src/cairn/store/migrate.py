"""Bringing a store's schema to the one this cairn uses, through Alembic, never by rebuilding."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from cairn.errors import StoreSchemaError

# The newest revision in migrations/versions; a test checks that the two agree.
SCHEMA_HEAD = "0010"
MIGRATIONS = Path(__file__).parent / "migrations"
UPGRADE_HINT = "cairn db upgrade"


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _is_empty(conn: Connection) -> bool:
    return not inspect(conn).get_table_names()


def _alembic_config(conn: Connection):  # noqa: ANN202 - alembic is imported lazily
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def known_revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]
    return [script.revision for script in ScriptDirectory.from_config(config).walk_revisions()]


def _lock(conn: Connection) -> None:
    """Serialise migrations between processes (SQLite: the BEGIN IMMEDIATE already holds it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the store to ``target``; returns (revision before, revision after)."""
    from alembic import command

    with engine.connect().execution_options(cairn_write=True) as conn, conn.begin():
        _lock(conn)
        before = current_revision(conn)
        if before is None and not _is_empty(conn):
            raise StoreSchemaError(
                f"{engine.url.render_as_string(hide_password=True)} holds tables but is not a "
                "cairn store; point CAIRN_URI at an empty or cairn database",
                field="uri",
                value=str(engine.url),
            )
        command.upgrade(_alembic_config(conn), target)
        return before, current_revision(conn)


def ensure_schema(engine: Engine, auto_migrate: bool) -> None:
    """Check the schema on open: create a new store, upgrade an old one, or refuse clearly."""
    with engine.connect() as conn:
        revision = current_revision(conn)
        empty = revision is None and _is_empty(conn)
    if revision == SCHEMA_HEAD:
        return
    where = engine.url.render_as_string(hide_password=True)
    if revision is not None and revision not in known_revisions():
        raise StoreSchemaError(
            f"the store at {where} has schema revision {revision!r}, written by a newer cairn; "
            f"this cairn knows up to {SCHEMA_HEAD!r}: upgrade cairn",
            field="schema_revision",
            value=revision,
        )
    if empty or auto_migrate:
        upgrade(engine)
        return
    raise StoreSchemaError(
        f"the store at {where} has schema revision {revision!r} and this cairn needs "
        f"{SCHEMA_HEAD!r}; run `{UPGRADE_HINT}` (or set CAIRN_AUTO_MIGRATE=true)",
        field="schema_revision",
        value=revision,
    )
