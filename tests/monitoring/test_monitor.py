"""Monitor runs over the prediction log, on SQLite and PostgreSQL: references stored with the
version, drift caught in a drifted window, live performance from feedback, time series."""

from __future__ import annotations

import json

import pytest
from monitoring_harness import DAY_MS, NOW, log_traffic

from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput, NotFound
from cairn.monitoring import (
    get_reference,
    get_run,
    list_runs,
    metric_series,
    report_of,
    run_monitor,
    set_reference,
)


def test_reference_comes_from_the_training_dataset(credit_model, training):
    reference = set_reference("credit-risk/1")
    assert reference.source == "credit-train@1" and reference.rows == len(training)
    frame = reference.frame()
    assert list(frame.columns)[:-2] == reference.features
    assert reference.prediction_columns == ["prediction", "probability"]
    assert get_reference("credit-risk").digest == reference.digest
    assert get_reference("credit-risk/1").model_version == 1

    smaller = set_reference("credit-risk/1", training.head(500), sample_rows=200)
    assert smaller.source == "frame" and smaller.rows == 200
    assert get_reference("credit-risk/1").rows == 200  # replaced, not added


def test_reference_input_is_checked(credit_model, training):
    with pytest.raises(InvalidInput) as caught:
        set_reference("credit-risk/1", training.drop(columns=["age"]))
    assert caught.value.field == "data"
    with pytest.raises(InvalidInput) as caught:
        set_reference("credit-risk/1", training, sample_rows=0)
    assert caught.value.field == "sample_rows"
    with pytest.raises(NotFound):
        get_reference("credit-risk")


def test_a_drifted_window_is_caught_and_a_clean_one_is_not(credit_model):
    set_reference("credit-risk/1")
    log_traffic(credit_model, make_credit_applications(2000, seed=5), end=NOW - DAY_MS)
    log_traffic(credit_model, make_credit_applications(2000, seed=6, drift=1.0), end=NOW)

    clean = run_monitor("credit-risk", window="1d", end=NOW - DAY_MS)
    assert clean.status == "ok" and clean.rows == 2000
    assert clean.summary["drifted_features"] == []

    drifted = run_monitor("credit-risk", window="1d", end=NOW)
    assert drifted.status == "drift" and drifted.rows == 2000
    for column in ("interest_rate", "debt_to_income", "credit_score", "loan_purpose"):
        assert column in drifted.summary["drifted_features"]
    assert "probability" in drifted.summary["prediction_drifted"]
    assert drifted.metrics["drift.share"] > 0.5

    series = metric_series("credit-risk", "drift.share")
    assert series["at"].tolist() == [NOW - DAY_MS, NOW]
    assert series["value"].iloc[0] < 0.5 < series["value"].iloc[1]
    assert [r.id for r in list_runs("credit-risk")] == [drifted.id, clean.id]
    assert get_run(drifted.id).metrics["drift.share"] == drifted.metrics["drift.share"]

    html = report_of(drifted.id).decode()
    assert "drift detected" in html and "data:image/png;base64," in html
    assert "interest_rate" in html
    document = json.loads(report_of(drifted.id, as_json=True))
    assert document["drift"]["drifted"] is True and document["status"] == "drift"


def test_windows_by_count_and_live_performance_from_feedback(credit_model):
    set_reference("credit-risk/1")
    window = make_credit_applications(1000, seed=7)
    log_traffic(credit_model, window.iloc[:600], end=NOW - 2 * DAY_MS, labels=True)
    log_traffic(credit_model, window.iloc[600:], end=NOW)  # no feedback yet

    run = run_monitor("credit-risk", last=600, end=NOW + 1)
    assert run.rows == 600 and run.metrics["performance.labelled"] == 200

    everything = run_monitor("credit-risk", window="7d", end=NOW + 1)
    assert everything.rows == 1000 and everything.metrics["performance.labelled"] == 600
    model = __import__("cairn").registry.load("credit-risk/1")
    labelled = window.iloc[:600]
    expected = (model.predict(labelled) == labelled["defaulted"].to_numpy()).mean()
    assert everything.metrics["performance.accuracy"] == pytest.approx(expected)
    assert 0.6 < everything.metrics["performance.roc_auc"] < 0.95


def test_an_empty_window_is_a_result(credit_model):
    set_reference("credit-risk/1")
    run = run_monitor("credit-risk", window="1h", end=NOW)
    assert run.status == "empty" and run.rows == 0
    assert run.summary["problems"][0] == "the current window is empty"
    assert run.metrics["rows"] == 0.0


def test_bad_monitor_arguments(credit_model):
    with pytest.raises(InvalidInput) as caught:
        run_monitor("credit-risk", window="a while")
    assert caught.value.field == "window"
    with pytest.raises(InvalidInput) as caught:
        run_monitor("credit-risk", last=0)
    assert caught.value.field == "last"
    with pytest.raises(NotFound):
        run_monitor("credit-risk", window="1d")  # no reference stored yet
