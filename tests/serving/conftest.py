"""Fixtures: credit models registered in a store of their own, and a server serving them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from serving_harness import Server, register_credit_models, running_server

from cairn.datasets import CREDIT_FEATURES, make_credit_applications


@pytest.fixture(scope="session")
def credit() -> pd.DataFrame:
    return make_credit_applications(1500, seed=3)


@pytest.fixture(scope="session")
def records(credit) -> list[dict]:
    """Rows as a client sends them: JSON objects (NaN becomes null)."""
    return json.loads(credit[list(CREDIT_FEATURES)].head(50).to_json(orient="records"))


@pytest.fixture(scope="module")
def model_home(tmp_path_factory, credit) -> Path:
    home = tmp_path_factory.mktemp("served")
    register_credit_models(home, credit)
    return home


@pytest.fixture(scope="module")
def server(model_home) -> Iterator[Server]:
    """One server for the tests that only read: credit-risk@champion, small limits."""
    with running_server(model_home, "credit-risk@champion", "--max-body-mb", "0.5") as s:
        yield s
        s.stop()
