"""The synthetic credit data: reproducible, well-typed, realistic, learnable, and drifting."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from cairn.datasets import (
    CREDIT_CATEGORICAL,
    CREDIT_FEATURES,
    CREDIT_LABEL,
    CREDIT_NUMERIC,
    CREDIT_SENSITIVE,
    credit,
    make_credit_applications,
)
from cairn.errors import InvalidInput

N = 20_000
DRIFTED_NUMERIC = ("age", "annual_income", "credit_score", "debt_to_income", "interest_rate")


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return make_credit_applications(N, seed=1)


@pytest.fixture(scope="module")
def reference_other_seed() -> pd.DataFrame:
    return make_credit_applications(N, seed=2)


@pytest.fixture(scope="module")
def drifted() -> pd.DataFrame:
    return make_credit_applications(N, seed=3, drift=1.0)


@pytest.fixture(scope="module")
def reference_model(reference: pd.DataFrame) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    return model.fit(reference[list(CREDIT_FEATURES)], reference[CREDIT_LABEL])


def _auc(model: HistGradientBoostingClassifier, frame: pd.DataFrame) -> float:
    scores = model.predict_proba(frame[list(CREDIT_FEATURES)])[:, 1]
    return float(roc_auc_score(frame[CREDIT_LABEL], scores))


# --- reproducibility and schema ---------------------------------------------------------------


def test_same_arguments_give_an_identical_frame() -> None:
    kwargs = {"seed": 7, "drift": 0.3, "start": "2026-02-01", "days": 7}
    pd.testing.assert_frame_equal(
        make_credit_applications(3_000, **kwargs), make_credit_applications(3_000, **kwargs)
    )
    pd.testing.assert_frame_equal(
        make_credit_applications(500), make_credit_applications(500, seed=0, drift=0.0)
    )


def test_other_seed_gives_other_rows() -> None:
    a = make_credit_applications(1_000, seed=1)
    b = make_credit_applications(1_000, seed=2)
    for column in ("age", "annual_income", "credit_score", "application_time"):
        assert (a[column] != b[column]).mean() > 0.5, column


def test_columns_and_dtypes(reference: pd.DataFrame) -> None:
    assert tuple(reference.columns) == credit.COLUMNS
    assert len(reference) == N
    for column in ("applicant_id", "age", "term_months", "credit_score", "num_credit_lines"):
        assert reference[column].dtype == np.int64, column
    assert reference["num_delinquencies"].dtype == np.int64
    assert reference[CREDIT_LABEL].dtype == np.int64
    for column in ("annual_income", "employment_years", "loan_amount", "interest_rate"):
        assert reference[column].dtype == np.float64, column
    assert reference["debt_to_income"].dtype == np.float64
    assert reference["application_time"].dtype == np.dtype("datetime64[ns]")
    for column, categories in credit.CATEGORIES.items():
        assert isinstance(reference[column].dtype, pd.CategoricalDtype), column
        assert tuple(reference[column].cat.categories) == categories, column
    assert reference["age_band"].cat.ordered


def test_column_groups_are_consistent() -> None:
    assert set(CREDIT_NUMERIC) | set(CREDIT_CATEGORICAL) == set(CREDIT_FEATURES)
    assert not set(CREDIT_NUMERIC) & set(CREDIT_CATEGORICAL)
    assert CREDIT_SENSITIVE == ("age_band", "sex")
    assert not set(CREDIT_SENSITIVE) & set(CREDIT_FEATURES)
    assert CREDIT_LABEL == "defaulted" and CREDIT_LABEL not in CREDIT_FEATURES
    assert set(CREDIT_CATEGORICAL) | set(CREDIT_SENSITIVE) == set(credit.CATEGORIES)
    assert set(credit.DRIFTING) <= set(credit.COLUMNS)


def test_categories_are_fixed_whatever_the_sample() -> None:
    one = make_credit_applications(1, seed=5)
    for column, categories in credit.CATEGORIES.items():
        assert tuple(one[column].cat.categories) == categories, column


# --- values and relations ---------------------------------------------------------------------


def test_value_ranges(reference: pd.DataFrame) -> None:
    df = reference
    assert df["applicant_id"].is_unique and df["applicant_id"].iloc[0] == 1
    assert df["age"].between(18, 80).all()
    assert df["credit_score"].between(300, 850).all()
    assert df["loan_amount"].between(1_000, 40_000).all()
    assert df["debt_to_income"].between(0, 0.95).all()
    assert df["interest_rate"].between(5, 36).all()
    assert (df["annual_income"] > 0).all()
    assert set(df["term_months"].unique()) == {36, 60}
    assert set(df[CREDIT_LABEL].unique()) == {0, 1}
    assert (df["num_delinquencies"] >= 0).all() and (df["num_credit_lines"] >= 1).all()
    employment = df["employment_years"]
    known = employment.notna()
    assert (employment[known] >= 0).all()
    assert (employment[known] <= df.loc[known, "age"] - 18).all()
    assert 0.01 < employment.isna().mean() < 0.03
    assert df.drop(columns="employment_years").notna().all().all()
    # The band is a function of age, with the documented edges.
    expected = pd.cut(df["age"], [17, 25, 35, 50, 65, 80], labels=credit.AGE_BANDS)
    assert (df["age_band"].astype(str) == expected.astype(str)).all()


def test_application_times_are_sorted_within_the_period() -> None:
    start = datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    df = make_credit_applications(5_000, seed=3, start=start, days=7)
    times = df["application_time"]
    assert times.is_monotonic_increasing
    origin = pd.Timestamp("2026-03-01 10:00")  # the aware start, in UTC and made naive
    assert times.min() >= origin and times.max() < origin + pd.Timedelta(days=7)
    assert times.max() - times.min() > pd.Timedelta(days=6.9)  # spread over the period
    assert (times.dt.floor("s") == times).all()


def test_features_relate_like_a_loan_book(reference: pd.DataFrame) -> None:
    df = reference
    income = df.groupby("age_band", observed=True)["annual_income"].median()
    assert income["18-25"] < income["26-35"] < income["36-50"] < income["51-65"]
    assert 0.85 < income["65+"] / income["51-65"] < 1.2  # flat after about 50
    rent = (df["home_ownership"] == "rent").groupby(df["age_band"], observed=True).mean()
    assert rent["18-25"] > rent["51-65"] + 0.2
    assert df["credit_score"].corr(df["interest_rate"]) < -0.8
    assert df["credit_score"].corr(df["num_delinquencies"]) < -0.3
    assert df["credit_score"].corr(df["age"]) > 0.15
    assert df["annual_income"].corr(df["loan_amount"]) > 0.3
    long_term = df["term_months"] == 60
    assert df.loc[long_term, "loan_amount"].median() > df.loc[~long_term, "loan_amount"].median()
    rate = df.groupby("term_months")["interest_rate"].mean()
    assert rate[60] > rate[36]


def test_default_rate_is_in_the_stated_band(reference: pd.DataFrame) -> None:
    assert 0.10 <= reference[CREDIT_LABEL].mean() <= 0.20


def test_youngest_band_defaults_more(reference: pd.DataFrame) -> None:
    overall = reference[CREDIT_LABEL].mean()
    by_band = reference.groupby("age_band", observed=True)[CREDIT_LABEL].mean()
    assert by_band["18-25"] > overall + 0.02
    assert by_band["18-25"] > by_band["51-65"] + 0.05


def test_a_model_learns_and_generalises_across_seeds(
    reference_model: HistGradientBoostingClassifier, reference_other_seed: pd.DataFrame
) -> None:
    assert 0.72 <= _auc(reference_model, reference_other_seed) <= 0.88


# --- drift ------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", DRIFTED_NUMERIC)
def test_drift_shifts_documented_columns_and_seeds_do_not(
    column: str,
    reference: pd.DataFrame,
    reference_other_seed: pd.DataFrame,
    drifted: pd.DataFrame,
) -> None:
    assert column in credit.DRIFTING
    assert ks_2samp(reference[column], drifted[column]).pvalue < 1e-10
    assert ks_2samp(reference[column], reference_other_seed[column]).pvalue > 1e-3


def test_drift_moves_columns_the_documented_way(
    reference: pd.DataFrame, drifted: pd.DataFrame
) -> None:
    ref, cur = reference.median(numeric_only=True), drifted.median(numeric_only=True)
    assert cur["age"] < ref["age"]
    assert cur["annual_income"] < 0.85 * ref["annual_income"]
    assert cur["credit_score"] < ref["credit_score"] - 15
    assert cur["debt_to_income"] > 1.2 * ref["debt_to_income"]
    assert cur["interest_rate"] > ref["interest_rate"] + 1.5
    assert drifted["num_delinquencies"].mean() > reference["num_delinquencies"].mean()
    young = "18-25"
    assert (drifted["age_band"] == young).mean() > (reference["age_band"] == young).mean() + 0.04
    new = "bnpl_refinance"
    assert (reference["loan_purpose"] == new).mean() < 0.03
    assert (drifted["loan_purpose"] == new).mean() > 0.10
    assert abs((drifted["sex"] == "female").mean() - (reference["sex"] == "female").mean()) < 0.03
    assert drifted[CREDIT_LABEL].mean() > reference[CREDIT_LABEL].mean() + 0.1


def test_drift_is_gradual() -> None:
    medians = [
        make_credit_applications(N, seed=4, drift=d)["annual_income"].median()
        for d in (0.0, 0.5, 1.0)
    ]
    assert medians[0] > medians[1] > medians[2]


def test_drift_decays_a_reference_model(
    reference_model: HistGradientBoostingClassifier,
    reference_other_seed: pd.DataFrame,
    drifted: pd.DataFrame,
) -> None:
    assert _auc(reference_model, drifted) < _auc(reference_model, reference_other_seed) - 0.02


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_rows", 0),
        ("n_rows", -5),
        ("n_rows", 10.0),
        ("n_rows", "100"),
        ("n_rows", True),
        ("seed", -1),
        ("seed", 1.5),
        ("seed", None),
        ("drift", -0.1),
        ("drift", 1.01),
        ("drift", math.nan),
        ("drift", "0.5"),
        ("drift", None),
        ("drift", True),
        ("start", "not a date"),
        ("start", ""),
        ("start", 20260101),
        ("days", 0),
        ("days", -1.0),
        ("days", math.inf),
        ("first_id", -1),
    ],
)
def test_bad_arguments_raise_invalid_input_naming_them(field: str, value: object) -> None:
    kwargs = {"n_rows": 10, field: value}
    with pytest.raises(InvalidInput) as caught:
        make_credit_applications(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert field in str(caught.value)
    if not (isinstance(value, float) and math.isnan(value)):
        assert caught.value.value == value


def test_accepted_argument_forms() -> None:
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    a = make_credit_applications(np.int64(50), seed=np.int64(3), drift=1, start=aware)
    b = make_credit_applications(50, seed=3, drift=1.0, start="2026-01-01")
    pd.testing.assert_frame_equal(a, b)
    shifted = make_credit_applications(50, seed=3, drift=1.0, first_id=1_000)
    assert shifted["applicant_id"].iloc[0] == 1_000
    pd.testing.assert_frame_equal(
        shifted.drop(columns="applicant_id"), b.drop(columns="applicant_id")
    )
