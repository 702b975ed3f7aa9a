"""The feature store demo runs end to end: train from the store, serve an id-only request."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import cairn.data
from cairn.datasets import make_credit_applications

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo_features.py"


@pytest.mark.slow
def test_demo_trains_from_the_store_and_serves_an_id_only_request(tmp_path):
    spec = importlib.util.spec_from_file_location("demo_features", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    found = demo.run(n_rows=1_500, seed=4, folder=tmp_path / "data", show=False)

    assert found["training_rows"] == 1_500 and found["auc"] > 0.6
    # point in time: training saw the bureau pull from before each application, not the later one
    training = cairn.data.load(found["training_set"])
    truth = make_credit_applications(1_500, seed=4)
    assert training["credit_score"].tolist() == truth["credit_score"].tolist()
    online = found["online"]
    assert online["applicant_id"] == found["applicant_id"]
    assert all(online[name] is not None for name in found["features"])
    assert online["loan_to_income"] == pytest.approx(
        online["loan_amount"] / online["annual_income"]
    )
    assert 0.0 < found["probability"] < 1.0 and found["skew_ok"]
    # the model server filled the same id-only request from the online store over HTTP
    served = found["served"]
    assert served["probabilities"][0][1] == pytest.approx(found["probability"])
