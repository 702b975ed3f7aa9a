"""Metric thresholds: AUC, log loss, Brier score, calibration error, accuracy, precision,
recall and F1 at a decision threshold; RMSE, MAE and R² for regressors.

A bound is a number or ``baseline``: the constant predictor's score on the same labels, so
``log_loss: {max: baseline}`` reads "better than predicting the base rate".
"""

from __future__ import annotations

from typing import Any

from cairn.evaluation.checks.base import Check, Outcome, fmt, is_number, require
from cairn.evaluation.entities import Verdict
from cairn.evaluation.metrics import METRICS, get_metric

BASELINE = "baseline"


class MetricCheck(Check):
    kind = "metric"

    def __init__(
        self,
        *,
        metric: str = "auc",
        min: float | str | None = None,  # noqa: A002 - the name the YAML uses
        max: float | str | None = None,  # noqa: A002
        threshold: float = 0.5,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.metric = metric
        self.min = min
        self.max = max
        self.threshold = threshold

    def describe(self) -> str:
        bounds = [f"{op} {b}" for op, b in ((">=", self.min), ("<=", self.max)) if b is not None]
        metric = METRICS.get(self.metric)
        at = f" at {self.threshold}" if metric is not None and metric.uses_threshold else ""
        return f"{self.metric}{at} {' and '.join(bounds)}".strip()

    def validate(self, task: str) -> None:
        metric = get_metric(self.metric, task)
        require(self.min is not None or self.max is not None, "min", None, "a min or a max")
        for field in ("min", "max"):
            bound = getattr(self, field)
            require(
                bound is None or is_number(bound) or bound == BASELINE,
                field,
                bound,
                "a number or 'baseline'",
            )
            require(
                bound != BASELINE or metric.baseline is not None,
                field,
                bound,
                f"a number: {self.metric} has no baseline",
            )
        require(
            is_number(self.threshold) and 0 <= self.threshold <= 1,
            "threshold",
            self.threshold,
            "a probability from 0 to 1",
        )

    def evaluate(self, ctx: Any) -> Outcome:
        metric = get_metric(self.metric, ctx.task)
        outcomes = ctx.outcomes.at(self.threshold)
        value = metric.compute(outcomes)
        baseline = metric.baseline(outcomes) if metric.baseline is not None else None
        low = baseline if self.min == BASELINE else self.min
        high = baseline if self.max == BASELINE else self.max
        failed, bounds = [], []
        if low is not None:
            bounds.append(f">= {fmt(low)}")
            if not value >= low:  # NaN fails too
                failed.append(f"below {fmt(low)}")
        if high is not None:
            bounds.append(f"<= {fmt(high)}")
            if not value <= high:
                failed.append(f"above {fmt(high)}")
        threshold = " and ".join(bounds)
        if BASELINE in (self.min, self.max):
            threshold += " (baseline: the constant predictor)"
        detail = {"metric": metric.name, "value": value, "baseline": baseline}
        if metric.uses_threshold:
            detail["decision_threshold"] = self.threshold
        title = f"{metric.title} {fmt(value)}"
        if failed:
            return Outcome(
                Verdict.FAILED, f"{title} is {' and '.join(failed)}", value, threshold, detail
            )
        return Outcome(Verdict.PASSED, f"{title} {threshold}", value, threshold, detail)
