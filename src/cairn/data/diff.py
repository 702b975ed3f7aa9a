"""What changed between two dataset versions: schema, row count, column statistics, categories.

Computed from the stored schemas and profiles (and, for files and folders, manifests), so a
diff of two large versions loads no data.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from cairn.data.entities import ColumnProfile, DatasetVersion, json_number

#: Profile statistics compared for every column both versions have, in display order.
COMPARED_STATS: tuple[str, ...] = (
    "null_rate",
    "mean",
    "std",
    "min",
    "median",
    "max",
    "distinct_count",
)


@dataclass(frozen=True)
class SchemaChange:
    """A column ``added``, ``removed``, or whose ``type`` or ``nullable`` changed."""

    column: str
    change: str
    before: Any = None
    after: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StatChange:
    """A profile statistic of a column that differs between the versions."""

    column: str
    stat: str
    before: Any
    after: Any

    @property
    def delta(self) -> float | None:
        """``after - before`` for numbers, else None."""
        if _is_number(self.before) and _is_number(self.after):
            return self.after - self.before
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "stat": self.stat,
            "before": json_number(self.before),
            "after": json_number(self.after),
            "delta": json_number(self.delta),
        }


@dataclass(frozen=True)
class CategoryChange:
    """The share of a column's non-null rows holding ``value``, before and after.

    None means the value was not among the most frequent ones profiled (or not present).
    """

    column: str
    value: Any
    before: float | None
    after: float | None

    @property
    def delta(self) -> float:
        return (self.after or 0.0) - (self.before or 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delta": self.delta}


@dataclass(frozen=True)
class FileChange:
    """A file of a file or folder version ``added``, ``removed`` or ``modified``."""

    path: str
    change: str
    before_size: int | None
    after_size: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetDiff:
    """Everything that differs from version ``before`` to version ``after``."""

    before: DatasetVersion
    after: DatasetVersion
    schema: tuple[SchemaChange, ...]
    stats: tuple[StatChange, ...]
    categories: tuple[CategoryChange, ...]
    files: tuple[FileChange, ...] = ()

    @property
    def identical(self) -> bool:
        """Whether both versions hold the same content."""
        return self.before.digest == self.after.digest

    @property
    def rows(self) -> tuple[int | None, int | None]:
        return self.before.row_count, self.after.row_count

    def changed_columns(self) -> list[str]:
        """Columns with any schema, statistic or category change, in the order first seen."""
        changes = (*self.schema, *self.stats, *self.categories)
        return list(dict.fromkeys(change.column for change in changes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.ref,
            "after": self.after.ref,
            "before_digest": self.before.digest,
            "after_digest": self.after.digest,
            "identical": self.identical,
            "rows": {"before": self.rows[0], "after": self.rows[1]},
            "schema": [c.to_dict() for c in self.schema],
            "stats": [c.to_dict() for c in self.stats],
            "categories": [c.to_dict() for c in self.categories],
            "files": [c.to_dict() for c in self.files],
        }


def compare(
    before: DatasetVersion,
    after: DatasetVersion,
    before_files: dict[str, dict[str, Any]] | None = None,
    after_files: dict[str, dict[str, Any]] | None = None,
) -> DatasetDiff:
    """The diff of two versions; the manifests are given for file and folder versions."""
    common = [name for name in before.schema if name in after.schema]
    stats, categories = [], []
    for name in common:
        old, new = before.profile.get(name), after.profile.get(name)
        if old is not None and new is not None:
            stats.extend(_stat_changes(name, old, new))
            categories.extend(_category_changes(name, old, new))
    return DatasetDiff(
        before,
        after,
        tuple(_schema_changes(before, after)),
        tuple(stats),
        tuple(categories),
        tuple(_file_changes(before_files or {}, after_files or {})),
    )


def _schema_changes(before: DatasetVersion, after: DatasetVersion) -> list[SchemaChange]:
    changes = [
        SchemaChange(name, "removed", before=column.type)
        for name, column in before.schema.items()
        if name not in after.schema
    ]
    changes += [
        SchemaChange(name, "added", after=column.type)
        for name, column in after.schema.items()
        if name not in before.schema
    ]
    for name, old in before.schema.items():
        new = after.schema.get(name)
        if new is None:
            continue
        if old.type != new.type:
            changes.append(SchemaChange(name, "type", old.type, new.type))
        if old.nullable != new.nullable:
            changes.append(SchemaChange(name, "nullable", old.nullable, new.nullable))
    return changes


def _stat_changes(name: str, old: ColumnProfile, new: ColumnProfile) -> list[StatChange]:
    changes = []
    for stat in COMPARED_STATS:
        a, b = getattr(old, stat), getattr(new, stat)
        if not _same(a, b):
            changes.append(StatChange(name, stat, a, b))
    return changes


def _category_changes(name: str, old: ColumnProfile, new: ColumnProfile) -> list[CategoryChange]:
    """Shares of the most frequent values of either version that differ, largest change first."""
    if not old.top and not new.top:
        return []
    old_shares, new_shares = _shares(old), _shares(new)
    values = list(dict.fromkeys([*old_shares, *new_shares]))
    changes = [
        CategoryChange(name, value, old_shares.get(value), new_shares.get(value))
        for value in values
        if old_shares.get(value) != new_shares.get(value)
    ]
    return sorted(changes, key=lambda change: -abs(change.delta))


def _shares(profile: ColumnProfile) -> dict[Any, float]:
    present = profile.count - profile.null_count
    return {value: count / present for value, count in profile.top if present}


def _file_changes(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[FileChange]:
    changes = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is None:
            changes.append(FileChange(path, "added", None, new["size"]))
        elif new is None:
            changes.append(FileChange(path, "removed", old["size"], None))
        elif old["digest"] != new["digest"]:
            changes.append(FileChange(path, "modified", old["size"], new["size"]))
    return changes


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
