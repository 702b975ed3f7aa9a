"""The offline path: feature rows read from their sources and joined in DuckDB.

``historical_features`` is point-in-time correct: each entity row gets, per view, the latest
source row of its entity whose event time is at or before the row's time (an ASOF join), or
nulls when that row is older than the view's time-to-live or there is none. Nothing later than
the row's time can leak in. ``latest_rows`` gives the newest row of each entity within a window,
what materialization writes to the online store. Both read a view's rows through
``view_rows``, so they see the same data and the same tie rule.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from cairn.errors import InvalidInput
from cairn.features.definitions import DTYPES, DatasetSource, FeatureView, ParquetSource

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from cairn.data import DataService, DatasetVersion

ROW = "__cairn_row"
TS = "__cairn_ts"
CREATED = "__cairn_created"


_database: duckdb.DuckDBPyConnection | None = None
_database_lock = threading.Lock()


def connect() -> duckdb.DuckDBPyConnection:
    """A connection (a cursor of one in-memory DuckDB kept per process: opening a database
    costs tens of milliseconds) in UTC, so timestamps with a zone become UTC times without one.
    Its temporary views and registrations are its own and go when it is closed."""
    global _database
    import duckdb

    with _database_lock:
        if _database is None:
            _database = duckdb.connect()
        con = _database.cursor()
    con.execute("SET TimeZone = 'UTC'")
    return con


#: Databases a forked child inherited: kept, never closed there (closing joins threads that
#: exist only in the parent, and crashes the child).
_inherited: list[duckdb.DuckDBPyConnection] = []


def _forget_after_fork() -> None:
    global _database
    if _database is not None:  # a forked child must not use its parent's database
        _inherited.append(_database)
    _database = None


os.register_at_fork(after_in_child=_forget_after_fork)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Sources:
    """Source relations registered in one DuckDB connection, and the dataset versions read."""

    con: duckdb.DuckDBPyConnection
    data: DataService | None = None
    read: dict[str, DatasetVersion] = field(default_factory=dict)  # view name -> version
    _names: dict[str, str] = field(default_factory=dict)

    def relation(self, view: FeatureView) -> str:
        """The name of a DuckDB view over the view's source, created on first use."""
        if view.name in self._names:
            return self._names[view.name]
        name = f"__cairn_source_{len(self._names)}"
        self.con.execute(f"CREATE TEMP VIEW {name} AS {self._select(view)}")
        columns = {row[0] for row in self.con.execute(f"DESCRIBE {name}").fetchall()}
        needed = [*view.join_keys, view.timestamp, *(f.name for f in view.features)]
        if view.created:
            needed.append(view.created)
        for column in needed:
            if column not in columns:
                raise InvalidInput(
                    f"the source of feature view {view.name!r} has no column {column!r}; "
                    f"it has: {', '.join(sorted(columns))}",
                    field=f"{view.name}.source",
                    value=column,
                )
        self._names[view.name] = name
        return name

    def _select(self, view: FeatureView) -> str:
        source = view.source
        if isinstance(source, ParquetSource):
            return f"SELECT * FROM read_parquet({_literal(source.path)})"
        if isinstance(source, DatasetSource):
            return self._dataset_select(view, source)
        return source.query

    def _dataset_select(self, view: FeatureView, source: DatasetSource) -> str:
        """Read a table version's Parquet blob in place when it is local, else from memory."""
        from cairn.artifacts.local import LocalArtifactStore
        from cairn.data import Kind, data_service

        data = self.data = self.data or data_service()
        version = data.get_version(source.ref)
        self.read[view.name] = version
        if version.kind is not Kind.TABLE:
            return f"SELECT * FROM read_parquet({_literal(str(data.load(version)))})"
        if isinstance(data.artifacts, LocalArtifactStore):
            paths = [str(data.artifacts.object_path(d)) for d in data.table_parts(version)]
            return f"SELECT * FROM read_parquet([{', '.join(map(_literal, paths))}])"
        name = f"__cairn_dataset_{len(self.read)}"
        self.con.register(name, data.read_table(version))
        return f"SELECT * FROM {name}"


def view_rows(sources: Sources, view: FeatureView) -> str:
    """SQL of the view's rows: join keys, event time, arrival time, typed features.

    With a ``created`` column, rows of one entity with the same event time are reduced to the
    latest arrival (a correction replaces what it corrects). Without one they are taken as
    copies of one fact and either may be returned.
    """
    relation = sources.relation(view)
    keys = ", ".join(quote(k) for k in view.join_keys)
    features = ", ".join(
        f"CAST({quote(f.name)} AS {DTYPES[f.dtype]}) AS {quote(f.name)}" for f in view.features
    )
    created = f"CAST({quote(view.created)} AS TIMESTAMP)" if view.created else "NULL::TIMESTAMP"
    rows = (
        f"SELECT {keys}, CAST({quote(view.timestamp)} AS TIMESTAMP) AS {TS}, "
        f"{created} AS {CREATED}, {features} FROM {relation}"
    )
    if view.created:
        rows += (
            f" QUALIFY row_number() OVER (PARTITION BY {keys}, {TS} "
            f"ORDER BY {CREATED} DESC NULLS LAST) = 1"
        )
    return rows


