"""Standard suites, so a team gets a sound evaluation with no configuration.

Every template judges the model against the constant predictor on the same labels (log loss,
Brier score, RMSE: better than guessing), calibration, regressions against the champion and the
previous version (paired bootstrap, 1,000 resamples), fairness across the sensitive attributes
given (skipped, and said so, when none is), slices, robustness, a latency and size budget, and
the evaluation data against the training schema. Decision-threshold metrics (accuracy,
precision, F1 at 0.5) and equalized odds are reported but advisory (``blocking: false``): the
right threshold is the business's choice, and where groups truly differ in risk, true and false
positive rates at one threshold differ too. Demographic parity blocks at a gap in
selection rates of 0.15 (on the demo's credit data a sound model's gap across age bands is
0.06 to 0.09: the young band's higher risk is real; a model taught biased labels shows 0.3). The
latency budget is generous (a one-row request within 250 ms, 1,000 rows within 2.5 s, on a
shared machine): set your own. Tighten the numbers for a given model in a YAML suite of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cairn.evaluation.checks import (
    BudgetCheck,
    DataCheck,
    FairnessCheck,
    MetricCheck,
    RegressionCheck,
    RobustnessCheck,
    SliceCheck,
)
from cairn.evaluation.suite import Suite

BINARY = "binary-classification"
MULTICLASS = "multiclass-classification"
REGRESSION = "regression"


def _operational() -> list:
    return [
        RobustnessCheck(),
        BudgetCheck(max_row_ms=250.0, max_batch_ms=2500.0, max_size_mb=200.0),
        DataCheck(),
    ]


def binary_classification(*, label: str | None = None, sensitive: Sequence[str] = ()) -> Suite:
    return Suite(
        BINARY,
        [
            MetricCheck(metric="auc", min=0.6),
            MetricCheck(metric="log_loss", max="baseline"),
            MetricCheck(metric="brier", max="baseline"),
            MetricCheck(metric="ece", max=0.05),
            MetricCheck(metric="accuracy", min="baseline", blocking=False),
            MetricCheck(metric="precision", min="baseline", blocking=False),
            MetricCheck(metric="f1", min="baseline", blocking=False),
            RegressionCheck(metric="auc", tolerance=0.005),
            RegressionCheck(metric="log_loss", tolerance=0.005),
            FairnessCheck(max_demographic_parity_difference=0.15),
            FairnessCheck(max_equalized_odds_difference=0.1, blocking=False),
            SliceCheck(metric="auc", min=0.6),
            *_operational(),
        ],
        label=label,
        sensitive=sensitive,
        description="Standard suite for binary classifiers.",
    )


def multiclass_classification(*, label: str | None = None, sensitive: Sequence[str] = ()) -> Suite:
    return Suite(
        MULTICLASS,
        [
            MetricCheck(metric="accuracy", min="baseline"),
            MetricCheck(metric="log_loss", max="baseline"),
            MetricCheck(metric="auc", min=0.6),
            MetricCheck(metric="ece", max=0.1),
            MetricCheck(metric="f1", min="baseline", blocking=False),
            RegressionCheck(metric="accuracy", tolerance=0.01),
            RegressionCheck(metric="log_loss", tolerance=0.01),
            FairnessCheck(max_metric_difference=0.1),
            SliceCheck(metric="accuracy", max_gap=0.2),
            *_operational(),
        ],
        label=label,
        sensitive=sensitive,
        description="Standard suite for multiclass classifiers.",
    )


def regression(*, label: str | None = None, sensitive: Sequence[str] = ()) -> Suite:
    return Suite(
        REGRESSION,
        [
            MetricCheck(metric="r2", min="baseline"),
            MetricCheck(metric="rmse", max="baseline"),
            MetricCheck(metric="mae", max="baseline"),
            RegressionCheck(metric="rmse"),
            FairnessCheck(metric="r2", max_metric_difference=0.25),
            SliceCheck(metric="r2", min=-0.5),
            *_operational(),
        ],
        label=label,
        sensitive=sensitive,
        description="Standard suite for regressors.",
    )


TEMPLATES: dict[str, Callable[..., Suite]] = {
    BINARY: binary_classification,
    MULTICLASS: multiclass_classification,
    REGRESSION: regression,
}
FOR_TASK = {"binary": BINARY, "multiclass": MULTICLASS, "regression": REGRESSION}


def template_for(task: str, **options) -> Suite:  # noqa: ANN003
    """The standard suite for a task (binary, multiclass, regression)."""
    return TEMPLATES[FOR_TASK[task]](**options)
