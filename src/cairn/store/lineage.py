"""Lineage: edges between any two records, e.g. dataset version -> run -> model version.

An edge says that the record ``src`` flowed into the record ``dst`` (``relation`` says how:
``input``, ``output``, ``train``, ...). Records are named by a kind (``dataset_version``, ``run``,
later ``model_version``, ...) and their id. Every layer above the store records edges here, so
one query walks from data to deployment without any layer importing another.

Given a connection, ``add_edges`` writes in the caller's transaction, so a record and its edges
are stored together; given a store, it opens one write transaction. Both ends of an edge whose
kind has a table in ``RECORD_TABLES`` must exist (NotFound otherwise); adding an edge that is
already stored keeps the first one, with its time and creator.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, select

from cairn.core import now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import InvalidInput, NotFound
from cairn.store import Store, open_store, upsert_statement
from cairn.store.schema import (
    dataset_versions,
    deployments,
    evaluations,
    feature_definitions,
    lineage,
    model_versions,
    runs,
)

#: Record kinds whose ids are checked to exist when an edge names them, and their tables.
RECORD_TABLES: dict[str, Table] = {
    "dataset_version": dataset_versions,
    "evaluation": evaluations,
    "run": runs,
    "model_version": model_versions,
    "deployment": deployments,
    "feature_view": feature_definitions,
}

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # kinds and relations: short snake_case words
_MAX_ID = 32


@dataclass(frozen=True)
class Edge:
    """``src`` flowed into ``dst``; time and creator are filled in when the edge is stored."""

    src_kind: str
    src_id: str
    dst_kind: str
    dst_id: str
    relation: str = "input"
    created_at: datetime | None = None
    creator: str | None = None

    def __post_init__(self) -> None:
        for field in ("src_kind", "dst_kind", "relation"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise InvalidInput.for_field(
                    field, value, "a snake_case word of 1 to 32 characters, e.g. 'dataset_version'"
                )
        for field in ("src_id", "dst_id"):
            value = getattr(self, field)
            if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID:
                raise InvalidInput.for_field(field, value, f"an id of 1 to {_MAX_ID} characters")

    def to_dict(self) -> dict[str, str | None]:
        return {
            "src_kind": self.src_kind,
            "src_id": self.src_id,
            "dst_kind": self.dst_kind,
            "dst_id": self.dst_id,
            "relation": self.relation,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "creator": self.creator,
        }


def add_edges(target: Store | Connection, edges: Iterable[Edge]) -> None:
    """Store ``edges`` in one transaction: the caller's (a connection) or a new one (a store)."""
    edges = list(edges)
    if not edges:
        return
    if isinstance(target, Store):
        with target.write() as conn:
            _insert(conn, edges)
    else:
        _insert(target, edges)


def edges_to(
    kind: str,
    record_id: str,
    *,
    relation: str | None = None,
    source: Store | Connection | None = None,
) -> list[Edge]:
    """Edges ending at the record, oldest first (what flowed into it)."""
    return _edges(lineage.c.dst_kind, lineage.c.dst_id, kind, record_id, relation, source)


def edges_from(
    kind: str,
    record_id: str,
    *,
    relation: str | None = None,
    source: Store | Connection | None = None,
) -> list[Edge]:
    """Edges starting at the record, oldest first (what it flowed into)."""
    return _edges(lineage.c.src_kind, lineage.c.src_id, kind, record_id, relation, source)


def _insert(conn: Connection, edges: list[Edge]) -> None:
    _require_records(conn, edges)
    creator = settings().user
    rows = {  # one row per key: a batch may name an edge twice
        (e.src_kind, e.src_id, e.dst_kind, e.dst_id, e.relation): {
            "src_kind": e.src_kind,
            "src_id": e.src_id,
            "dst_kind": e.dst_kind,
            "dst_id": e.dst_id,
            "relation": e.relation,
            "creator": creator,
        }
        for e in edges
    }
    for row, created in zip(rows.values(), _stamps(len(rows)), strict=True):
        row["created_at"] = created
    keep_first = upsert_statement(conn.dialect.name, lineage, _KEY, None, replace=False)
    conn.execute(keep_first, list(rows.values()))


_KEY = ("src_kind", "src_id", "dst_kind", "dst_id", "relation")
_last_stamp = 0
_stamp_lock = threading.Lock()


def _stamps(count: int) -> range:
    """``count`` creation times in ms, each after the last this process gave: edges are listed
    oldest first, so edges added in one millisecond (two inputs logged one after the other, or
    one batch) keep the order they were added in rather than that of their ids."""
    global _last_stamp
    with _stamp_lock:
        first = max(now_ms(), _last_stamp + 1)
        _last_stamp = first + count - 1
    return range(first, first + count)


def _require_records(conn: Connection, edges: list[Edge]) -> None:
    """NotFound naming the first end of an edge, of a kind with a table, that does not exist."""
    wanted: dict[str, list[str]] = {}
    for edge in edges:
        for kind, record_id in ((edge.src_kind, edge.src_id), (edge.dst_kind, edge.dst_id)):
            if kind in RECORD_TABLES:
                wanted.setdefault(kind, []).append(record_id)
    for kind, ids in wanted.items():
        table = RECORD_TABLES[kind]
        found = set(conn.scalars(select(table.c.id).where(table.c.id.in_(set(ids)))))
        for record_id in ids:
            if record_id not in found:
                raise NotFound(
                    f"no {kind.replace('_', ' ')} {record_id!r}", field=kind, value=record_id
                )


def _edges(kind_col, id_col, kind, record_id, relation, source) -> list[Edge]:  # noqa: ANN001
    stmt = select(lineage).where(kind_col == kind, id_col == record_id)
    if relation is not None:
        stmt = stmt.where(lineage.c.relation == relation)
    stmt = stmt.order_by(lineage.c.created_at, lineage.c.src_id, lineage.c.dst_id)
    with _reading(source) as conn:
        rows = conn.execute(stmt).mappings().all()
    return [
        Edge(
            row["src_kind"],
            row["src_id"],
            row["dst_kind"],
            row["dst_id"],
            row["relation"],
            from_ms(row["created_at"]),
            row["creator"],
        )
        for row in rows
    ]


@contextmanager
def _reading(source: Store | Connection | None) -> Iterator[Connection]:
    if isinstance(source, Connection):
        yield source
        return
    with (source or open_store()).read() as conn:
        yield conn
