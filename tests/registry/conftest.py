"""Real models for the registry tests: a scikit-learn pipeline on the credit generator."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from cairn.datasets import CREDIT_FEATURES, make_credit_applications
from credit_models import credit_pipeline


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return make_credit_applications(1500, seed=3)


@pytest.fixture(scope="session")
def features(credit) -> pd.DataFrame:
    return credit[list(CREDIT_FEATURES)]


@pytest.fixture(scope="session")
def credit_model(credit) -> Pipeline:
    return credit_pipeline(credit)
