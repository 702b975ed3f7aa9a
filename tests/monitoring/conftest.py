"""Fixtures: a credit model registered with its training data."""

from __future__ import annotations

import pandas as pd
import pytest

import cairn
import cairn.data
from cairn.datasets import CREDIT_FEATURES, make_credit_applications
from credit_models import credit_pipeline


@pytest.fixture(scope="session")
def training() -> pd.DataFrame:
    return make_credit_applications(4000, seed=1)


@pytest.fixture
def credit_model(use_store, training):
    """credit-risk/1, trained on the dataset version credit-train@1 (recorded as its input)."""
    dataset = cairn.data.snapshot(training, "credit-train")
    with cairn.start_run(experiment="monitoring") as run:
        run.log_input(dataset)
        version = run.log_model(
            credit_pipeline(training),
            name="credit-risk",
            input_example=training[list(CREDIT_FEATURES)].head(),
        )
    return version
