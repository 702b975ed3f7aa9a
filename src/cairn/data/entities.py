"""What data versioning records: datasets, their versions and column profiles, as typed objects.

Plain frozen dataclasses with no heavy imports, so that reading records (the CLI, lineage
queries) does not load pandas or pyarrow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

#: Quantiles every numeric and temporal column profile holds.
QUANTILES: tuple[float, ...] = (0.01, 0.25, 0.5, 0.75, 0.99)
#: Most frequent values a categorical, string or boolean profile keeps.
TOP_K = 10


class Kind(StrEnum):
    """What a version holds: a table (stored as Parquet), one file, or a folder of files."""

    TABLE = "table"
    FILE = "file"
    FOLDER = "folder"


@dataclass(frozen=True)
class ColumnSchema:
    """A column's type: Arrow ``type``, the pandas ``dtype`` it loads as, and whether it held nulls."""

    type: str
    dtype: str
    nullable: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        return cls(data["type"], data["dtype"], data["nullable"])


@dataclass(frozen=True)
class ColumnProfile:
    """Statistics of one column.

    ``kind`` is numeric, temporal, boolean, categorical, string or other. ``null_count`` counts
    missing values (nulls, and NaN in float columns). Numeric columns have min, max, mean, std
    (ddof=1) and ``quantiles`` (keys "0.01", ... "0.99", linear interpolation, as numpy);
    temporal ones have min, max and quantiles as ISO strings. ``top`` holds the most frequent
    values with their counts (categorical, string, boolean); ``categories`` the declared
    categories of a categorical column, used or not. ``approximate`` is None when every
    statistic is exact; for a large column of mostly distinct floats or times it says how its
    quantiles and distinct count were estimated (count, nulls, min, max, mean, std stay exact).
    """

    type: str
    kind: str
    count: int
    null_count: int
    distinct_count: int | None = None
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, Any] = field(default_factory=dict)
    top: tuple[tuple[Any, int], ...] = ()
    categories: tuple[Any, ...] | None = None
    approximate: str | None = None

    @property
    def null_rate(self) -> float:
        return self.null_count / self.count if self.count else 0.0

    @property
    def median(self) -> Any:
        return self.quantiles.get("0.5")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: infinities and NaN are said as strings, as JSON has none."""
        return {
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "null_count": self.null_count,
            "distinct_count": self.distinct_count,
            "min": json_number(self.min),
            "max": json_number(self.max),
            "mean": json_number(self.mean),
            "std": json_number(self.std),
            "quantiles": {k: json_number(v) for k, v in self.quantiles.items()},
            "top": [[value, count] for value, count in self.top],
            "categories": None if self.categories is None else list(self.categories),
            "approximate": self.approximate,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        numeric = data["kind"] == "numeric"
        read = _read_number if numeric else _same
        return cls(
            type=data["type"],
            kind=data["kind"],
            count=data["count"],
            null_count=data["null_count"],
            distinct_count=data.get("distinct_count"),
            min=read(data.get("min")),
            max=read(data.get("max")),
            mean=_read_number(data.get("mean")),
            std=_read_number(data.get("std")),
            quantiles={k: read(v) for k, v in (data.get("quantiles") or {}).items()},
            top=tuple((value, count) for value, count in data.get("top") or ()),
            categories=None if data.get("categories") is None else tuple(data["categories"]),
            approximate=data.get("approximate"),
        )


@dataclass(frozen=True)
class Dataset:
    """A named series of versions."""

    id: str
    name: str
    description: str | None
    created_at: datetime
    creator: str
    version_count: int
    latest_version: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable snapshot of a dataset, addressed by the digest of its content.

    ``blob`` is the artifact holding it: a JSON manifest (relative path -> digest and size) of
    the Parquet parts of a table, or of a file or folder. Tables have row and column counts,
    ``schema`` and ``profile``; files and folders have None and empty mappings there.
    """

    id: str
    dataset: str
    version: int
    digest: str
    kind: Kind
    blob: str
    size_bytes: int
    row_count: int | None
    column_count: int | None
    schema: dict[str, ColumnSchema]
    profile: dict[str, ColumnProfile]
    description: str | None
    created_at: datetime
    creator: str

    @property
    def ref(self) -> str:
        """``name@version``, as ``cairn.data.load`` takes it."""
        return f"{self.dataset}@{self.version}"

    def __str__(self) -> str:
        return f"{self.ref} ({self.kind}, {self.digest[:12]})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dataset": self.dataset,
            "version": self.version,
            "ref": self.ref,
            "digest": self.digest,
            "kind": str(self.kind),
            "blob": self.blob,
            "size_bytes": self.size_bytes,
            "row_count": self.row_count,
            "column_count": self.column_count,
            "schema": {name: column.to_dict() for name, column in self.schema.items()},
            "profile": {name: column.to_dict() for name, column in self.profile.items()},
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "creator": self.creator,
        }


@dataclass(frozen=True)
class RunInput:
    """A dataset version a run read, and how (``relation``: input, train, test, ...)."""

    version: DatasetVersion
    relation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.version.ref,
            "id": self.version.id,
            "digest": self.version.digest,
            "kind": str(self.version.kind),
            "relation": self.relation,
        }


def json_number(value: Any) -> Any:
    """``value``, or its text if it is an infinity or NaN, which JSON cannot hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _read_number(value: Any) -> Any:
    return float(value) if value in ("inf", "-inf", "nan") else value


def _same(value: Any) -> Any:
    return value
