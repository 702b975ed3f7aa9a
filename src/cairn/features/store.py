"""The feature store: definitions, offline retrieval, materialization, online lookups.

``FeatureStore`` joins the metadata store (definitions, watermarks, lineage), the data versions
(sources, training sets) and an online store. Plans are resolved once per request shape and kept,
so an online lookup does no registry work: it keys the records, reads them in one round trip
and unpacks them. The offline and online paths end in the same ``transform`` step, so a derived
feature is computed by the same code for training and for serving.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, select

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import InvalidInput
from cairn.features import offline, registry
from cairn.features.definitions import (
    Definition,
    FeatureService,
    FeatureView,
    digest_of,
    load_file,
)
from cairn.features.online import OnlineStore, open_online_store
from cairn.features.plan import PANDAS_DTYPES, Plan, ViewPlan, make_plan
from cairn.features.registry import Applied
from cairn.store import Store, open_store
from cairn.store.lineage import Edge, add_edges
from cairn.store.schema import feature_materializations

if TYPE_CHECKING:
    import pandas as pd

    from cairn.data import DataService, DatasetVersion

KEY_SEPARATOR = "\x1f"  # between the parts of a composite entity key
MAX_PLANS = 256  # resolved requests kept per store, oldest dropped first


@dataclass(frozen=True)
class Materialization:
    """One window of a view version's rows written to an online store."""

    view: str
    version: int
    online_store: str
    start: datetime | None
    end: datetime
    rows: int
    written: int | None  # None in the history: only the call that wrote knows

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "version": self.version,
            "online_store": self.online_store,
            "start": None if self.start is None else self.start.isoformat(),
            "end": self.end.isoformat(),
            "rows": self.rows,
            "written": self.written,
        }


class OnlineFeatures:
    """Feature values looked up online: columns of Python values, None where missing."""

    __slots__ = ("columns", "_dtypes")

    def __init__(self, columns: dict[str, list[Any]], dtypes: dict[str, str]) -> None:
        self.columns = columns
        self._dtypes = dtypes

    def to_dict(self) -> dict[str, list[Any]]:
        return self.columns

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            {
                name: pd.Series(values, dtype=PANDAS_DTYPES.get(self._dtypes.get(name, ""), None))
                for name, values in self.columns.items()
            }
        )


@dataclass(frozen=True)
class Mismatch:
    entity: str
    feature: str
    online: Any
    offline: Any


@dataclass(frozen=True)
class SkewReport:
    """Online values against offline values of the same entities at the same time."""

    entities: int
    features: list[str]
    mismatches: list[Mismatch]
    at: datetime

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def mismatch_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.features, 0)
        for m in self.mismatches:
            counts[m.feature] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "entities": self.entities,
            "features": self.features,
            "at": self.at.isoformat(),
            "ok": self.ok,
            "mismatch_counts": self.mismatch_counts(),
            "mismatches": [m.__dict__ for m in self.mismatches[:100]],
        }


