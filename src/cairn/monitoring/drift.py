"""Drift between a reference table and a current one: one test per column, then a verdict.

``drift(reference, current)`` tests every column the reference has. The test is chosen by the
column's type and the reference's size, as Evidently does, so verdicts are comparable: up to
``SMALL_SAMPLE`` rows, Kolmogorov–Smirnov (numeric) or chi-square (categorical) p-values; above
it, the normalised Wasserstein distance or the Jensen–Shannon distance, which do not call every
tiny shift of a large sample significant. Every statistic of the column's type is computed and
reported; ``methods`` and ``thresholds`` override the choice per column. Columns are processed
in a thread pool: sorting, the costly part, releases the GIL.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cairn.errors import InvalidInput
from cairn.monitoring import columns as col
from cairn.monitoring.statistics import categorical_statistics, numeric_statistics

SMALL_SAMPLE = 1000
#: Share of drifted features at which the dataset as a whole is said to drift.
DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class Method:
    """A drift test: the statistic it reads, and whether a low value (p-value) means drift."""

    name: str
    kinds: tuple[str, ...]
    statistic: str
    default_threshold: float
    is_pvalue: bool

    def drifted(self, value: float, threshold: float) -> bool:
        return value < threshold if self.is_pvalue else value >= threshold


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", ("numeric",), "ks_pvalue", 0.05, True),
        Method("wasserstein", ("numeric",), "wasserstein", 0.1, False),
        Method("chi2", ("categorical",), "chi2_pvalue", 0.05, True),
        Method("jensen_shannon", ("categorical",), "jensen_shannon", 0.1, False),
        Method("psi", ("numeric", "categorical"), "psi", 0.1, False),
    )
}


@dataclass(frozen=True)
class FeatureDrift:
    """The drift test of one column. ``status`` is ``drifted``, ``ok``, or why there was no
    test: ``missing`` (not in the current data), ``empty`` (no current rows), ``all_null``."""

    column: str
    kind: str  # numeric or categorical (numeric columns with few values are categorical)
    status: str
    method: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    reference_missing: float | None = None  # share of nulls
    current_missing: float | None = None
    unseen: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool | None:
        return None if self.method is None else self.status == "drifted"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted": self.drifted}


@dataclass(frozen=True)
class DomainClassifier:
    """How well a classifier tells reference rows from current ones: AUC 0.5 is no drift."""

    auc: float
    threshold: float
    rows: int

    @property
    def drifted(self) -> bool:
        return self.auc >= self.threshold


@dataclass(frozen=True)
class DriftReport:
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    prediction: list[FeatureDrift]
    drift_share: float
    multivariate: DomainClassifier | None = None

    @property
    def tested(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.drifted is not None]

    @property
    def drifted_features(self) -> list[str]:
        return [f.column for f in self.features if f.drifted]

    @property
    def share_drifted(self) -> float | None:
        tested = self.tested
        return len(self.drifted_features) / len(tested) if tested else None

    @property
    def drifted(self) -> bool | None:
        """The dataset-level verdict; ``None`` when no column could be tested."""
        share = self.share_drifted
        return None if share is None else share >= self.drift_share

    @property
    def problems(self) -> list[str]:
        """Why columns went untested, in words."""
        found = [] if self.current_rows else ["the current window is empty"]
        return found + [
            f"{f.column}: {f.status.replace('_', '-')}"
            for f in self.features + self.prediction
            if f.status in ("missing", "all_null")
        ]

    def __getitem__(self, column: str) -> FeatureDrift:
        for f in self.features + self.prediction:
            if f.column == column:
                return f
        raise KeyError(column)

    def metrics(self) -> dict[str, float]:
        """The figures worth a time series, by metric name (``drift.share``, ``drift.<column>``)."""
        out: dict[str, float] = {"rows": float(self.current_rows)}
        if self.share_drifted is not None:
            out["drift.share"] = self.share_drifted
        for f in self.features + self.prediction:
            if f.statistic is not None:
                out[f"drift.{f.column}"] = f.statistic
                out[f"drift.{f.column}.drifted"] = float(f.status == "drifted")
        if self.multivariate is not None:
            out["drift.domain_auc"] = self.multivariate.auc
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "drifted": self.drifted,
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "drifted_features": self.drifted_features,
            "problems": self.problems,
            "features": [f.to_dict() for f in self.features],
            "prediction": [f.to_dict() for f in self.prediction],
            "multivariate": None
            if self.multivariate is None
            else {**asdict(self.multivariate), "drifted": self.multivariate.drifted},
        }


def drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    prediction_columns: Sequence[str] = (),
    categorical: Sequence[str] = (),
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = DRIFT_SHARE,
    multivariate: bool = False,
    domain_auc_threshold: float = 0.55,
) -> DriftReport:
    """Test each column of ``reference`` but its times (or ``columns``) for drift in ``current``.

    ``prediction_columns`` are tested the same way but reported apart (prediction drift) and
    left out of the share of drifted features. ``categorical`` forces columns to be tested as
    categories. ``methods`` maps a column to one of ``METHODS`` and ``thresholds`` a column to
    the threshold of its method (a p-value below, or a distance at or above, means drift).
    ``multivariate`` adds a domain classifier's AUC between the two tables.
    """
    methods, thresholds = dict(methods or {}), dict(thresholds or {})
    features = (
        list(columns)
        if columns is not None
        else [c for c in reference.columns if c not in prediction_columns]
    )
    _check_arguments(reference, features, prediction_columns, methods, thresholds, drift_share)
    forced = set(categorical)

    def test(name: str) -> FeatureDrift:
        return _test_column(
            name, reference, current, name in forced, methods.get(name), thresholds.get(name)
        )

    names = features + list(prediction_columns)
    workers = max(1, min(len(names), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(test, names))
    return DriftReport(
        reference_rows=len(reference),
        current_rows=len(current),
        features=results[: len(features)],
        prediction=results[len(features) :],
        drift_share=drift_share,
        multivariate=_domain_classifier(reference, current, features, domain_auc_threshold)
        if multivariate
        else None,
    )


def _check_arguments(
    reference: pd.DataFrame,
    features: list[str],
    prediction_columns: Sequence[str],
    methods: dict[str, str],
    thresholds: dict[str, float],
    drift_share: float,
) -> None:
    if not isinstance(reference, pd.DataFrame) or reference.empty:
        raise InvalidInput.for_field("reference", reference, "a DataFrame with rows")
    for name in [*features, *prediction_columns]:
        if name not in reference.columns:
            raise InvalidInput.for_field("columns", name, "a column of the reference")
    for name, method in methods.items():
        if method not in METHODS:
            raise InvalidInput.for_field(f"methods[{name}]", method, f"one of {sorted(METHODS)}")
    for name, threshold in thresholds.items():
        if not isinstance(threshold, int | float) or not math.isfinite(threshold) or threshold < 0:
            raise InvalidInput.for_field(f"thresholds[{name}]", threshold, "a number >= 0")
    if not 0 < drift_share <= 1:
        raise InvalidInput.for_field("drift_share", drift_share, "a share in (0, 1]")


def _test_column(
    name: str,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    force_categorical: bool,
    method_name: str | None,
    threshold: float | None,
) -> FeatureDrift:
    ref = reference[name]
    numeric = col.is_numeric(ref) and not force_categorical
    kind = "numeric" if numeric else "categorical"
    ref_missing = _null_share(ref)
    if name not in current.columns:
        return FeatureDrift(name, kind, "missing", reference_missing=ref_missing)
    cur = current[name]
    cur_missing = _null_share(cur)
    shares = {"reference_missing": ref_missing, "current_missing": cur_missing}
    if len(cur) == 0:
        return FeatureDrift(name, kind, "empty", **shares)
    if ref_missing == 1.0 or cur_missing == 1.0:
        side = "reference" if ref_missing == 1.0 else "current"
        return FeatureDrift(name, kind, "all_null", **shares, notes=[f"no values in the {side}"])

    notes: list[str] = []
    if numeric:
        ref_values, cur_values = col.sorted_values(ref), col.sorted_values(cur)
        distinct = col.distinct_count(ref_values)
        if distinct > col.FEW_VALUES:
            values = asdict(numeric_statistics(ref_values, cur_values))
            return _verdict(
                name, "numeric", values, len(ref_values), method_name, threshold, shares, notes, []
            )
        kind = "categorical"
        notes.append(
            "constant in the reference" if distinct == 1 else f"{distinct} distinct values"
        )
        counts = col.numeric_as_categories(ref_values, cur_values)
    else:
        counts = col.category_counts(ref, cur)
    values = asdict(categorical_statistics(counts.reference, counts.current))
    if counts.unseen:
        listed = ", ".join(counts.unseen[: col.UNSEEN_LISTED])
        more = len(counts.unseen) - col.UNSEEN_LISTED
        notes.append(
            f"never seen in the reference: {listed}" + (f" and {more} more" if more > 0 else "")
        )
    return _verdict(
        name,
        kind,
        values,
        int(counts.reference.sum()),
        method_name,
        threshold,
        shares,
        notes,
        counts.unseen,
    )


def _verdict(
    name: str,
    kind: str,
    values: dict[str, float],
    reference_size: int,
    method_name: str | None,
    threshold: float | None,
    shares: dict[str, float],
    notes: list[str],
    unseen: list[str],
) -> FeatureDrift:
    method = METHODS[method_name] if method_name else _default_method(kind, reference_size)
    if kind not in method.kinds:
        # e.g. KS asked for a column that turned out to hold one value: use the default.
        notes.append(f"{method.name} does not apply to a {kind} column")
        method, threshold = _default_method(kind, reference_size), None
    limit = method.default_threshold if threshold is None else float(threshold)
    statistic = values[method.statistic]
    return FeatureDrift(
        column=name,
        kind=kind,
        status="drifted" if method.drifted(statistic, limit) else "ok",
        method=method.name,
        statistic=statistic,
        threshold=limit,
        values=values,
        unseen=unseen,
        notes=notes,
        **shares,
    )


def _default_method(kind: str, reference_size: int) -> Method:
    small = reference_size <= SMALL_SAMPLE
    if kind == "numeric":
        return METHODS["ks" if small else "wasserstein"]
    return METHODS["chi2" if small else "jensen_shannon"]


def _null_share(series: pd.Series) -> float:
    return float(series.isna().mean()) if len(series) else 0.0


def _domain_classifier(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str], threshold: float
) -> DomainClassifier | None:
    """Cross-validated AUC of a gradient-boosted classifier told to tell the tables apart."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict
    from threadpoolctl import threadpool_limits

    usable = [c for c in features if c in current.columns]
    rows = min(len(reference), len(current), 10_000)
    if rows < 50 or not usable:
        return None
    both = pd.concat(
        [
            reference[usable].sample(rows, random_state=0),
            current[usable].sample(rows, random_state=0),
        ],
        ignore_index=True,
    )
    encoded = pd.DataFrame(
        {
            c: both[c].to_numpy(dtype=np.float64, na_value=np.nan)
            if col.is_numeric(both[c])
            else pd.factorize(both[c].astype("string"), use_na_sentinel=True)[0].astype(np.float64)
            for c in usable
        }
    )
    is_current = np.repeat([0, 1], rows)
    model = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    # One OpenMP thread: on a busy machine more threads spin and run 100 times slower.
    with threadpool_limits(1):
        scores = cross_val_predict(model, encoded, is_current, cv=3, method="predict_proba")
    return DomainClassifier(float(roc_auc_score(is_current, scores[:, 1])), threshold, 2 * rows)
