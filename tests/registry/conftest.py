"""Real models for the registry tests: a scikit-learn pipeline on the credit generator."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cairn.datasets import (
    CREDIT_CATEGORICAL,
    CREDIT_FEATURES,
    CREDIT_LABEL,
    make_credit_applications,
)


def credit_pipeline(frame: pd.DataFrame) -> Pipeline:
    features = frame[list(CREDIT_FEATURES)]
    categorical = [c for c in CREDIT_CATEGORICAL if c in features]
    numeric = [c for c in features if c not in categorical]
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
        ),
        LogisticRegression(max_iter=300),
    ).fit(features, frame[CREDIT_LABEL])


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return make_credit_applications(1500, seed=3)


@pytest.fixture(scope="session")
def features(credit) -> pd.DataFrame:
    return credit[list(CREDIT_FEATURES)]


@pytest.fixture(scope="session")
def credit_model(credit) -> Pipeline:
    return credit_pipeline(credit)
