"""Data quality of live inputs against the reference."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput
from cairn.monitoring import quality


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_clean_live_data_has_no_issues():
    reference = make_credit_applications(5000, seed=1)
    current = make_credit_applications(2000, seed=2)
    report = quality(reference, current)
    # Fresh draws can pass the reference's extremes by a hair; nothing else may be flagged.
    assert all("outside the reference range" in issue for issue in report.issues)
    assert report["employment_years"].current_missing == pytest.approx(0.02, abs=0.01)


def test_broken_live_data_is_described():
    reference = make_credit_applications(3000, seed=1)
    current = make_credit_applications(1000, seed=2).drop(columns=["sex"])
    current["employment_years"] = current["employment_years"].where(
        np.arange(1000) % 4 != 0
    )  # 25 % null against 2 %
    current["credit_score"] = current["credit_score"].astype(object)
    current.loc[:9, "credit_score"] = "n/a"
    current.loc[10:19, "credit_score"] = 2000
    current["loan_purpose"] = current["loan_purpose"].astype(str)
    current.loc[:49, "loan_purpose"] = "crypto"
    current["channel"] = "web"

    report = quality(reference, current)
    assert report.missing_columns == ["sex"]
    assert report.unexpected_columns == ["channel"]
    assert report["employment_years"].current_missing > 0.24
    assert report["credit_score"].wrong_type == pytest.approx(0.01)
    assert report["credit_score"].out_of_range == pytest.approx(0.01, abs=0.003)
    assert report["loan_purpose"].unseen == pytest.approx(0.05)
    issues = "\n".join(report.issues)
    for expected in ("sex: missing", "channel: not in the reference", "not numbers", "never had"):
        assert expected in issues
    metrics = report.metrics()
    assert metrics["quality.missing_columns"] == 1.0
    assert metrics["quality.loan_purpose.unseen"] == pytest.approx(0.05)


def test_empty_and_all_null_windows():
    reference = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    empty = quality(reference, reference.iloc[:0])
    assert empty.rows == 0 and empty.issues == []
    nulls = quality(reference, pd.DataFrame({"x": [np.nan] * 4, "c": [None] * 4}))
    assert nulls["x"].current_missing == 1.0 and nulls["x"].out_of_range == 0.0
    assert nulls["c"].unseen == 0.0
    all_null_reference = quality(reference.assign(x=np.nan), reference)
    assert all_null_reference["x"].out_of_range == 0.0


def test_bad_arguments():
    frame = pd.DataFrame({"x": [1.0]})
    with pytest.raises(InvalidInput) as caught:
        quality(frame, frame, columns=["y"])
    assert caught.value.field == "columns"
    with pytest.raises(InvalidInput) as caught:
        quality(frame, frame, missing_tolerance=2)
    assert caught.value.field == "missing_tolerance"
