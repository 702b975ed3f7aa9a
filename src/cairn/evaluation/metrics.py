"""The metrics checks measure, for binary and multiclass classifiers and for regressors.

Each metric knows which way is better and, where one exists, its *baseline*: the score of the
constant predictor on the same labels (the base rate for log loss and Brier score, the majority
class for accuracy, the mean for RMSE), so a suite can ask "better than guessing" with no
configuration. Metrics that are sums over rows also give their per-row ``terms`` and a
``from_sums`` that turns the terms' sums over a bootstrap resample into the metric, which is
how ``cairn.evaluation.bootstrap`` resamples them without a Python loop per resample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from cairn.errors import InvalidInput

TASKS = ("binary", "multiclass", "regression")
_EPS = 1e-15
ECE_BINS = 10


@dataclass(frozen=True)
class Outcomes:
    """Labels and what a model predicted for them.

    ``scores``: the positive class's probability (binary), the class probabilities (multiclass,
    columns in ``classes`` order) or the predictions (regression). ``threshold``: above it a
    binary prediction is the positive class (``classes[1]``).
    """

    task: str
    y: np.ndarray
    scores: np.ndarray
    classes: tuple[Any, ...] | None = None
    threshold: float = 0.5

    def at(self, threshold: float) -> Outcomes:
        return self if threshold == self.threshold else replace(self, threshold=threshold)

    def subset(self, rows: np.ndarray) -> Outcomes:
        return replace(self, y=self.y[rows], scores=self.scores[rows])

    @cached_property
    def positive(self) -> np.ndarray:
        """Binary: whether each label is the positive class."""
        return self.y == self.classes[1]

    @cached_property
    def codes(self) -> np.ndarray:
        """Classifiers: each label's column in ``scores``."""
        if self.task == "binary":
            return self.positive.astype(np.int64)
        import pandas as pd

        return pd.Categorical(self.y, categories=list(self.classes)).codes.astype(np.int64)

    @cached_property
    def predicted_codes(self) -> np.ndarray:
        if self.task == "binary":
            return (self.scores >= self.threshold).astype(np.int64)
        return np.argmax(self.scores, axis=1)

    @property
    def predicted(self) -> np.ndarray:
        """Predicted labels (classifiers) or values (regression)."""
        if self.task == "regression":
            return self.scores
        return np.asarray(self.classes, dtype=object)[self.predicted_codes]

    @property
    def correct(self) -> np.ndarray:
        return self.predicted_codes == self.codes

    @property
    def probabilities(self) -> np.ndarray:
        """(n, k) class probabilities of a classifier."""
        if self.task == "binary":
            return np.column_stack([1.0 - self.scores, self.scores])
        return self.scores


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    tasks: tuple[str, ...]
    higher_is_better: bool
    compute: Callable[[Outcomes], float]
    terms: Callable[[Outcomes], np.ndarray] | None = None  # (n, k) per-row terms
    from_sums: Callable[[np.ndarray, int], np.ndarray] | None = None  # (B, k) sums -> (B,)
    baseline: Callable[[Outcomes], float] | None = None
    uses_threshold: bool = False

    @property
    def resamplable(self) -> bool:
        return self.name == "auc" or self.terms is not None

    def better(self, value: float, than: float) -> float:
        """How much better ``value`` is than ``than`` (negative: worse)."""
        return value - than if self.higher_is_better else than - value


# --- per-row terms and their sums ---------------------------------------------------------------


def _mean_terms(term: Callable[[Outcomes], np.ndarray]) -> dict[str, Any]:
    return {
        "compute": lambda o: float(np.mean(term(o))),
        "terms": lambda o: term(o)[:, None],
        "from_sums": lambda sums, n: sums[:, 0] / n,
    }


def _log_loss_rows(o: Outcomes) -> np.ndarray:
    chosen = o.probabilities[np.arange(len(o.y)), o.codes]
    return -np.log(np.clip(chosen, _EPS, 1.0))


def _brier_rows(o: Outcomes) -> np.ndarray:
    if o.task == "binary":
        return (o.scores - o.positive) ** 2
    onehot = np.zeros_like(o.scores, dtype=float)
    onehot[np.arange(len(o.y)), o.codes] = 1.0
    return ((o.scores - onehot) ** 2).sum(axis=1)


def _confusion_rows(o: Outcomes) -> np.ndarray:
    """(n, 3k) true positive, false positive and false negative indicators per class (binary:
    the positive class only)."""
    if o.task == "binary":
        pred, true = o.predicted_codes == 1, o.positive
        return np.column_stack([pred & true, pred & ~true, ~pred & true]).astype(float)
    k = len(o.classes)
    pred = np.zeros((len(o.y), k), bool)
    pred[np.arange(len(o.y)), o.predicted_codes] = True
    true = np.zeros_like(pred)
    true[np.arange(len(o.y)), o.codes] = True
    return np.hstack([pred & true, pred & ~true, ~pred & true]).astype(float)


