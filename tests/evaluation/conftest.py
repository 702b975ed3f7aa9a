"""Real data for the evaluation tests: credit applications from ``make_credit_applications``
(age_band and sex are its sensitive attributes) and a model fitted on them."""

from __future__ import annotations

import pandas as pd
import pytest
from evaluation_helpers import credit_model
from sklearn.pipeline import Pipeline

from cairn.datasets import make_credit_applications


@pytest.fixture(scope="session")
def credit_train() -> pd.DataFrame:
    return make_credit_applications(6000, seed=11)


@pytest.fixture(scope="session")
def credit_holdout() -> pd.DataFrame:
    return make_credit_applications(6000, seed=12, first_id=100_000)


@pytest.fixture(scope="session")
def good_model(credit_train) -> Pipeline:
    return credit_model(credit_train)