class FeatureStore:
    """A feature store over a metadata store, the data versions and an online store."""

    def __init__(
        self,
        store: Store | None = None,
        online: OnlineStore | str | None = None,
        data: DataService | None = None,
    ) -> None:
        self.store = store or open_store()
        self._online = online
        self._data = data
        self._plans: dict[Any, tuple[Any, Plan]] = {}

    @property
    def online(self) -> OnlineStore:
        if not isinstance(self._online, OnlineStore):
            self._online = open_online_store(self._online)
        return self._online

    @property
    def data(self) -> DataService:
        if self._data is None:
            from cairn.data import DataService

            self._data = DataService(self.store, settings().artifacts)
        return self._data

    def close(self) -> None:
        if isinstance(self._online, OnlineStore):
            self._online.close()

    # definitions -----------------------------------------------------------------------

    def apply(self, *definitions: Definition | Sequence[Definition] | str) -> list[Applied]:
        """Store new versions of the definitions that changed (a definitions file: its path).

        A feature service's views are applied with it.
        """
        items: list[Definition] = []
        for item in definitions:
            if isinstance(item, str):
                items.extend(definitions_in(item))
            elif isinstance(item, Sequence):
                items.extend(item)
            else:
                items.append(item)
        for item in items:  # grows as it goes: a service brings its views, a view its entities
            if isinstance(item, FeatureService):
                items.extend(item.views)
            if isinstance(item, FeatureView):
                items.extend(item.entities)
        items = list({(type(i), i.name, digest_of(i.spec())): i for i in items}.values())
        applied = registry.apply(self.store, items)
        self._plans.clear()
        return applied

    def list(self, kind: str | None = None) -> list[Applied]:
        return registry.list_latest(self.store, kind)

    def get(self, kind: str, ref: str) -> Applied:
        return registry.get(self.store, kind, ref)

    def versions(self, kind: str, name: str) -> list[Applied]:
        return registry.versions(self.store, kind, name)

    def feature_view(self, ref: str) -> FeatureView:
        return FeatureView.from_spec(self.get("feature_view", ref).spec)

    def feature_service(self, ref: str) -> FeatureService:
        return registry.service_from(self.store, self.get("feature_service", ref))

    def refresh(self) -> None:
        """Forget resolved plans, to see definitions applied by another process."""
        self._plans.clear()

    def plan(self, features: Any) -> Plan:
        key = _plan_key(features)
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        plan = make_plan(features, self._view_by_name, self.feature_service, self._applied_of)
        if len(self._plans) >= MAX_PLANS:  # callers that build a new list per call: stay bounded
            self._plans.pop(next(iter(self._plans), None), None)
        self._plans[key] = (features, plan)  # keeps the object alive, so its id stays unique
        return plan

    def _view_by_name(self, name: str) -> tuple[FeatureView, Applied]:
        applied = self.get("feature_view", name)
        return FeatureView.from_spec(applied.spec), applied

    def _applied_of(self, view: FeatureView) -> Applied | None:
        digest = digest_of(view.spec())
        for applied in reversed(_versions_or_none(self.store, view.name)):
            if applied.digest == digest:
                return applied
        return None

    # offline ---------------------------------------------------------------------------

    def get_historical_features(
        self, entity_df: Any, features: Any, *, timestamp: str | None = None
    ) -> pd.DataFrame:
        """The entity rows with, per feature, its value as it was known at the row's time.

        ``entity_df`` (pandas or Arrow) holds the join keys, a timestamp column (``timestamp``,
        or its only datetime column) and any request columns transformations read. Every row
        comes back, in order; features without a value at the row's time are null.
        """
        return self._historical(entity_df, features, timestamp)[0]

    def _historical(
        self, entity_df: Any, features: Any, timestamp: str | None
    ) -> tuple[pd.DataFrame, offline.Sources, Plan]:
        import pandas as pd

        plan = self.plan(features)
        frame = entity_df if isinstance(entity_df, pd.DataFrame) else entity_df.to_pandas()
        timestamp = timestamp or _only_timestamp(frame)
        _require_columns(frame, [*plan.join_keys, timestamp], "entity_df")
        sources = offline.Sources(offline.connect(), self._data)
        try:
            table = offline.entity_table(frame, [*plan.join_keys, timestamp])
            wanted = [(vp.view, vp.stored) for vp in plan.views if vp.stored]
            columns = offline.historical_features(sources, table, timestamp, wanted, frame.index)
        finally:
            sources.con.close()
        stored: dict[str, dict[str, Any]] = {vp.view.name: {} for vp in plan.views}
        for i, (view, names) in enumerate(wanted):
            for name in names:
                stored[view.name][name] = columns[f"f{i}.{name}"]
        return _assemble(frame, plan, stored), sources, plan

    def training_set(
        self,
        entity_df: Any,
        features: Any,
        name: str,
        *,
        timestamp: str | None = None,
        description: str | None = None,
    ) -> DatasetVersion:
        """Historical features snapshotted as a dataset version, with lineage to the views."""
        frame, sources, plan = self._historical(entity_df, features, timestamp)
        applied = [vp.require_applied() for vp in plan.views]
        version = self.data.snapshot(frame, name, description)
        edges = [
            Edge("feature_view", a.id, "dataset_version", version.id, "features") for a in applied
        ]
        edges += [
            Edge("dataset_version", read.id, "dataset_version", version.id, "source")
            for read in sources.read.values()
        ]
        add_edges(self.store, edges)
        return version

    # materialization -------------------------------------------------------------------

    def materialize(
        self,
        views: Any = None,
        *,
        start: Any = None,
        end: Any = None,
    ) -> list[Materialization]:
        """Write the newest row per entity of each view into the online store.

        Rows that arrived in [start, end) (arrival: the view's ``created`` column, else the
        event time); without ``start``, from the view's watermark in this online store (the end
        of its last materialization), so repeated calls are incremental. ``end``: now.
        """
        import pandas as pd

        end_ms = now_ms() if end is None else _ms(end, "end")
        start_ms = None if start is None else _ms(start, "start")
        if start_ms is not None and start_ms >= end_ms:
            raise InvalidInput.for_field("start", start, f"a time before end ({from_ms(end_ms)})")
        done = []
        for vp in self.applied_views(views):
            begin = start_ms if start is not None else self.watermark(vp)
            sources = offline.Sources(offline.connect(), self._data)
            try:
                rows = offline.latest_rows(
                    sources,
                    vp.view,
                    None if begin is None else pd.Timestamp(begin, unit="ms"),
                    pd.Timestamp(end_ms, unit="ms"),
                )
            finally:
                sources.con.close()
            records = vp.codec.pack(
                rows,
                rows.column(offline.TS).to_numpy(),
                rows.column(offline.CREATED),
            )
            written = self.online.write(vp.namespace, entity_keys(rows, vp.view.join_keys), records)
            with self.store.write() as conn:
                conn.execute(
                    feature_materializations.insert(),
                    {
                        "id": new_id(),
                        "view_id": vp.applied.id,
                        "online_store": self.online.uri,
                        "start_ms": begin,
                        "end_ms": end_ms,
                        "rows": rows.num_rows,
                        "created_at": now_ms(),
                        "creator": settings().user,
                    },
                )
            done.append(
                Materialization(
                    vp.view.name,
                    vp.applied.version,
                    self.online.uri,
                    from_ms(begin),
                    from_ms(end_ms),
                    rows.num_rows,
                    written,
                )
            )
        return done

    def materializations(self, view: str) -> list[Materialization]:
        """Every materialization of any version of the view, oldest first."""
        by_id = {a.id: a for a in self.versions("feature_view", view)}
        with self.store.read() as conn:
            rows = conn.execute(
                select(feature_materializations)
                .where(feature_materializations.c.view_id.in_(list(by_id)))
                .order_by(feature_materializations.c.created_at)
            ).mappings()
            return [
                Materialization(
                    view,
                    by_id[row["view_id"]].version,
                    row["online_store"],
                    from_ms(row["start_ms"]),
                    from_ms(row["end_ms"]),
                    row["rows"],
                    None,
                )
                for row in rows
            ]

    def watermark(self, vp: ViewPlan) -> int | None:
        """The end (ms) of the view version's last materialization into this online store."""
        with self.store.read() as conn:
            return conn.scalar(
                select(func.max(feature_materializations.c.end_ms)).where(
                    feature_materializations.c.view_id == vp.applied.id,
                    feature_materializations.c.online_store == self.online.uri,
                )
            )

    def applied_views(self, views: Any = None) -> list[ViewPlan]:
        """The plans of ``views`` (names, ``name:2`` refs or definitions; all when None), each
        applied: NotFound names an unknown view, InvalidInput one not applied as defined."""
        if views is None:
            views = [f"{a.name}:*" for a in self.list("feature_view")]
        elif isinstance(views, str | FeatureView):
            views = [views]
        names = [f"{v}:*" if isinstance(v, str) and ":" not in v else v for v in views]
        plans = self.plan(names).views
        for vp in plans:
            vp.require_applied()
        return plans

    # online ----------------------------------------------------------------------------

    def get_online_features(self, entity_keys: Any, features: Any) -> OnlineFeatures:
        """Feature values of the entities from the online store, as of their last
        materialization (null when missing or older than the view's time-to-live).

        ``entity_keys``: one entity as ``{"applicant_id": 42}``, several as
        ``{"applicant_id": [42, 43]}``, a list of such dicts, or a DataFrame; with the request
        columns derived features read.
        """
        plan = self.plan(features)
        columns = _key_columns(entity_keys, plan)
        if not plan.computes:
            out = dict(columns)
            out.update(self._stored_online(plan, columns))
            return OnlineFeatures(out, plan.dtypes)
        frame = self.fill_request(columns, features)
        return OnlineFeatures({c: frame[c].tolist() for c in frame.columns}, plan.dtypes)

    def fill_request(self, frame: Any, features: Any) -> pd.DataFrame:
        """The request rows completed with their features from the online store.

        ``frame`` (a DataFrame or columns) carries the join keys and the request columns;
        derived features are computed by the views' transformations, the code the offline
        path runs. This is what the model server calls for a request that carries only ids.
        """
        import pandas as pd

        plan = self.plan(features)
        frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
        _require_columns(frame, plan.join_keys, "request")
        columns = {k: frame[k].tolist() for k in plan.join_keys}
        stored: dict[str, dict[str, Any]] = {vp.view.name: {} for vp in plan.views}
        values = self._stored_online(plan, columns, by_view=True)
        for vp in plan.views:
            for name in vp.stored:
                stored[vp.view.name][name] = pd.Series(
                    values[(vp.view.name, name)],
                    dtype=PANDAS_DTYPES[_dtype(vp.view, name)],
                    index=frame.index,
                )
        return _assemble(frame, plan, stored)

    def _stored_online(
        self, plan: Plan, columns: Mapping[str, list[Any]], by_view: bool = False
    ) -> dict[Any, list[Any]]:
        """Per stored feature, its online values for the entities (None: missing or expired)."""
        out: dict[Any, list[Any]] = {}
        now = time.time_ns() // 1_000_000
        for vp, namespace, slots in plan.online_reads():
            keys = _keys(columns, vp.view.join_keys)
            if len(keys) == 1:
                records = [self.online.read_one(namespace, keys[0])]
            else:
                records = self.online.read(namespace, keys)
            ttl, unpack = vp.ttl_ms, vp.codec.unpack
            rows = []
            for record in records:
                if record is None:
                    rows.append(None)
                    continue
                event, values = unpack(record)
                rows.append(None if ttl is not None and now - event > ttl else values)
            for name, slot in zip(vp.stored, slots, strict=True):
                key = (vp.view.name, name) if by_view else name
                out[key] = [None if row is None else row[slot] for row in rows]
        return out

    # skew ------------------------------------------------------------------------------

    def check_skew(
        self, features: Any, entity_keys: Any = None, *, sample: int = 100, seed: int = 0
    ) -> SkewReport:
        """Compare online values with offline values at this moment for some entities.

        Entities: those given, or ``sample`` drawn from the views' sources. A mismatch means
        the online store is stale (not materialized since rows arrived) or was written from
        other data; derived features are computed by one code path and are not compared.
        """
        import pandas as pd

        plan = self.plan(features)
        if entity_keys is None:
            entity_keys = self._sample_entities(plan, sample, seed)
        columns = _key_columns(entity_keys, plan)
        at = pd.Timestamp(now_ms(), unit="ms")
        online = self._stored_online(plan, columns, by_view=True)
        entity_df = pd.DataFrame({**columns, "__cairn_at": at})
        offline_frame, _, _ = self._historical(
            entity_df, [vp.view[vp.stored] for vp in plan.views if vp.stored], "__cairn_at"
        )
        keys = _keys(columns, plan.join_keys)
        mismatches, names = [], []
        for vp in plan.views:
            for name in vp.stored:
                names.append(f"{vp.view.name}:{name}")
                theirs = offline_frame[name].tolist()
                for key, a, b in zip(keys, online[(vp.view.name, name)], theirs, strict=True):
                    if not _same(a, b):
                        mismatches.append(Mismatch(key, f"{vp.view.name}:{name}", a, b))
        return SkewReport(len(keys), names, mismatches, at.to_pydatetime())

    def _sample_entities(self, plan: Plan, sample: int, seed: int) -> dict[str, list[Any]]:
        sources = offline.Sources(offline.connect(), self._data)
        keys = ", ".join(offline.quote(k) for k in plan.join_keys)
        vp = next(vp for vp in plan.views if set(vp.view.join_keys) == set(plan.join_keys))
        try:
            rows = sources.con.sql(
                f"SELECT DISTINCT {keys} FROM ({offline.view_rows(sources, vp.view)}) "
                f"ORDER BY hash({keys}, {int(seed)}) LIMIT {int(sample)}"
            ).to_arrow_table()
        finally:
            sources.con.close()
        return {k: rows.column(k).to_pylist() for k in plan.join_keys}


