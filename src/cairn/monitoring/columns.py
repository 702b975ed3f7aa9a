"""One column of the reference and the live data, made ready for the drift statistics.

A numeric column becomes two sorted arrays without nulls; a categorical one (or a numeric one
with few distinct values, which distance-between-ECDF tests suit badly) becomes two count
vectors over the same categories, the reference's first, then each category only live data
has. Nulls are counted, then left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: A numeric column with at most this many distinct reference values is tested as categorical.
FEW_VALUES = 5
#: Categories never seen in the reference that a result lists by name (the count is complete).
UNSEEN_LISTED = 20


@dataclass(frozen=True)
class NumericSamples:
    reference: np.ndarray  # sorted, no NaN
    current: np.ndarray


@dataclass(frozen=True)
class CategoryCounts:
    categories: list[str]  # the reference's, then the unseen ones
    reference: np.ndarray  # counts, in the order of categories
    current: np.ndarray
    unseen: list[str]  # categories only the current data has


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def is_time(series: pd.Series) -> bool:
    """Times move on by nature: they are checked for nulls, not for drift or range."""
    return pd.api.types.is_datetime64_any_dtype(series.dtype)


def sorted_values(series: pd.Series) -> np.ndarray:
    """The non-null values of a numeric column, as float64, sorted (values that are not
    numbers, which live data may hold, count as null here; quality checks report them)."""
    if not is_numeric(series):
        series = pd.to_numeric(series, errors="coerce")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values)]
    values.sort()
    return values


def distinct_count(sorted_array: np.ndarray) -> int:
    return 0 if len(sorted_array) == 0 else int(np.count_nonzero(np.diff(sorted_array))) + 1


def numeric_as_categories(reference: np.ndarray, current: np.ndarray) -> CategoryCounts:
    """Counts per distinct value of two sorted numeric samples (a column with few values)."""
    ref_values, ref_counts = _runs(reference)
    cur_values, cur_counts = _runs(current)
    where = np.searchsorted(ref_values, cur_values).clip(max=len(ref_values) - 1)
    known = ref_values[where] == cur_values
    counts = np.zeros(len(ref_values), dtype=np.int64)
    np.add.at(counts, where[known], cur_counts[known])
    unseen = [_label(v) for v in cur_values[~known]]
    return CategoryCounts(
        categories=[_label(v) for v in ref_values] + unseen,
        reference=np.concatenate([ref_counts, np.zeros(len(unseen), dtype=np.int64)]),
        current=np.concatenate([counts, cur_counts[~known]]),
        unseen=unseen,
    )


def _runs(sorted_array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.concatenate([[True], np.diff(sorted_array) != 0]))
    return sorted_array[starts], np.diff(np.append(starts, len(sorted_array)))


def _label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def category_counts(reference: pd.Series, current: pd.Series) -> CategoryCounts:
    """Counts per category, nulls left out; categories are compared as their string form."""
    ref_codes, ref_categories = _codes(reference)
    cur_codes, cur_categories = _codes(current)
    names = [str(c) for c in ref_categories]
    # Map the live categories onto the reference's; -1 marks one the reference never had.
    mapping = pd.Index(names).get_indexer([str(c) for c in cur_categories])
    ref_counts = np.bincount(ref_codes[ref_codes >= 0], minlength=len(names))
    cur_by_own = np.bincount(cur_codes[cur_codes >= 0], minlength=len(cur_categories))
    known = mapping >= 0
    counts = np.zeros(len(names), dtype=np.int64)
    np.add.at(counts, mapping[known], cur_by_own[known])
    new = ~known & (cur_by_own > 0)
    added = [str(c) for c in np.asarray(cur_categories, dtype=object)[new]]
    # A declared category the reference never holds is as unseen as one it does not declare.
    declared_only = [names[i] for i in np.flatnonzero((ref_counts == 0) & (counts > 0))]
    return CategoryCounts(
        categories=names + added,
        reference=np.concatenate([ref_counts, np.zeros(len(added), dtype=np.int64)]),
        current=np.concatenate([counts, cur_by_own[new]]),
        unseen=declared_only + added,
    )


def _codes(series: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for null) and the categories they index."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, pd.Index(uniques)
