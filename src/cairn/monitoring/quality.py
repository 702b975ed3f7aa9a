"""Data quality of live inputs, measured against the reference they should resemble.

Per column: the share of nulls (and whether it rose by more than ``missing_tolerance``), the
share of numbers outside the reference's range, the share of categories the reference never
had, and values of the wrong type; per table: columns missing or unexpected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cairn.errors import InvalidInput
from cairn.monitoring import columns as col

MISSING_TOLERANCE = 0.05


@dataclass(frozen=True)
class ColumnQuality:
    column: str
    present: bool
    reference_missing: float
    current_missing: float | None = None
    out_of_range: float | None = None  # share of non-null values outside [min, max] of reference
    unseen: float | None = None  # share of non-null values in a category the reference lacks
    wrong_type: float | None = None  # share of non-null values that are not numbers
    issues: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class QualityReport:
    rows: int
    columns: list[ColumnQuality]
    unexpected_columns: list[str]

    @property
    def missing_columns(self) -> list[str]:
        return [c.column for c in self.columns if not c.present]

    @property
    def issues(self) -> list[str]:
        found = [f"{c.column}: {issue}" for c in self.columns for issue in c.issues]
        return found + [f"{name}: not in the reference" for name in self.unexpected_columns]

    def __getitem__(self, column: str) -> ColumnQuality:
        for c in self.columns:
            if c.column == column:
                return c
        raise KeyError(column)

    def metrics(self) -> dict[str, float]:
        """Figures for the time series, by name (``quality.<column>.missing``, ...)."""
        out = {
            "quality.missing_columns": float(len(self.missing_columns)),
            "quality.issues": float(len(self.issues)),
        }
        for c in self.columns:
            for name in ("current_missing", "out_of_range", "unseen", "wrong_type"):
                value = getattr(c, name)
                if value is not None:
                    out[f"quality.{c.column}.{name.removeprefix('current_')}"] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "missing_columns": self.missing_columns,
            "unexpected_columns": self.unexpected_columns,
            "issues": self.issues,
            "columns": [asdict(c) for c in self.columns],
        }


def quality(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    missing_tolerance: float = MISSING_TOLERANCE,
) -> QualityReport:
    """Check ``current`` against ``reference`` column by column (``columns``: those only)."""
    names = list(columns) if columns is not None else list(reference.columns)
    for name in names:
        if name not in reference.columns:
            raise InvalidInput.for_field("columns", name, "a column of the reference")
    if not 0 <= missing_tolerance <= 1:
        raise InvalidInput.for_field("missing_tolerance", missing_tolerance, "a share in [0, 1]")
    checked = [_column(name, reference[name], current, missing_tolerance) for name in names]
    unexpected = [c for c in current.columns if c not in reference.columns]
    return QualityReport(len(current), checked, unexpected if columns is None else [])


def _column(name: str, ref: pd.Series, current: pd.DataFrame, tolerance: float) -> ColumnQuality:
    ref_missing = float(ref.isna().mean()) if len(ref) else 0.0
    if name not in current.columns:
        return ColumnQuality(name, False, ref_missing, issues=["missing from the live data"])
    cur = current[name]
    if len(cur) == 0:
        return ColumnQuality(name, True, ref_missing)
    nulls = cur.isna().to_numpy()
    cur_missing = float(nulls.mean())
    issues = []
    if cur_missing > ref_missing + tolerance:
        issues.append(f"{cur_missing:.1%} null against {ref_missing:.1%} in the reference")
    present = int((~nulls).sum())
    if col.is_time(ref):
        return ColumnQuality(name, True, ref_missing, cur_missing, issues=issues)
    if col.is_numeric(ref):
        return _numeric(name, ref, cur, nulls, present, ref_missing, cur_missing, issues)
    counts = col.category_counts(ref, cur)
    unseen_rows = int(counts.current[counts.reference == 0].sum())
    unseen = unseen_rows / present if present else 0.0
    if unseen_rows:
        issues.append(f"{unseen:.1%} in categories the reference never had")
    return ColumnQuality(name, True, ref_missing, cur_missing, unseen=unseen, issues=issues)


def _numeric(
    name: str,
    ref: pd.Series,
    cur: pd.Series,
    nulls: np.ndarray,
    present: int,
    ref_missing: float,
    cur_missing: float,
    issues: list[str],
) -> ColumnQuality:
    values = pd.to_numeric(cur, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    not_numbers = int(np.count_nonzero(np.isnan(values) & ~nulls))
    wrong_type = not_numbers / present if present else 0.0
    if not_numbers:
        issues.append(f"{wrong_type:.1%} of values are not numbers")
    reference = ref.to_numpy(dtype=np.float64, na_value=np.nan)
    out_of_range = 0.0
    if present and not np.isnan(reference).all():
        low, high = np.nanmin(reference), np.nanmax(reference)
        known = values[~np.isnan(values)]
        outside = int(np.count_nonzero((known < low) | (known > high)))
        out_of_range = outside / present
        if outside:
            issues.append(f"{out_of_range:.1%} outside the reference range [{low:g}, {high:g}]")
    return ColumnQuality(
        name,
        True,
        ref_missing,
        cur_missing,
        out_of_range=out_of_range,
        wrong_type=wrong_type,
        issues=issues,
    )