def historical_features(
    sources: Sources,
    entities: pa.Table,
    timestamp: str,
    plan: list[tuple[FeatureView, list[str]]],
    index: Any,
) -> pd.DataFrame:
    """The point-in-time values of the stored features for the entity rows, in their order
    and with their ``index``.

    ``entities`` holds the join keys and ``timestamp``; ``plan`` the views and the stored
    features wanted from each. Column ``f{i}.{name}``: feature ``name`` of the i-th view.
    """
    con = sources.con
    con.register(
        "__cairn_entities", entities.append_column(ROW, pa.array(np.arange(len(entities))))
    )
    selects, joins = [f"e.{ROW}"], []
    entity_ts = f"CAST(e.{quote(timestamp)} AS TIMESTAMP)"
    for i, (view, names) in enumerate(plan):
        alias = f"f{i}"
        on = " AND ".join(f"e.{quote(k)} = {alias}.{quote(k)}" for k in view.join_keys)
        wanted = ", ".join(quote(n) for n in names)
        keys = ", ".join(quote(k) for k in view.join_keys)
        joins.append(
            f"ASOF LEFT JOIN (SELECT {keys}, {TS}, {wanted} FROM ({view_rows(sources, view)})) "
            f"{alias} ON {on} AND {entity_ts} >= {alias}.{TS}"
        )
        for name in names:
            value = f"{alias}.{quote(name)}"
            if view.ttl is not None:
                ttl_us = int(view.ttl.total_seconds() * 1_000_000)
                value = (
                    f"CASE WHEN {entity_ts} - {alias}.{TS} <= to_microseconds({ttl_us}) "
                    f"THEN {value} END"
                )
            selects.append(f"{value} AS {quote(f'{alias}.{name}')}")
    query = f"SELECT {', '.join(selects)} FROM __cairn_entities e {' '.join(joins)}"
    try:
        result = con.sql(query).to_arrow_table()
    finally:
        con.unregister("__cairn_entities")
    # ASOF joins do not keep the entity order: put the rows back with the inverse permutation
    # (a take on pandas' consolidated blocks is the cheapest way measured)
    rows = result.column(0).to_numpy()
    order = np.empty(len(rows), dtype=np.int64)
    order[rows] = np.arange(len(rows))
    frame = result.drop_columns([ROW]).to_pandas(types_mapper=_pandas_type).take(order)
    frame.index = index
    return frame


def _pandas_type(arrow_type: pa.DataType) -> Any:
    """The nullable pandas dtype of an int or bool feature (as ``PANDAS_DTYPES``), else None."""
    import pandas as pd

    if arrow_type == pa.int64():
        return pd.Int64Dtype()
    return pd.BooleanDtype() if arrow_type == pa.bool_() else None


def latest_rows(sources: Sources, view: FeatureView, start: Any | None, end: Any) -> pa.Table:
    """The newest row of each entity among those that arrived in [start, end).

    Arrival is the ``created`` column when the view has one (so late rows are caught by the
    next window), else the event time. Columns: join keys, event and arrival times in epoch
    milliseconds, then the stored features.
    """
    arrival = CREATED if view.created else TS
    where = [f"{arrival} < make_timestamp({_epoch_us(end)})"]
    if start is not None:
        where.append(f"{arrival} >= make_timestamp({_epoch_us(start)})")
    keys = ", ".join(quote(k) for k in view.join_keys)
    features = ", ".join(quote(f.name) for f in view.features)
    query = (
        f"SELECT {keys}, epoch_ms({TS}) AS {TS}, epoch_ms({CREATED}) AS {CREATED}, {features} "
        f"FROM ({view_rows(sources, view)}) WHERE {' AND '.join(where)} "
        f"QUALIFY row_number() OVER (PARTITION BY {keys} "
        f"ORDER BY {TS} DESC, {CREATED} DESC NULLS LAST) = 1"
    )
    return sources.con.sql(query).to_arrow_table()


def _epoch_us(when: Any) -> int:
    import pandas as pd

    stamp = pd.Timestamp(when)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.value // 1000


def entity_table(frame: pd.DataFrame | pa.Table, columns: list[str]) -> pa.Table:
    """The named columns of the entity frame as an Arrow table."""
    if isinstance(frame, pa.Table):
        return frame.select(columns)
    return pa.Table.from_pandas(frame[columns], preserve_index=False)