def _from_confusion(kind: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """Precision, recall or F1 (macro-averaged over classes) from summed confusion terms."""

    def compute(sums: np.ndarray, n: int) -> np.ndarray:
        k = sums.shape[1] // 3
        tp, fp, fn = sums[:, :k], sums[:, k : 2 * k], sums[:, 2 * k :]
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "precision":
                value = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            elif kind == "recall":
                value = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            else:
                value = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        return value.mean(axis=1)

    return compute


def _confusion_metric(kind: str) -> dict[str, Any]:
    from_sums = _from_confusion(kind)
    return {
        "compute": lambda o: float(from_sums(_confusion_rows(o).sum(axis=0)[None, :], len(o.y))[0]),
        "terms": _confusion_rows,
        "from_sums": from_sums,
        "uses_threshold": True,
    }


def _r2_rows(o: Outcomes) -> np.ndarray:
    y = o.y.astype(float)
    return np.column_stack([(y - o.scores) ** 2, y, y * y])


def _r2_from_sums(sums: np.ndarray, n: int) -> np.ndarray:
    total = sums[:, 2] - sums[:, 1] ** 2 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - sums[:, 0] / total


def _auc(o: Outcomes) -> float:
    from sklearn.metrics import roc_auc_score

    if o.task == "binary":
        if o.positive.all() or not o.positive.any():
            raise InvalidInput(
                "ROC AUC needs both classes among the labels, and there is only one",
                field="label",
                value=o.classes[1] if o.positive.all() else o.classes[0],
            )
        return float(roc_auc_score(o.positive, o.scores))
    return float(roc_auc_score(o.codes, o.scores, multi_class="ovr", labels=range(len(o.classes))))


def expected_calibration_error(o: Outcomes, bins: int = ECE_BINS) -> float:
    """Binary: |mean predicted - observed rate| per equal-width probability bin, weighted by
    the bin's share of rows. Multiclass: the same on the top class's probability."""
    if o.task == "binary":
        confidence, hit = o.scores, o.positive.astype(float)
    else:
        confidence, hit = o.scores.max(axis=1), o.correct.astype(float)
    index = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.bincount(index, confidence, bins) - np.bincount(index, hit, bins)
    return float(np.abs(gap).sum() / max(count.sum(), 1))


def _prevalence(o: Outcomes) -> np.ndarray:
    """The share of each class among the labels."""
    return np.bincount(o.codes, minlength=len(o.classes)) / len(o.y)


def _entropy(o: Outcomes) -> float:
    shares = _prevalence(o)
    shares = shares[shares > 0]
    return float(-(shares * np.log(shares)).sum())


def _brier_baseline(o: Outcomes) -> float:
    shares = _prevalence(o)
    if o.task == "binary":
        return float(shares[1] * shares[0])
    return float(1.0 - (shares**2).sum())


def _f1_baseline(o: Outcomes) -> float:
    """F1 of flagging every row as positive (binary), or of always the majority class."""
    shares = _prevalence(o)
    if o.task == "binary":
        return float(2 * shares[1] / (1 + shares[1]))
    top = shares.max()
    return float(2 * top / (1 + top) / len(shares))


_CLASSIFIERS = ("binary", "multiclass")

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("auc", "ROC AUC", _CLASSIFIERS, True, _auc, baseline=lambda o: 0.5),
        Metric(
            "log_loss",
            "log loss",
            _CLASSIFIERS,
            False,
            **_mean_terms(_log_loss_rows),
            baseline=_entropy,
        ),
        Metric(
            "brier",
            "Brier score",
            _CLASSIFIERS,
            False,
            **_mean_terms(_brier_rows),
            baseline=_brier_baseline,
        ),
        Metric(
            "ece", "expected calibration error", _CLASSIFIERS, False, expected_calibration_error
        ),
        Metric(
            "accuracy",
            "accuracy",
            _CLASSIFIERS,
            True,
            **_mean_terms(lambda o: o.correct.astype(float)),
            baseline=lambda o: float(_prevalence(o).max()),
            uses_threshold=True,
        ),
        Metric(
            "precision",
            "precision",
            _CLASSIFIERS,
            True,
            **_confusion_metric("precision"),
            baseline=lambda o: float(_prevalence(o)[1]) if o.task == "binary" else 0.0,
        ),
        Metric("recall", "recall", _CLASSIFIERS, True, **_confusion_metric("recall")),
        Metric("f1", "F1", _CLASSIFIERS, True, **_confusion_metric("f1"), baseline=_f1_baseline),
        Metric(
            "rmse",
            "RMSE",
            ("regression",),
            False,
            compute=lambda o: float(np.sqrt(np.mean((o.y - o.scores) ** 2))),
            terms=lambda o: ((o.y - o.scores) ** 2)[:, None],
            from_sums=lambda sums, n: np.sqrt(sums[:, 0] / n),
            baseline=lambda o: float(np.std(o.y.astype(float))),
        ),
        Metric(
            "mae",
            "MAE",
            ("regression",),
            False,
            **_mean_terms(lambda o: np.abs(o.y - o.scores)),
            baseline=lambda o: float(np.mean(np.abs(o.y - np.median(o.y)))),
        ),
        Metric(
            "r2",
            "R²",
            ("regression",),
            True,
            compute=lambda o: float(_r2_from_sums(_r2_rows(o).sum(axis=0)[None, :], len(o.y))[0]),
            terms=_r2_rows,
            from_sums=_r2_from_sums,
            baseline=lambda o: 0.0,
        ),
    )
}


def get_metric(name: Any, task: str | None = None, field: str = "metric") -> Metric:
    """The metric called ``name``; InvalidInput when unknown or not defined for ``task``."""
    metric = METRICS.get(name) if isinstance(name, str) else None
    if metric is None:
        raise InvalidInput.for_field(field, name, f"one of {', '.join(METRICS)}")
    if task is not None and task not in metric.tasks:
        usable = [m for m in METRICS.values() if task in m.tasks]
        raise InvalidInput.for_field(
            field, name, f"a {task} metric: one of {', '.join(m.name for m in usable)}"
        )
    return metric


def default_metric(task: str) -> Metric:
    """What a check measures when it is not told: AUC, accuracy or RMSE."""
    return METRICS[{"binary": "auc", "multiclass": "accuracy", "regression": "rmse"}[task]]
