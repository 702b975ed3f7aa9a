"""Column profiles of an Arrow table, computed column-parallel with numpy and pyarrow.compute.

Every statistic is exact. A numeric or temporal column is put in order once, from which min,
max, quantiles, mean, standard deviation and the distinct count follow: a column already in
order is read as it is, one with many distinct values is sorted, and one with few (the usual
case) is reduced to its distinct values and their counts, hashed (``value_counts``) or, for
small integer ranges, counted with ``bincount``. Categorical columns are counted from their
dictionary indices. No Python loop runs per row. ``start_profile`` queues the columns on an
executor costliest first, so that the last one to finish is a short one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cairn.data.entities import QUANTILES, TOP_K, ColumnProfile

#: Categorical columns keep their declared categories in the profile up to this many.
MAX_CATEGORIES = 1000
#: Above this share of distinct values in a sample, a column is sorted rather than hashed.
_SORT_ABOVE = 0.9
_SAMPLE = 4096


def profile_table(
    table: pa.Table, columns: list[str] | None = None, executor: Executor | None = None
) -> dict[str, ColumnProfile]:
    """A profile of each of ``columns`` (default: all) of ``table``, computed in parallel."""
    if executor is None:
        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            return profile_table(table, columns, pool)
    return start_profile(table, columns, executor)()


def start_profile(
    table: pa.Table, columns: list[str] | None, executor: Executor
) -> Callable[[], dict[str, ColumnProfile]]:
    """Start profiling each of ``columns`` (default: all) on ``executor``, the costliest first;
    a function that waits for the profiles, in column order."""
    names = table.column_names if columns is None else columns
    jobs = {
        name: executor.submit(profile_column, table.column(name))
        for name in sorted(names, key=lambda name: -_cost(table.column(name)))
    }
    return lambda: {name: jobs[name].result() for name in names}


def _cost(column: pa.ChunkedArray) -> int:
    """How long a column takes to profile, roughly: floats and strings are hashed or sorted."""
    kind_of = column.type
    slow = (
        pa.types.is_floating(kind_of)
        or pa.types.is_string(kind_of)
        or pa.types.is_large_string(kind_of)
    )
    return column.nbytes * (4 if slow else 1)


def profile_column(column: pa.ChunkedArray) -> ColumnProfile:
    """The profile of one column."""
    kind_of = column.type
    if pa.types.is_dictionary(kind_of):
        return _categorical(column)
    if pa.types.is_boolean(kind_of):
        return _boolean(column)
    if pa.types.is_string(kind_of) or pa.types.is_large_string(kind_of):
        return _strings(column)
    if pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of):
        return _numeric(column)
    if pa.types.is_timestamp(kind_of) or pa.types.is_date(kind_of):
        return _temporal(column)
    return _other(column)


def canonical_type(arrow_type: pa.DataType) -> str:
    """The type's name, with large and small string/binary variants named alike."""
    if pa.types.is_dictionary(arrow_type):
        values = canonical_type(arrow_type.value_type)
        ordered = int(arrow_type.ordered)
        return f"dictionary<values={values}, indices={arrow_type.index_type}, ordered={ordered}>"
    return str(arrow_type).replace("large_string", "string").replace("large_binary", "binary")


# --- per kind -------------------------------------------------------------------------------


def _numeric(column: pa.ChunkedArray) -> ColumnProfile:
    values = column.drop_null().to_numpy()
    nulls = column.null_count
    if values.dtype.kind == "f":
        finite_or_inf = ~np.isnan(values)
        if not finite_or_inf.all():
            nulls += int(values.size - np.count_nonzero(finite_or_inf))
            values = values[finite_or_inf]
    base = _base(column, "numeric", nulls)
    if values.size == 0:
        return ColumnProfile(**base, distinct_count=0)
    counted = _distinct_counts(values)
    mean, std = counted.mean_std()
    return ColumnProfile(
        **base,
        distinct_count=counted.distinct_count(),
        min=counted.values[0].item(),
        max=counted.values[-1].item(),
        mean=mean,
        std=std,
        quantiles={str(q): float(v) for q, v in zip(QUANTILES, counted.quantiles(), strict=True)},
    )


def _temporal(column: pa.ChunkedArray) -> ColumnProfile:
    arrow_type = column.type
    storage = pa.int64() if arrow_type.bit_width == 64 else pa.int32()
    values = column.drop_null().cast(storage).to_numpy().astype(np.int64, copy=False)
    base = _base(column, "temporal", column.null_count)
    if values.size == 0:
        return ColumnProfile(**base, distinct_count=0)
    counted = _distinct_counts(values)
    start = counted.values[0]  # interpolate offsets from it: float64 cannot hold epoch nanoseconds
    offsets = _Counted(counted.values - start, counted.counts)
    quantiles = np.rint(offsets.quantiles()).astype(np.int64) + start
    as_text = _temporal_text(arrow_type)
    return ColumnProfile(
        **base,
        distinct_count=counted.distinct_count(),
        min=as_text(int(counted.values[0])),
        max=as_text(int(counted.values[-1])),
        quantiles={str(q): as_text(int(v)) for q, v in zip(QUANTILES, quantiles, strict=True)},
    )


def _categorical(column: pa.ChunkedArray) -> ColumnProfile:
    column = column.unify_dictionaries() if column.num_chunks > 1 else column
    dictionary = column.chunk(0).dictionary if column.num_chunks else pa.array([], pa.string())
    counts = np.zeros(len(dictionary), dtype=np.int64)
    for chunk in column.chunks:
        indices = chunk.indices.drop_null().to_numpy()
        counts += np.bincount(indices, minlength=len(dictionary))
    categories = dictionary.to_pylist() if len(dictionary) <= MAX_CATEGORIES else None
    return ColumnProfile(
        **_base(column, "categorical", column.null_count),
        distinct_count=int(np.count_nonzero(counts)),
        top=_top(dictionary, counts),
        categories=None if categories is None else tuple(categories),
    )


