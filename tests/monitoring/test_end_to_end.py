"""The whole path, through a real ``cairn serve`` process: drifted requests over HTTP, the
server stopped gracefully (its prediction log written), a monitor run that sees the drift and
an alert that reaches a webhook."""

from __future__ import annotations

import json

import httpx
import pytest

from cairn.datasets import CREDIT_FEATURES, make_credit_applications
from cairn.monitoring import add_rule, list_alerts, run_monitor, set_reference
from cairn.serving import serving_in_background


@pytest.mark.slow  # a server process starts and loads the model: ~10 s a backend
def test_drifted_traffic_served_over_http_is_caught_and_alerted(credit_model, receiver):
    set_reference("credit-risk/1")
    add_rule("credit-risk", "drifting", "drift.share", ">=", 0.5, webhook=receiver.url)
    downturn = make_credit_applications(1000, seed=12, drift=1.0)[list(CREDIT_FEATURES)]

    with (
        serving_in_background("credit-risk/1") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        for first in range(0, len(downturn), 100):
            records = json.loads(downturn.iloc[first : first + 100].to_json(orient="records"))
            answer = http.post("/v1/models/credit-risk/predict", json={"records": records})
            assert answer.status_code == 200, answer.text
    # the block's end stopped the server with SIGTERM: what it had not written yet, it wrote

    done = run_monitor("credit-risk", window="1h")
    assert done.rows == len(downturn) and done.status == "drift"
    for column in ("interest_rate", "debt_to_income", "credit_score", "loan_purpose"):
        assert column in done.summary["drifted_features"]
    [alert] = list_alerts("credit-risk")
    assert alert.run_id == done.id and alert.delivered_at is not None
    [body] = receiver.received
    assert body["alert"]["id"] == alert.id and body["alert"]["status"] == "firing"
