"""Engines for the metadata store: SQLite tuned for several writing processes, or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from cairn.errors import ConfigError

BUSY_TIMEOUT_S = 60


def make_engine(uri: str) -> Engine:
    """An engine for ``uri``; SQLite gets WAL, a busy timeout and explicit write locking."""
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise ConfigError(
            f"CAIRN_URI={uri!r} is not a database URL", field="uri", value=uri
        ) from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(uri, url.database)
    if backend == "postgresql":
        if url.drivername == "postgresql":  # psycopg 3 is the driver we ship in the extra
            url = url.set(drivername="postgresql+psycopg")
        try:
            return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigError(
                f"CAIRN_URI={uri!r} needs the PostgreSQL driver: pip install 'cairn[postgres]'",
                field="uri",
                value=uri,
            ) from exc
    raise ConfigError(
        f"CAIRN_URI={uri!r}: unsupported backend {backend!r} (use sqlite:/// or postgresql://)",
        field="uri",
        value=uri,
    )


def _sqlite_engine(uri: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        uri, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Take transaction control from the sqlite3 module so that BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # A write transaction takes the write lock up front. A deferred transaction that reads
        # and then writes can fail with SQLITE_BUSY at once, without waiting, when another
        # process wrote in between; BEGIN IMMEDIATE waits for the lock instead.
        write = conn.get_execution_options().get("cairn_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