# --- helpers ------------------------------------------------------------------------------


def definitions_in(path: str) -> list[Definition]:
    """Every Entity, FeatureView and FeatureService defined at the top of a Python file."""
    from cairn.features.definitions import KINDS

    module = load_file(path)
    found = [v for v in vars(module).values() if type(v) in KINDS]
    if not found:
        raise InvalidInput.for_field("path", path, "a Python file that defines feature views")
    return found


def entity_keys(table: pa.Table, join_keys: Sequence[str]) -> list[str]:
    """The online key of each row: its join key values as text (joined when composite)."""
    parts = [pc.cast(table.column(k), pa.string()) for k in join_keys]
    if len(parts) == 1:
        return parts[0].to_pylist()
    return pc.binary_join_element_wise(*parts, KEY_SEPARATOR).to_pylist()


def _keys(columns: Mapping[str, list[Any]], join_keys: Sequence[str]) -> list[str]:
    if len(join_keys) == 1:
        return [str(v) for v in columns[join_keys[0]]]
    return [
        KEY_SEPARATOR.join(map(str, row))
        for row in zip(*(columns[k] for k in join_keys), strict=True)
    ]


def _key_columns(entity_keys: Any, plan: Plan) -> dict[str, list[Any]]:
    """Entity keys (and request values) as columns of equal length."""
    if isinstance(entity_keys, Mapping):  # the common case first: it is on the hot path
        columns = {k: _as_list(v) for k, v in entity_keys.items()}
    elif isinstance(entity_keys, list) and all(isinstance(r, Mapping) for r in entity_keys):
        names = list(dict.fromkeys(k for row in entity_keys for k in row))
        columns = {k: [row.get(k) for row in entity_keys] for k in names}
    elif hasattr(entity_keys, "columns") and hasattr(entity_keys, "to_dict"):  # a DataFrame
        columns = {c: entity_keys[c].tolist() for c in entity_keys.columns}
    else:
        raise InvalidInput.for_field(
            "entity_keys", entity_keys, "a mapping of join key to value(s), rows or a DataFrame"
        )
    for key in plan.join_keys:
        if key not in columns:
            raise InvalidInput(
                f"entity key {key!r} is missing; the features asked for need: "
                + ", ".join(plan.join_keys),
                field="entity_keys",
                value=key,
            )
    return columns


