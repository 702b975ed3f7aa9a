"""Fixtures: a credit model registered with its training data, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from monitoring_harness import Receiver

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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook on loopback that keeps what is POSTed to it."""
    r = Receiver()
    yield r
    r.close()
