"""Slices: the metric on each category of a categorical feature and on each quantile bucket
of a numeric one (missing values are a slice of their own), judged against an absolute bound
(``min``/``max``) and/or a gap to the whole set (``max_gap``); slices smaller than
``min_size`` are listed but not judged. The worst slices are named.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cairn.evaluation.checks.base import Check, Outcome, fmt, is_number, require
from cairn.evaluation.entities import Verdict
from cairn.evaluation.metrics import Metric, default_metric, get_metric

MISSING = "missing"


class SliceCheck(Check):
    kind = "slices"

    def __init__(
        self,
        *,
        features: tuple[str, ...] | list[str] | None = None,
        metric: str | None = None,
        min: float | None = None,  # noqa: A002 - the name the YAML uses
        max: float | None = None,  # noqa: A002
        max_gap: float | None = None,
        quantiles: int = 4,
        min_size: int = 200,
        worst: int = 5,
        threshold: float = 0.5,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.features = None if features is None else tuple(features)
        self.metric = metric
        self.min = min
        self.max = max
        self.max_gap = max_gap
        self.quantiles = quantiles
        self.min_size = min_size
        self.worst = worst
        self.threshold = threshold

    def describe(self) -> str:
        return f"slices: {self.metric or 'the main metric'} per category and quantile"

    def validate(self, task: str) -> None:
        self._metric(task)
        require(
            any(b is not None for b in (self.min, self.max, self.max_gap)),
            "min",
            None,
            "a min, a max or a max_gap",
        )
        for field in ("min", "max", "max_gap"):
            value = getattr(self, field)
            require(value is None or is_number(value), field, value, "a number")
        for field, low in (("quantiles", 2), ("min_size", 1), ("worst", 1)):
            value = getattr(self, field)
            require(
                isinstance(value, int) and value >= low, field, value, f"a whole number >= {low}"
            )

    def _metric(self, task: str) -> Metric:
        return default_metric(task) if self.metric is None else get_metric(self.metric, task)

    def evaluate(self, ctx: Any) -> Outcome:
        metric = self._metric(ctx.task)
        outcomes = ctx.outcomes.at(self.threshold)
        overall = metric.compute(outcomes)
        features = self.features if self.features is not None else tuple(ctx.inputs.columns)
        absent = [f for f in features if f not in ctx.frame.columns]
        if absent:
            return Outcome(Verdict.ERRORED, f"feature {absent[0]!r} is not in the evaluation data")
        low, high = self.min, self.max
        if self.max_gap is not None:
            gap_bound = (
                overall - self.max_gap if metric.higher_is_better else overall + self.max_gap
            )
            if metric.higher_is_better:
                low = gap_bound if low is None else max(low, gap_bound)
            else:
                high = gap_bound if high is None else min(high, gap_bound)
        slices, small, undefined = [], [], []
        for feature in features:
            for value, rows in _slices(ctx.frame[feature], self.quantiles):
                size = int(rows.sum())
                entry = {"feature": feature, "slice": value, "size": size}
                if size < self.min_size:
                    small.append(entry)
                    continue
                try:
                    entry["value"] = metric.compute(outcomes.subset(rows))
                except Exception as exc:  # noqa: BLE001 - e.g. AUC of a one-class slice
                    undefined.append({**entry, "why": getattr(exc, "message", str(exc))})
                    continue
                value_ = entry["value"]
                entry["ok"] = bool(
                    (low is None or value_ >= low) and (high is None or value_ <= high)
                )
                slices.append(entry)
        ranked = sorted(slices, key=lambda e: e["value"], reverse=not metric.higher_is_better)
        failing = [e for e in ranked if not e["ok"]]
        bounds = [
            f">= {fmt(low)}" if low is not None else "",
            f"<= {fmt(high)}" if high is not None else "",
        ]
        threshold = " and ".join(b for b in bounds if b) + f" (slices of {self.min_size}+ rows)"
        detail = {
            "metric": metric.name,
            "overall": overall,
            "slices": ranked,
            "too_small": small,
            "undefined": undefined,
        }
        named = ", ".join(
            f"{e['feature']}={e['slice']} {fmt(e['value'])} (n={e['size']:,})"
            for e in (failing or ranked)[: self.worst]
        )
        worst = ranked[0]["value"] if ranked else None
        if not slices and not undefined:  # nothing large enough to judge: said, not passed
            return Outcome(
                Verdict.SKIPPED, f"no slice of {self.min_size}+ rows", None, threshold, detail
            )
        if not slices:
            return Outcome(
                Verdict.ERRORED,
                f"no slice of {self.min_size}+ rows with a defined {metric.name}: "
                f"{undefined[0]['why']}",
                None,
                threshold,
                detail,
            )
        if failing:
            return Outcome(
                Verdict.FAILED,
                f"{len(failing)} of {len(slices)} slices break the bound; worst: {named}",
                worst,
                threshold,
                detail,
            )
        return Outcome(
            Verdict.PASSED,
            f"all {len(slices)} slices within bounds (overall {metric.name} {fmt(overall)}); "
            f"worst: {named}",
            worst,
            threshold,
            detail,
        )


def _slices(column: pd.Series, quantiles: int) -> list[tuple[str, np.ndarray]]:
    """(slice name, row mask) per category, or per quantile bucket of a numeric column."""
    missing = column.isna().to_numpy()
    if column.dtype.kind in "iuf" and column.nunique() > quantiles:
        buckets = pd.qcut(column, quantiles, duplicates="drop")
        codes = buckets.cat.codes.to_numpy()
        found = [
            (f"{interval.left:.4g}..{interval.right:.4g}", codes == i)
            for i, interval in enumerate(buckets.cat.categories)
        ]
    else:
        codes, uniques = pd.factorize(column, sort=True)
        found = [(str(value), codes == i) for i, value in enumerate(uniques)]
    if missing.any():
        found.append((MISSING, missing))
    return found