def _boolean(column: pa.ChunkedArray) -> ColumnProfile:
    values = column.drop_null().to_numpy(zero_copy_only=False)
    trues = int(np.count_nonzero(values))
    counts = np.array([trues, values.size - trues])
    return ColumnProfile(
        **_base(column, "boolean", column.null_count),
        distinct_count=int(np.count_nonzero(counts)),
        mean=trues / values.size if values.size else None,
        top=_top(pa.array([True, False]), counts),
    )


def _strings(column: pa.ChunkedArray) -> ColumnProfile:
    counted = pc.value_counts(column.drop_null())
    counts = counted.field("counts").to_numpy()
    return ColumnProfile(
        **_base(column, "string", column.null_count),
        distinct_count=len(counted),
        top=_top(counted.field("values"), counts),
    )


def _other(column: pa.ChunkedArray) -> ColumnProfile:
    try:
        distinct = pc.count_distinct(column, mode="only_valid").as_py()
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):  # nested types, ...
        distinct = None
    return ColumnProfile(**_base(column, "other", column.null_count), distinct_count=distinct)


def _base(column: pa.ChunkedArray, kind: str, nulls: int) -> dict:
    return {
        "type": canonical_type(column.type),
        "kind": kind,
        "count": len(column),
        "null_count": int(nulls),
    }


# --- building blocks ------------------------------------------------------------------------


class _Counted(NamedTuple):
    """A non-empty column's values in order: each distinct value once with ``counts``, its
    number of occurrences; or, when ``counts`` is None, all of them, sorted."""

    values: np.ndarray
    counts: np.ndarray | None

    def distinct_count(self) -> int:
        if self.counts is not None:
            return int(self.values.size)
        return 1 + int(np.count_nonzero(self.values[1:] != self.values[:-1]))

    def quantiles(self) -> np.ndarray:
        """``QUANTILES`` of the values, interpolated linearly between neighbours (as numpy)."""
        n = self.values.size if self.counts is None else int(self.counts.sum())
        position = np.asarray(QUANTILES) * (n - 1)
        below = np.floor(position).astype(np.int64)
        ranks = np.stack([below, np.minimum(below + 1, n - 1)])
        if self.counts is not None:  # the distinct value at each rank
            ranks = np.searchsorted(np.cumsum(self.counts), ranks, side="right")
        low, high = self.values[ranks].astype(np.float64)
        fraction = position - below
        with np.errstate(invalid="ignore"):  # infinities: interpolate only where it is needed
            return np.where((low == high) | (fraction == 0), low, low + (high - low) * fraction)

    def mean_std(self) -> tuple[float, float | None]:
        """The mean and the standard deviation (ddof=1; None for one value)."""
        with np.errstate(invalid="ignore", over="ignore"):  # infinities make NaN, as pandas
            if self.counts is None:
                values = self.values
                mean = float(values.mean(dtype=np.float64))
                std = float(values.std(dtype=np.float64, ddof=1)) if values.size > 1 else None
                return mean, std
            values = self.values.astype(np.float64)
            n = int(self.counts.sum())
            mean = float(np.dot(values, self.counts) / n)
            if n == 1:
                return mean, None
            deviations = values - mean
            return mean, float(np.sqrt(np.dot(deviations * deviations, self.counts) / (n - 1)))


def _distinct_counts(values: np.ndarray) -> _Counted:
    """A non-empty array's values in order, counted when that is cheaper than sorting them."""
    if values.size == 1 or bool(np.all(values[1:] >= values[:-1])):
        return _Counted(values, None)
    if values.dtype.kind in "iu":
        low, high = values.min(), values.max()
        if int(high) - int(low) <= 4 * values.size:
            counts = np.bincount((values - low).astype(np.intp, copy=False))
            present = np.flatnonzero(counts)
            return _Counted((present + low).astype(values.dtype), counts[present])
    step = max(1, values.size // _SAMPLE)
    sample = values[::step]
    if np.unique(sample).size > _SORT_ABOVE * sample.size:
        return _Counted(np.sort(values), None)
    counted = pc.value_counts(pa.array(values))
    distinct = counted.field("values").to_numpy()
    order = np.argsort(distinct)
    return _Counted(distinct[order], counted.field("counts").to_numpy()[order])


def _top(values: pa.Array, counts: np.ndarray) -> tuple[tuple[object, int], ...]:
    """The ``TOP_K`` most frequent values with their counts, most frequent first."""
    if counts.size > TOP_K:
        chosen = np.argpartition(-counts, TOP_K)[:TOP_K]
    else:
        chosen = np.arange(counts.size)
    chosen = chosen[counts[chosen] > 0]
    chosen = chosen[np.lexsort((chosen, -counts[chosen]))]  # by count, ties in value order
    picked = values.take(pa.array(chosen, pa.int64())).to_pylist()
    return tuple((value, int(counts[i])) for value, i in zip(picked, chosen, strict=True))


def _temporal_text(arrow_type: pa.DataType) -> Callable[[int], str]:
    """Turns the integer storage of ``arrow_type`` into ISO text."""
    if pa.types.is_timestamp(arrow_type):
        unit, tz = arrow_type.unit, arrow_type.tz
        return lambda value: pd.Timestamp(value, unit=unit, tz=tz).isoformat()
    unit = "D" if pa.types.is_date32(arrow_type) else "ms"
    return lambda value: pd.Timestamp(value, unit=unit).date().isoformat()