def _as_list(value: Any) -> list[Any]:
    """One value, or a list, tuple, array or Series of values, as a list."""
    if type(value) is list:
        return value
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist"):
        found = value.tolist()
        return found if isinstance(found, list) else [found]
    return [value]


def _require_columns(frame: Any, columns: Sequence[str], field: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise InvalidInput(
                f"{field} has no column {column!r}; it needs: {', '.join(columns)}",
                field=field,
                value=column,
            )


def _only_timestamp(frame: pd.DataFrame) -> str:
    import pandas as pd

    found = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    if len(found) != 1:
        raise InvalidInput.for_field(
            "timestamp", None, f"the timestamp column of entity_df (datetime columns: {found})"
        )
    return found[0]


def _assemble(frame: pd.DataFrame, plan: Plan, stored: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The frame with the features asked for, derived ones computed by their transformation."""
    import pandas as pd

    derived: dict[str, dict[str, Any]] = {}
    for vp in plan.views:
        if vp.derived:
            derived[vp.view.name] = transform(vp.view, stored[vp.view.name], frame)
    columns = {}
    for vp, name in plan.outputs:
        source = stored if name in stored[vp.view.name] else derived
        columns[name] = source[vp.view.name][name]
    # copy=False: the columns are fresh arrays no one else holds (copy-on-write guards them);
    # copying a million rows of each again was a sixth of the retrieval time
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index, copy=False)], axis=1)


def transform(view: FeatureView, stored: dict[str, Any], request: pd.DataFrame) -> dict[str, Any]:
    """Run the view's transformation on its stored features and the request columns."""
    import pandas as pd

    _require_columns(request, [f.name for f in view.request], "request")
    inputs = pd.DataFrame(
        {**stored, **{f.name: request[f.name] for f in view.request}}, index=request.index
    )
    out = view.transform_function()(inputs)
    result = {}
    for f in view.derived:
        if f.name not in out:
            raise InvalidInput(
                f"the transformation of feature view {view.name!r} returned no column {f.name!r}",
                field="derived",
                value=f.name,
            )
        result[f.name] = pd.Series(out[f.name], index=request.index).astype(PANDAS_DTYPES[f.dtype])
    return result


def _dtype(view: FeatureView, name: str) -> str:
    return next(f.dtype for f in (*view.features, *view.derived) if f.name == name)


def _same(a: Any, b: Any) -> bool:
    import math

    import pandas as pd

    a_missing = a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NA
    b_missing = b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA
    if a_missing or b_missing:
        return a_missing and b_missing
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def _ms(when: Any, field: str) -> int:
    import pandas as pd

    try:
        stamp = pd.Timestamp(when)
    except (TypeError, ValueError) as exc:
        raise InvalidInput.for_field(field, when, "a time (datetime or ISO text)") from exc
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.value // 1_000_000


def _plan_key(features: Any) -> Any:
    if isinstance(features, str):
        return features
    if isinstance(features, list | tuple) and all(isinstance(f, str) for f in features):
        return tuple(features)
    return id(features)


def _versions_or_none(store: Store, name: str) -> list[Applied]:
    from cairn.errors import NotFound

    try:
        return registry.versions(store, "feature_view", name)
    except NotFound:
        return []
