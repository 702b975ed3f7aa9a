"""Applied definitions, versioned in the metadata store.

``apply`` stores each entity, feature view and feature service whose spec differs from its latest
version as the next version, in one transaction; an unchanged one keeps its version. Old
versions stay readable (``get(kind, "name@2")``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import InvalidInput, NotFound
from cairn.features.definitions import (
    KINDS,
    Definition,
    Entity,
    FeatureService,
    FeatureView,
    check_name,
    digest_of,
)
from cairn.store import Store
from cairn.store.schema import feature_definitions


@dataclass(frozen=True)
class Applied:
    """One stored version of a definition."""

    id: str
    kind: str
    name: str
    version: int
    digest: str
    spec: dict[str, Any]
    created_at: datetime
    creator: str
    changed: bool = False  # set by apply: this call stored it

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "digest": self.digest,
            "spec": self.spec,
            "created_at": self.created_at.isoformat(),
            "creator": self.creator,
        }


def apply(store: Store, definitions: Iterable[Definition]) -> list[Applied]:
    """Store every definition that changed as its next version; all or nothing."""
    items = list(definitions)
    for item in items:
        if type(item) not in KINDS:
            raise InvalidInput.for_field(
                "definitions", item, "Entity, FeatureView or FeatureService objects"
            )
    _check_unique_names(items)
    applied = []
    with store.write() as conn:
        for item in items:
            applied.append(_apply_one(conn, KINDS[type(item)], item.name, item.spec()))
    return applied


def _check_unique_names(items: list[Definition]) -> None:
    seen: dict[tuple[str, str], Definition] = {}
    for item in items:
        key = (KINDS[type(item)], item.name)
        if key in seen and seen[key].spec() != item.spec():
            raise InvalidInput(
                f"two different {key[0].replace('_', ' ')}s are named {item.name!r}",
                field=key[0],
                value=item.name,
            )
        seen[key] = item


def _apply_one(conn: Connection, kind: str, name: str, spec: dict[str, Any]) -> Applied:
    digest = digest_of(spec)
    latest = _latest(conn, kind, name)
    if latest is not None and latest.digest == digest:
        return latest
    row = {
        "id": new_id(),
        "kind": kind,
        "name": name,
        "version": (latest.version if latest else 0) + 1,
        "digest": digest,
        "spec": json.dumps(spec, sort_keys=True),
        "created_at": now_ms(),
        "creator": settings().user,
    }
    conn.execute(feature_definitions.insert(), row)
    return _applied(row, changed=True)


def _latest(conn: Connection, kind: str, name: str) -> Applied | None:
    row = (
        conn.execute(
            select(feature_definitions)
            .where(feature_definitions.c.kind == kind, feature_definitions.c.name == name)
            .order_by(feature_definitions.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else _applied(row)


def get(store: Store, kind: str, ref: str) -> Applied:
    """The version ``ref`` names: ``name`` or ``name@latest`` (the latest), or ``name@3``."""
    name, _, selector = ref.partition("@")
    check_name(kind, name)
    stmt = select(feature_definitions).where(
        feature_definitions.c.kind == kind, feature_definitions.c.name == name
    )
    if selector and selector != "latest":
        if not selector.isdigit():
            raise InvalidInput.for_field(kind, ref, "name, name@latest or name@N")
        stmt = stmt.where(feature_definitions.c.version == int(selector))
    stmt = stmt.order_by(feature_definitions.c.version.desc()).limit(1)
    with store.read() as conn:
        row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFound.for_field(kind.replace("_", " "), ref)
    return _applied(row)


def versions(store: Store, kind: str, name: str) -> list[Applied]:
    with store.read() as conn:
        rows = conn.execute(
            select(feature_definitions)
            .where(feature_definitions.c.kind == kind, feature_definitions.c.name == name)
            .order_by(feature_definitions.c.version)
        ).mappings()
        found = [_applied(row) for row in rows]
    if not found:
        raise NotFound.for_field(kind.replace("_", " "), name)
    return found


def list_latest(store: Store, kind: str | None = None) -> list[Applied]:
    """The latest version of every definition (of one kind), by kind and name."""
    newest = (
        select(
            feature_definitions.c.kind,
            feature_definitions.c.name,
            func.max(feature_definitions.c.version).label("version"),
        )
        .group_by(feature_definitions.c.kind, feature_definitions.c.name)
        .subquery()
    )
    stmt = select(feature_definitions).join(
        newest,
        (newest.c.kind == feature_definitions.c.kind)
        & (newest.c.name == feature_definitions.c.name)
        & (newest.c.version == feature_definitions.c.version),
    )
    if kind is not None:
        stmt = stmt.where(feature_definitions.c.kind == kind)
    stmt = stmt.order_by(feature_definitions.c.kind, feature_definitions.c.name)
    with store.read() as conn:
        return [_applied(row) for row in conn.execute(stmt).mappings()]


def build(applied: Applied) -> Definition:
    """The definition object a stored version describes (a service's views: their latest)."""
    if applied.kind == "entity":
        return Entity.from_spec(applied.spec)
    if applied.kind == "feature_view":
        return FeatureView.from_spec(applied.spec)
    raise InvalidInput.for_field("kind", applied.kind, "entity or feature_view")


def _applied(row: Any, changed: bool = False) -> Applied:
    return Applied(
        id=row["id"],
        kind=row["kind"],
        name=row["name"],
        version=row["version"],
        digest=row["digest"],
        spec=json.loads(row["spec"]),
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
        changed=changed,
    )


def service_from(store: Store, applied: Applied) -> FeatureService:
    """A stored feature service, over the latest versions of its views."""
    by_view: dict[str, list[str]] = {}
    for ref in applied.spec["features"]:
        view, _, feature = ref.partition(":")
        by_view.setdefault(view, []).append(feature)
    items = []
    for view_name, names in by_view.items():
        view = FeatureView.from_spec(get(store, "feature_view", view_name).spec)
        items.append(view if list(view.feature_names) == names else view[names])
    return FeatureService(applied.name, items, applied.spec.get("description", ""))
