"""Fairness across sensitive attributes, with fairlearn: demographic parity difference and
ratio and equalized odds difference of a binary classifier's decisions at a threshold, and for
any model the largest gap of a per-group metric; per-group counts, selection rates, true and
false positive rates and accuracy (or error) are kept for the report.

Each attribute is judged on its own. Groups with fewer than ``min_group_size`` rows are listed
but left out of the measures: a handful of rows makes a rate that means nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cairn.evaluation.checks.base import Check, Outcome, fmt, is_number, require
from cairn.evaluation.entities import Verdict
from cairn.evaluation.metrics import Outcomes, get_metric

#: measure -> (bound: "max" or "min", what it says)
MEASURES = {
    "demographic_parity_difference": ("max", "largest gap in selection rate between groups"),
    "demographic_parity_ratio": ("min", "smallest group selection rate over the largest"),
    "equalized_odds_difference": ("max", "largest gap in true or false positive rate"),
    "metric_difference": ("max", "largest gap in the per-group metric"),
}
MISSING_GROUP = "<missing>"


class FairnessCheck(Check):
    kind = "fairness"

    def __init__(
        self,
        *,
        sensitive: tuple[str, ...] | list[str] | None = None,
        max_demographic_parity_difference: float | None = None,
        min_demographic_parity_ratio: float | None = None,
        max_equalized_odds_difference: float | None = None,
        max_metric_difference: float | None = None,
        metric: str | None = None,
        threshold: float = 0.5,
        min_group_size: int = 30,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.sensitive = None if sensitive is None else tuple(sensitive)
        self.max_demographic_parity_difference = max_demographic_parity_difference
        self.min_demographic_parity_ratio = min_demographic_parity_ratio
        self.max_equalized_odds_difference = max_equalized_odds_difference
        self.max_metric_difference = max_metric_difference
        self.metric = metric
        self.threshold = threshold
        self.min_group_size = min_group_size

    def describe(self) -> str:
        bounds = ", ".join(
            f"{m.replace('_', ' ')} {'<=' if MEASURES[m][0] == 'max' else '>='} {b}"
            for m, b in self.bounds().items()
        )
        across = f" across {', '.join(self.sensitive)}" if self.sensitive else ""
        return f"fairness: {bounds or 'no bound'}{across}"

    def bounds(self) -> dict[str, float]:
        """measure -> its bound, for the measures this check judges."""
        found = {}
        for measure, (side, _) in MEASURES.items():
            bound = getattr(self, f"{side}_{measure}")
            if bound is not None:
                found[measure] = bound
        return found

    def validate(self, task: str) -> None:
        require(
            bool(self.bounds()), "max_demographic_parity_difference", None, "at least one bound"
        )
        for measure, bound in self.bounds().items():
            side = MEASURES[measure][0]
            require(is_number(bound) and bound >= 0, f"{side}_{measure}", bound, "a number >= 0")
            require(
                measure == "metric_difference" or task == "binary",
                f"{side}_{measure}",
                bound,
                "max_metric_difference: parity and odds measures need a binary classifier",
            )
        get_metric(self.metric or _group_metric(task), task)
        require(
            isinstance(self.min_group_size, int) and self.min_group_size >= 1,
            "min_group_size",
            self.min_group_size,
            "a whole number >= 1",
        )

    def evaluate(self, ctx: Any) -> Outcome:
        attributes = self.sensitive if self.sensitive is not None else ctx.sensitive
        if not attributes:
            return Outcome(
                Verdict.SKIPPED,
                "no sensitive attribute named (give the suite's 'sensitive' or --sensitive)",
            )
        missing = [a for a in attributes if a not in ctx.frame.columns]
        if missing:
            return Outcome(
                Verdict.ERRORED,
                f"sensitive attribute {missing[0]!r} is not a column of the evaluation data",
            )
        outcomes = ctx.outcomes.at(self.threshold)
        per_attribute = {a: self._attribute(ctx.frame[a], outcomes, ctx.task) for a in attributes}
        broken = [
            f"{attribute}: {measure.replace('_', ' ')} {fmt(found['value'])} "
            f"({'above' if MEASURES[measure][0] == 'max' else 'below'} {fmt(found['bound'])})"
            for attribute, result in per_attribute.items()
            for measure, found in result["measures"].items()
            if not found["ok"]
        ]
        worst = _worst(per_attribute)
        threshold = ", ".join(
            f"{m} {'<=' if MEASURES[m][0] == 'max' else '>='} {fmt(b)}"
            for m, b in self.bounds().items()
        )
        detail = {"attributes": per_attribute, "decision_threshold": self.threshold}
        if broken:
            return Outcome(Verdict.FAILED, "; ".join(broken), worst, threshold, detail)
        said = "; ".join(
            f"{a}: "
            + ", ".join(
                f"{m.replace('_', ' ')} {fmt(f['value'])}" for m, f in r["measures"].items()
            )
            for a, r in per_attribute.items()
        )
        return Outcome(Verdict.PASSED, said, worst, threshold, detail)

    def _attribute(self, column: pd.Series, outcomes: Outcomes, task: str) -> dict[str, Any]:
        groups = column.astype(object).where(column.notna(), MISSING_GROUP).astype(str).to_numpy()
        names, sizes = np.unique(groups, return_counts=True)
        large = names[sizes >= self.min_group_size]
        small = {str(n): int(s) for n, s in zip(names, sizes, strict=True) if n not in set(large)}
        keep = np.isin(groups, large)
        judged, groups = outcomes.subset(keep), groups[keep]
        metric = get_metric(self.metric or _group_metric(task), task)
        per_group = {
            str(g): {"count": int(n), metric.name: metric.compute(judged.subset(groups == g))}
            for g, n in zip(*np.unique(groups, return_counts=True), strict=True)
        }
        values: dict[str, float] = {}
        if len(large) >= 2:
            scores = [row[metric.name] for row in per_group.values()]
            values["metric_difference"] = float(max(scores) - min(scores))
            if task == "binary":
                values.update(_parity(judged, groups, per_group))
        measures = {}
        for measure, bound in self.bounds().items():
            value = values.get(measure)
            side = MEASURES[measure][0]
            ok = value is None or (value <= bound if side == "max" else value >= bound)
            measures[measure] = {"value": value, "bound": bound, "ok": bool(ok)}
        return {
            "groups": per_group,
            "too_small": small,
            "measures": measures,
            "metric": metric.name,
        }


def _parity(judged: Outcomes, groups: np.ndarray, per_group: dict[str, Any]) -> dict[str, float]:
    """fairlearn's parity and odds measures and per-group rates of binary decisions.

    fairlearn evaluates its metrics per row of a frame (slow on large data), so each distinct
    (group, label, decision) is passed once, weighted by how many rows it stands for: the
    same numbers, computed on at most 4 rows per group.
    """
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    names, group_codes = np.unique(groups, return_inverse=True)
    key = group_codes * 4 + judged.positive.astype(np.int64) * 2 + judged.predicted_codes
    present, weight = np.unique(key, return_counts=True)
    group, truth, decided = names[present // 4], (present // 2) % 2, present % 2
    weighted = {"sample_weight": weight}
    rates = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
        },
        y_true=truth,
        y_pred=decided,
        sensitive_features=group,
        sample_params={
            name: weighted
            for name in ("selection_rate", "true_positive_rate", "false_positive_rate")
        },
    ).by_group
    for name, row in rates.to_dict(orient="index").items():
        per_group[str(name)].update({k: _plain(v) for k, v in row.items()})
    return {
        name: float(measure(truth, decided, sensitive_features=group, sample_weight=weight))
        for name, measure in (
            ("demographic_parity_difference", demographic_parity_difference),
            ("demographic_parity_ratio", demographic_parity_ratio),
            ("equalized_odds_difference", equalized_odds_difference),
        )
    }


def _group_metric(task: str) -> str:
    return "mae" if task == "regression" else "accuracy"


def _worst(per_attribute: dict[str, Any]) -> float | None:
    """The first judged measure's worst value across attributes (for the summary column)."""
    for measure in MEASURES:
        values = [
            r["measures"][measure]["value"]
            for r in per_attribute.values()
            if measure in r["measures"] and r["measures"][measure]["value"] is not None
        ]
        if values:
            return max(values) if MEASURES[measure][0] == "max" else min(values)
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
