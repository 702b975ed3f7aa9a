"""The metadata store: every record cairn keeps, in SQLite (embedded) or PostgreSQL.

Contract: ``Store.read()`` and ``Store.write()`` each yield a connection inside one transaction;
everything done in it is committed together or not at all. Writes from several threads and
processes are safe: on SQLite a write transaction takes the write lock up front and waits up to
a minute for it. A ``Store`` is cheap to share; ``open_store`` returns one per URI per process.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, Select, Table

from cairn.errors import NotFound
from cairn.store import schema
from cairn.store.engine import make_engine
from cairn.store.migrate import SCHEMA_HEAD, ensure_schema, upgrade

__all__ = ["SCHEMA_HEAD", "Store", "open_store", "schema", "upgrade"]


class Store:
    """A metadata store over one SQLAlchemy engine."""

    def __init__(self, uri: str, *, auto_migrate: bool = True) -> None:
        self.uri = uri
        self.engine: Engine = make_engine(uri)
        self.dialect = self.engine.dialect.name
        # for hand-written SQL on hot paths: sqlite3 takes ?, psycopg takes %s
        self.placeholder = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        ensure_schema(self.engine, auto_migrate)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(cairn_write=True) as conn, conn.begin():
            yield conn

    def upsert(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        *,
        only_if_newer: str | None = None,
        replace: bool = True,
    ) -> None:
        """Insert ``rows``, replacing the non-key columns of rows whose ``keys`` exist.

        With ``only_if_newer=col`` an existing row is replaced only when the new ``col`` is at
        least the stored one (how latest_metrics keeps the last step); with ``replace=False``
        an existing row is left as it is.
        """
        if rows:
            stmt = upsert_statement(self.dialect, table, tuple(keys), only_if_newer, replace)
            conn.execute(stmt, rows)

    @staticmethod
    def one(conn: Connection, stmt: Select, field: str, value: Any) -> RowMapping:
        """The first row ``stmt`` selects; NotFound naming ``field`` and ``value`` when none."""
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFound.for_field(field, value)
        return row

    def close(self) -> None:
        self.engine.dispose()


@functools.cache
def upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], only_if_newer: str | None, replace: bool
) -> Any:
    """The statement ``Store.upsert`` runs (for callers holding only a connection, too), built
    once: building ``excluded`` makes a copy of every column of the table, most of the cost of
    a one-row upsert."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    if not replace:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    update = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    where = None
    if only_if_newer is not None:
        where = stmt.excluded[only_if_newer] >= table.c[only_if_newer]
    return stmt.on_conflict_do_update(index_elements=keys, set_=update, where=where)


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(uri: str | None = None) -> Store:
    """The store for ``uri`` (default: the ``CAIRN_URI`` setting), shared within this process."""
    from cairn.core.config import settings

    config = settings()
    uri = uri or config.uri
    with _stores_lock:
        store = _stores.get(uri)
        if store is None:
            store = _stores[uri] = Store(uri, auto_migrate=config.auto_migrate)
        return store


def _forget_after_fork() -> None:
    # A forked child must not reuse its parent's pooled connections.
    for store in _stores.values():
        store.engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_after_fork)
