"""Metrics and the vectorised bootstrap agree with scikit-learn, resample by resample."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from cairn.errors import InvalidInput
from cairn.evaluation.bootstrap import AUC_LEVELS, Resampler, interval
from cairn.evaluation.metrics import METRICS, Outcomes, get_metric


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.2).astype(int)
    p = np.clip(0.15 + 0.4 * y + rng.normal(0, 0.2, len(y)), 0.01, 0.99)
    return Outcomes("binary", y, p, (0, 1))


def test_binary_metrics_match_scikit_learn(binary):
    y, p = binary.y, binary.scores
    pred = (p >= 0.5).astype(int)
    expected = {
        "auc": roc_auc_score(y, p),
        "log_loss": log_loss(y, p),
        "brier": brier_score_loss(y, p),
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
    }
    for name, value in expected.items():
        assert METRICS[name].compute(binary) == pytest.approx(value, abs=1e-9), name
    prevalence = y.mean()
    assert METRICS["brier"].baseline(binary) == pytest.approx(prevalence * (1 - prevalence))
    assert METRICS["accuracy"].baseline(binary) == pytest.approx(1 - prevalence)


def test_multiclass_and_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 500)]
    proba = rng.dirichlet([1, 1, 1], 500)
    o = Outcomes("multiclass", y, proba, ("a", "b", "c"))
    assert METRICS["log_loss"].compute(o) == pytest.approx(
        log_loss(y, proba, labels=["a", "b", "c"])
    )
    predicted = np.array(["a", "b", "c"])[proba.argmax(axis=1)]
    assert METRICS["f1"].compute(o) == pytest.approx(f1_score(y, predicted, average="macro"))
    truth = rng.normal(size=400)
    guess = truth + rng.normal(0, 0.5, 400)
    r = Outcomes("regression", truth, guess)
    assert METRICS["r2"].compute(r) == pytest.approx(r2_score(truth, guess))
    assert METRICS["mae"].compute(r) == pytest.approx(mean_absolute_error(truth, guess))


def test_bootstrap_resamples_are_the_resampled_metrics(binary):
    resampler = Resampler(len(binary.y), resamples=40, seed=3)
    (aucs,) = resampler.aucs(binary.positive, [binary.scores])
    metric = METRICS["log_loss"]
    (sums,) = resampler.sums([metric.terms(binary)])
    losses = metric.from_sums(sums, len(binary.y))
    for i, rows in enumerate(np.concatenate(list(resampler.chunks()))[:5]):
        assert aucs[i] == pytest.approx(
            roc_auc_score(binary.y[rows], binary.scores[rows]), abs=1e-12
        )
        assert losses[i] == pytest.approx(log_loss(binary.y[rows], binary.scores[rows]), abs=1e-12)
    assert len(aucs) == 40


def test_bootstrap_auc_with_many_distinct_scores_is_centred_on_the_exact_value():
    rng = np.random.default_rng(4)
    n = AUC_LEVELS * 3
    y = rng.random(n) < 0.3
    p = rng.random(n) + 0.3 * y
    (aucs,) = Resampler(n, resamples=200, seed=0).aucs(y, [p])
    low, high = interval(aucs, 0.95)
    assert low < roc_auc_score(y, p) < high
    assert high - low < 0.02


def test_unknown_or_unfit_metrics_are_refused():
    with pytest.raises(InvalidInput, match="metric='nope'"):
        get_metric("nope")
    with pytest.raises(InvalidInput, match="regression metric") as caught:
        get_metric("auc", "regression")
    assert caught.value.field == "metric"


def test_auc_of_one_class_says_why():
    o = Outcomes("binary", np.zeros(10, int), np.linspace(0, 1, 10), (0, 1))
    with pytest.raises(InvalidInput, match="both classes"):
        METRICS["auc"].compute(o)
