"""What a feature store is told in Python: entities, sources, feature views, feature services.

Definitions are plain frozen objects (the constructor checks and stores, work happens elsewhere)
with a canonical JSON ``spec()``; its digest says whether an applied definition changed, and the
registry rebuilds the object from it. A view's transformation is a Python function: its spec is
where to import it from and the digest of its source, so a changed function is a new version
and a stale one is refused rather than run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cairn.errors import Conflict, InvalidInput, NotFound

#: Feature types: DuckDB's name for each, used when reading sources.
DTYPES: dict[str, str] = {
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
}
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,127}")
_NAME_HELP = "1 to 128 lower-case letters, digits, _ or -, e.g. 'applicant_profile'"
_COLUMN_HELP = "a column name: a letter or _ then letters, digits or _"


def check_name(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput.for_field(field_name, value, _NAME_HELP)
    return value


def _check_column(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _COLUMN.fullmatch(value):
        raise InvalidInput.for_field(field_name, value, _COLUMN_HELP)
    return value


def digest_of(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


# --- entities and features -------------------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """What features describe (an applicant, a merchant), found by its join key columns."""

    name: str
    join_keys: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        check_name("entity", self.name)
        keys = (self.join_keys,) if isinstance(self.join_keys, str) else tuple(self.join_keys)
        object.__setattr__(self, "join_keys", keys or (self.name,))
        for key in self.join_keys:
            _check_column("join_keys", key)

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "description": self.description,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Entity:
        return cls(spec["name"], tuple(spec["join_keys"]), spec.get("description", ""))


@dataclass(frozen=True)
class Feature:
    """A typed feature column: ``dtype`` is one of int64, float64, bool, string."""

    name: str
    dtype: str = "float64"

    def __post_init__(self) -> None:
        _check_column("feature", self.name)
        if self.dtype not in DTYPES:
            raise InvalidInput.for_field(
                f"{self.name}.dtype", self.dtype, f"one of {', '.join(DTYPES)}"
            )

    def spec(self) -> list[str]:
        return [self.name, self.dtype]


def _features(field_name: str, values: Any) -> tuple[Feature, ...]:
    """Features from Feature objects, (name, dtype) pairs or a {name: dtype} mapping."""
    if isinstance(values, dict):
        values = list(values.items())
    if isinstance(values, str | Feature):
        values = [values]
    found = []
    for value in values or ():
        if isinstance(value, Feature):
            found.append(value)
        elif isinstance(value, list | tuple) and len(value) == 2:
            found.append(Feature(*value))
        else:
            raise InvalidInput.for_field(field_name, value, "a Feature or a (name, dtype) pair")
    return tuple(found)


# --- sources ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParquetSource:
    """Parquet files: one path, or a glob such as ``features/*.parquet``."""

    path: str

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | Path) or not str(self.path):
            raise InvalidInput.for_field("path", self.path, "the path of a Parquet file or glob")
        object.__setattr__(self, "path", str(Path(self.path).expanduser().absolute()))

    def spec(self) -> dict[str, Any]:
        return {"kind": "parquet", "path": self.path}


@dataclass(frozen=True)
class DatasetSource:
    """A cairn dataset version (``name@3``, or ``name@latest``: resolved at each read)."""

    ref: str

    def __post_init__(self) -> None:
        if not isinstance(self.ref, str) or not self.ref.strip():
            raise InvalidInput.for_field("ref", self.ref, "a dataset version such as 'credit@3'")

    def spec(self) -> dict[str, Any]:
        return {"kind": "dataset", "ref": self.ref}


@dataclass(frozen=True)
class SqlSource:
    """A DuckDB query whose result holds the rows, e.g. over ``read_parquet(...)``."""

    query: str

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or not self.query.strip():
            raise InvalidInput.for_field("query", self.query, "a DuckDB SELECT query")

    def spec(self) -> dict[str, Any]:
        return {"kind": "sql", "query": self.query}


Source = ParquetSource | DatasetSource | SqlSource
_SOURCES = {"parquet": ParquetSource, "dataset": DatasetSource, "sql": SqlSource}


def source_from_spec(spec: dict[str, Any]) -> Source:
    kind = spec["kind"]
    return _SOURCES[kind](*(v for k, v in spec.items() if k != "kind"))


# --- transformations --------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformationRef:
    """Where a transformation function lives, and the digest of its source when applied."""

    module: str
    qualname: str
    file: str | None
    digest: str

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> TransformationRef:
        if not callable(fn) or "<" in getattr(fn, "__qualname__", "<"):
            raise InvalidInput.for_field(
                "transformation",
                getattr(fn, "__qualname__", fn),
                "a function defined at the top level of a module (not a lambda or closure)",
            )
        file = inspect.getsourcefile(fn)
        return cls(fn.__module__, fn.__qualname__, file, _source_digest(fn))

    def load(self) -> Callable[..., Any]:
        """The function, imported; Conflict if its source changed since it was applied."""
        fn = _import(self.module, self.qualname, self.file)
        if _source_digest(fn) != self.digest:
            raise Conflict(
                f"transformation {self.module}.{self.qualname} changed since it was applied: "
                "apply the definitions again",
                field="transformation",
                value=f"{self.module}.{self.qualname}",
            )
        return fn

    def spec(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "qualname": self.qualname,
            "file": self.file,
            "digest": self.digest,
        }


def _source_digest(fn: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()


def _import(module: str, qualname: str, file: str | None) -> Callable[..., Any]:
    loaded = sys.modules.get(module)
    if loaded is None or not hasattr(loaded, qualname.split(".")[0]):
        try:
            loaded = importlib.import_module(module) if module != "__main__" else None
        except ImportError:
            loaded = None
        if loaded is None and file and Path(file).is_file():
            loaded = load_file(file)
    obj: Any = loaded
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not callable(obj):
        raise InvalidInput(
            f"cannot import transformation {module}.{qualname} (from {file})",
            field="transformation",
            value=f"{module}.{qualname}",
        )
    return obj


def load_file(path: str | Path) -> Any:
    """Import a Python file as a module of its own (definitions files, CLI ``apply``), afresh:
    an edited file is read again."""
    path = Path(path).absolute()
    name = f"cairn_features_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput.for_field("path", str(path), "a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# --- feature views and services ---------------------------------------------------------------


@dataclass(frozen=True)
class FeatureView:
    """Typed features of one or more entities, read from a source at their event times.

    ``features`` are columns of the source. ``timestamp`` is the source's event time column;
    ``created`` an optional column saying when a row arrived: among rows of one entity with the
    same event time the latest arrival wins, and incremental materialization follows arrivals,
    so late rows are not missed. A value older than ``ttl`` at the time it is asked for is null.

    ``transformation(frame) -> frame`` computes the ``derived`` features from the stored ones
    and the ``request`` columns (values known only when asked, e.g. the loan amount applied
    for). It runs after every lookup, offline and online, so both paths share one code. It
    must work row by row (vectorised), never across rows.
    """

    name: str
    entities: Sequence[Entity]
    source: Source
    features: Sequence[Feature]
    timestamp: str
    created: str | None = None
    ttl: timedelta | None = None
    transformation: Callable[..., Any] | TransformationRef | None = None
    derived: Sequence[Feature] = ()
    request: Sequence[Feature] = ()
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("feature_view", self.name)
        entities = (self.entities,) if isinstance(self.entities, Entity) else tuple(self.entities)
        if not entities or not all(isinstance(e, Entity) for e in entities):
            raise InvalidInput.for_field("entities", self.entities, "one or more Entity")
        object.__setattr__(self, "entities", entities)
        if not isinstance(self.source, ParquetSource | DatasetSource | SqlSource):
            raise InvalidInput.for_field(
                "source", self.source, "a ParquetSource, DatasetSource or SqlSource"
            )
        for name in ("features", "derived", "request"):
            object.__setattr__(self, name, _features(name, getattr(self, name)))
        if not self.features:
            raise InvalidInput.for_field("features", self.features, "at least one feature")
        _check_column("timestamp", self.timestamp)
        if self.created is not None:
            _check_column("created", self.created)
        if self.ttl is not None and (
            not isinstance(self.ttl, timedelta) or self.ttl <= timedelta(0)
        ):
            raise InvalidInput.for_field("ttl", self.ttl, "a positive timedelta or None")
        if bool(self.derived) != (self.transformation is not None):
            raise InvalidInput.for_field(
                "derived", [f.name for f in self.derived], "derived features with a transformation"
            )
        if callable(self.transformation) and not isinstance(self.transformation, TransformationRef):
            TransformationRef.of(self.transformation)  # refuse lambdas and closures now
        taken = list(self.join_keys) + [self.timestamp]
        for f in (*self.features, *self.derived, *self.request):
            if f.name in taken:
                raise InvalidInput(
                    f"feature view {self.name!r}: column {f.name!r} is declared twice",
                    field="feature",
                    value=f.name,
                )
            taken.append(f.name)

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(key for entity in self.entities for key in entity.join_keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Every feature this view serves: the stored ones, then the derived ones."""
        return tuple(f.name for f in (*self.features, *self.derived))

    def __getitem__(self, names: str | Sequence[str]) -> FeatureSelection:
        """``view["a", "b"]``: some of this view's features, for a service."""
        return FeatureSelection(self, (names,) if isinstance(names, str) else tuple(names))

    def transform_function(self) -> Callable[..., Any] | None:
        if isinstance(self.transformation, TransformationRef):
            return self.transformation.load()
        return self.transformation

    def spec(self) -> dict[str, Any]:
        fn = self.transformation
        ref = TransformationRef.of(fn) if fn is not None and callable(fn) else fn
        return {
            "name": self.name,
            "entities": [e.spec() for e in self.entities],
            "source": self.source.spec(),
            "features": [f.spec() for f in self.features],
            "timestamp": self.timestamp,
            "created": self.created,
            "ttl_seconds": None if self.ttl is None else self.ttl.total_seconds(),
            "transformation": None if ref is None else ref.spec(),
            "derived": [f.spec() for f in self.derived],
            "request": [f.spec() for f in self.request],
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FeatureView:
        ttl = spec["ttl_seconds"]
        ref = spec["transformation"]
        return cls(
            name=spec["name"],
            entities=tuple(Entity.from_spec(e) for e in spec["entities"]),
            source=source_from_spec(spec["source"]),
            features=tuple(Feature(*f) for f in spec["features"]),
            timestamp=spec["timestamp"],
            created=spec["created"],
            ttl=None if ttl is None else timedelta(seconds=ttl),
            transformation=None if ref is None else TransformationRef(**ref),
            derived=tuple(Feature(*f) for f in spec["derived"]),
            request=tuple(Feature(*f) for f in spec["request"]),
            description=spec.get("description", ""),
            tags=spec.get("tags", {}),
        )


@dataclass(frozen=True)
class FeatureSelection:
    """Some features of a view (``view["a", "b"]``)."""

    view: FeatureView
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in self.names:
            if name not in self.view.feature_names:
                raise unknown_feature(self.view, name)


def unknown_feature(view: FeatureView, name: str) -> NotFound:
    return NotFound(
        f"feature view {view.name!r} has no feature {name!r}; it has: "
        + ", ".join(view.feature_names),
        field="feature",
        value=f"{view.name}:{name}",
    )


@dataclass(frozen=True)
class FeatureService:
    """The named set of features a model uses: whole views and selections of views."""

    name: str
    features: Sequence[FeatureView | FeatureSelection]
    description: str = ""

    def __post_init__(self) -> None:
        check_name("feature_service", self.name)
        items = self.features
        if isinstance(items, FeatureView | FeatureSelection):
            items = (items,)
        items = tuple(items)
        if not items or not all(isinstance(i, FeatureView | FeatureSelection) for i in items):
            raise InvalidInput.for_field(
                "features", self.features, "feature views or view[...] selections"
            )
        object.__setattr__(self, "features", items)

    @property
    def views(self) -> tuple[FeatureView, ...]:
        by_name = {_view_of(item).name: _view_of(item) for item in self.features}
        return tuple(by_name.values())

    def refs(self) -> list[str]:
        """Every feature as ``view:feature``."""
        refs = []
        for item in self.features:
            view = _view_of(item)
            names = item.names if isinstance(item, FeatureSelection) else view.feature_names
            refs.extend(f"{view.name}:{name}" for name in names)
        return refs

    @property
    def feature_names(self) -> list[str]:
        """The output column of each feature, in order."""
        return [ref.partition(":")[2] for ref in self.refs()]

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "features": self.refs(), "description": self.description}


def _view_of(item: FeatureView | FeatureSelection) -> FeatureView:
    return item.view if isinstance(item, FeatureSelection) else item


Definition = Entity | FeatureView | FeatureService
KINDS: dict[type, str] = {
    Entity: "entity",
    FeatureView: "feature_view",
    FeatureService: "feature_service",
}
