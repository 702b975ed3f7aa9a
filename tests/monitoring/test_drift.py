"""Drift tests on real data (scikit-learn's bundled sets) and on bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.datasets import load_breast_cancer

from cairn.errors import InvalidInput
from cairn.monitoring import drift


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame["diagnosis"] = data.target.map({0: "malignant", 1: "benign"}).astype("category")
    return frame


def halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return frame.iloc[order[:half]], frame.iloc[order[half:]]


def test_induced_shift_in_real_data_is_caught(cancer):
    reference, current = halves(cancer, seed=0)
    current = current.copy()
    current["mean radius"] = current["mean radius"] * 1.15
    current["mean texture"] = current["mean texture"] + current["mean texture"].std() * 0.5
    # Keep mostly malignant cases: the diagnosis mix moves.
    current = pd.concat([current, current[current["diagnosis"] == "malignant"]])
    report = drift(reference, current)

    assert report["mean radius"].drifted and report["mean radius"].method == "ks"
    assert report["mean texture"].drifted
    assert report["diagnosis"].drifted and report["diagnosis"].method == "chi2"
    assert report["mean radius"].values["ks_pvalue"] < 1e-6


def test_random_splits_stay_within_the_false_positive_rate(cancer):
    flagged = tested = 0
    for seed in range(40):
        report = drift(*halves(cancer, seed))
        flagged += len(report.drifted_features)
        tested += len(report.tested)
        assert not report.drifted
    # p < 0.05 per column: about 5 % of the tests flag by chance on the same population.
    assert flagged / tested <= 0.05


def test_a_large_sample_uses_distances_and_ignores_a_tiny_shift():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=20_000), "c": rng.choice(list("abc"), 20_000)})
    current = pd.DataFrame({"x": rng.normal(0.05, 1, 20_000), "c": rng.choice(list("abc"), 20_000)})
    report = drift(reference, current)
    assert report["x"].method == "wasserstein" and not report["x"].drifted
    assert report["c"].method == "jensen_shannon" and not report["c"].drifted
    # The same tiny shift is significant for KS at this size: the choice matters.
    assert drift(reference, current, methods={"x": "ks"})["x"].drifted


def test_statistics_match_scipy():
    rng = np.random.default_rng(1)
    a = pd.DataFrame({"x": np.round(rng.normal(size=800), 1), "c": rng.choice(list("abcd"), 800)})
    b = pd.DataFrame(
        {"x": np.round(rng.normal(0.2, 1.2, 600), 1), "c": rng.choice(list("abcd"), 600)}
    )
    values = drift(a, b)["x"].values
    expected = stats.ks_2samp(a["x"], b["x"], method="exact")
    assert values["ks"] == pytest.approx(expected.statistic)
    assert values["ks_pvalue"] == pytest.approx(expected.pvalue, rel=0.05)
    assert values["wasserstein"] == pytest.approx(
        stats.wasserstein_distance(a["x"], b["x"]) / a["x"].std(ddof=0)
    )
    counts = drift(a, b)["c"].values
    p = a["c"].value_counts().sort_index().to_numpy()
    q = b["c"].value_counts().sort_index().to_numpy()
    chi2 = stats.chi2_contingency(np.vstack([p, q]), correction=False)
    assert counts["chi2_pvalue"] == pytest.approx(chi2.pvalue)
    assert counts["jensen_shannon"] == pytest.approx(jensenshannon(p / p.sum(), q / q.sum()))


def test_thresholds_and_methods_per_feature(cancer):
    reference, current = halves(cancer, seed=3)
    current = current.assign(**{"mean area": current["mean area"] * 1.05})
    strict = drift(reference, current, methods={"mean area": "psi"}, thresholds={"mean area": 0.0})
    assert strict["mean area"].method == "psi" and strict["mean area"].drifted
    loose = drift(reference, current, thresholds={"mean area": 1e-30})
    assert loose["mean area"].threshold == 1e-30 and not loose["mean area"].drifted


def test_prediction_drift_is_reported_apart():
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"x": rng.normal(size=500), "prediction": rng.random(500) < 0.2})
    current = pd.DataFrame({"x": rng.normal(size=500), "prediction": rng.random(500) < 0.6})
    report = drift(reference, current, prediction_columns=["prediction"])
    assert [f.column for f in report.prediction] == ["prediction"]
    assert report.prediction[0].drifted
    assert [f.column for f in report.features] == ["x"] and report.share_drifted == 0.0
    assert report.metrics()["drift.prediction.drifted"] == 1.0


def test_bad_windows_are_reported_not_raised():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {
            "gone": rng.normal(size=300),
            "empty_live": rng.normal(size=300),
            "constant": np.ones(300),
            "colour": pd.Categorical(rng.choice(["red", "blue"], 300)),
            "ok": rng.normal(size=300),
        }
    )
    current = pd.DataFrame(
        {
            "empty_live": np.full(200, np.nan),
            "constant": np.ones(200),
            "colour": pd.Categorical(rng.choice(["red", "blue", "mauve"], 200)),
            "ok": rng.normal(size=200),
        }
    )
    report = drift(reference, current)
    assert report["gone"].status == "missing" and report["gone"].drifted is None
    assert report["empty_live"].status == "all_null"
    assert report["empty_live"].current_missing == 1.0
    assert report["constant"].status == "ok"
    assert report["constant"].notes == ["constant in the reference"]
    assert report["colour"].unseen == ["mauve"] and report["colour"].drifted
    assert report.problems == ["gone: missing", "empty_live: all-null"]
    assert len(report.tested) == 3

    empty = drift(reference, current.iloc[:0])
    assert empty.problems[0] == "the current window is empty"
    assert empty.drifted is None and empty.share_drifted is None
    assert {f.status for f in empty.features} == {"empty", "missing"}

    null_reference = reference.assign(ok=np.nan)
    assert drift(null_reference, current)["ok"].status == "all_null"


def test_a_constant_reference_catches_a_moved_constant():
    reference = pd.DataFrame({"k": np.zeros(2000)})
    report = drift(reference, pd.DataFrame({"k": np.ones(2000)}))
    assert report["k"].drifted and report["k"].unseen == ["1"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"methods": {"x": "t-test"}}, "methods[x]"),
        ({"thresholds": {"x": -1}}, "thresholds[x]"),
        ({"thresholds": {"x": float("nan")}}, "thresholds[x]"),
        ({"columns": ["nope"]}, "columns"),
        ({"drift_share": 0}, "drift_share"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidInput) as caught:
        drift(frame, frame, **kwargs)
    assert caught.value.field == field


def test_an_empty_reference_is_refused():
    with pytest.raises(InvalidInput) as caught:
        drift(pd.DataFrame({"x": []}), pd.DataFrame({"x": [1.0]}))
    assert caught.value.field == "reference"


def test_domain_classifier_separates_drifted_tables():
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    # Same marginals, new correlation: only a multivariate check can see it.
    a = rng.normal(size=3000)
    current = pd.DataFrame({"a": a, "b": a * 0.95 + rng.normal(size=3000) * 0.3})
    report = drift(reference, current, multivariate=True)
    assert report.multivariate.drifted and report.multivariate.auc > 0.7
    same = drift(reference, reference.sample(frac=1.0, random_state=1), multivariate=True)
    assert not same.multivariate.drifted
