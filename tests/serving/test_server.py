"""The model server over real HTTP: answers, refusals, OpenAPI, metrics, feedback."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from serving_harness import in_home

import cairn
import cairn.models
from cairn.serving import read_predictions


def test_predicts_records_like_the_model_in_process(server, records):
    answer = server.predict(records[:5])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == "credit-risk" and body["version"] == 1
    assert answer.headers["x-request-id"] == body["request_id"]
    with in_home(server.home):
        model = cairn.models.load("credit-risk/1")
    frame = pd.DataFrame(records[:5])
    assert body["predictions"] == model.predict(frame).tolist()
    np.testing.assert_allclose(body["probabilities"], model.predict_proba(frame))
    assert body["classes"] == [0, 1]


def test_columnar_body_gives_the_same_answer(server, records):
    columns = {name: [r[name] for r in records[:3]] for name in records[0]}
    by_column = server.post("/v1/models/credit-risk/predict", json={"columns": columns}).json()
    by_record = server.predict(records[:3]).json()
    assert by_column["predictions"] == by_record["predictions"]
    assert by_column["probabilities"] == by_record["probabilities"]


@pytest.mark.parametrize(
    ("change", "field", "expected", "got"),
    [
        (lambda r: r.pop("age"), "age", "integer without nulls", "null or no value"),
        (lambda r: r.update(age="old"), "age", "integer", "'old' (str)"),
        (lambda r: r.update(credit_score=True), "credit_score", "integer", "True (bool)"),
        (lambda r: r.update(loan_amount="12"), "loan_amount", "float", "'12' (str)"),
        (lambda r: r.update(home_ownership="castle"), "home_ownership", "one of", "'castle'"),
        (lambda r: r.update(age=None), "age", "integer without nulls", "null or no value"),
    ],
)
def test_a_bad_row_is_a_422_naming_field_expected_got_and_row(
    server, records, change, field, expected, got
):
    rows = [dict(r) for r in records[:3]]
    change(rows[2])
    answer = server.predict(rows)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["field"] == field and body["row"] == 2
    assert body["expected"].startswith(expected) and body["got"] == got
    assert field in body["message"] and body["request_id"]


def test_a_column_no_row_has_is_a_422_naming_it(server, records):
    answer = server.predict([{k: v for k, v in r.items() if k != "age"} for r in records[:2]])
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["field"] == "age" and body["got"] == "nothing: the column is missing"
    assert "row" not in body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"rows": []}', "body"),
        (b'{"records": []}', "rows"),
        (b'{"records": [1, 2]}', "records[0]"),
        (b'{"columns": {"age": [1, 2], "credit_score": [1]}}', "columns"),
        (b'{"columns": {"age": 3}}', "columns.age"),
    ],
)
def test_a_malformed_body_is_a_422_naming_the_field(server, body, field):
    answer = server.post("/v1/models/credit-risk/predict", content=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


def test_an_oversized_body_is_a_413_and_the_server_carries_on(server, records):
    huge = {"records": records * 400}  # well over the 0.5 MB this server takes
    answer = server.post("/v1/models/credit-risk/predict", content=json.dumps(huge))
    assert answer.status_code == 413, answer.text
    assert answer.json()["field"] == "body"
    assert server.predict(records[:1]).status_code == 200


def test_an_unknown_model_is_a_404_naming_it(server, records):
    answer = server.predict(records[:1], model="fraud")
    assert answer.status_code == 404
    assert "fraud" in answer.json()["message"] and "credit-risk" in answer.json()["message"]


def test_concurrent_good_and_bad_requests_are_answered_each_on_its_own(server, records):
    """Requests are batched together: a bad one must fail alone, the others get their rows."""
    bad = dict(records[0], home_ownership="castle")
    bodies = [[records[i % 50]] if i % 4 else [bad] for i in range(200)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(server.predict, bodies))
    for i, answer in enumerate(answers):
        if i % 4:
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["predictions"]) == 1
        else:
            assert answer.status_code == 422 and answer.json()["field"] == "home_ownership"
    single = {i: server.predict(bodies[i]).json()["predictions"] for i in (1, 2, 3)}
    assert all(answers[i].json()["predictions"] == p for i, p in single.items())


def test_openapi_describes_the_signature(server):
    doc = server.get("/openapi.json").json()
    operation = doc["paths"]["/v1/models/credit-risk/predict"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    columns = schema["properties"]["records"]["items"]["properties"]
    assert columns["age"] == {"type": "integer"}
    assert columns["home_ownership"] == {"enum": ["rent", "mortgage", "own"]}
    assert {"type": "null"} in columns["annual_income"]["anyOf"]
    assert {"200", "413", "422"} <= set(operation["responses"])


def test_health_readiness_and_model_description(server):
    assert server.get("/healthz").json() == {"status": "ok"}
    assert server.get("/readyz").json() == {"ready": True, "models": {"credit-risk": 1}}
    described = server.get("/v1/models/credit-risk").json()
    assert described["version"] == 1 and described["follows_alias"] is True
    assert [c["name"] for c in described["signature"]["inputs"]][:2] == ["age", "annual_income"]
    assert server.get("/v1/models/fraud").status_code == 404


def test_metrics_count_requests_by_version_status_and_error(server, records):
    def count(text: str, line: str) -> float:
        found = [row for row in text.splitlines() if row.startswith(line)]
        return float(found[0].rsplit(" ", 1)[1]) if found else 0.0

    before = server.get("/metrics").text
    server.predict(records[:2])
    server.predict([dict(records[0], age="x")])
    after = server.get("/metrics").text
    ok = 'cairn_predict_requests_total{model="credit-risk",status="200",version="1"}'
    bad = 'cairn_predict_errors_total{kind="invalid_input",model="credit-risk",version="1"}'
    rows = 'cairn_predicted_rows_total{model="credit-risk",version="1"}'
    assert count(after, ok) == count(before, ok) + 1
    assert count(after, bad) == count(before, bad) + 1
    assert count(after, rows) == count(before, rows) + 2
    assert "cairn_predict_latency_seconds_bucket" in after


def test_feedback_attaches_labels_to_the_logged_rows(server, records):
    answer = server.predict(records[:2]).json()
    done = server.post("/v1/feedback", json={"request_id": answer["request_id"], "labels": [1, 0]})
    assert done.status_code == 200, done.text
    assert done.json()["labelled_rows"] == 2
    with in_home(server.home):
        logged = read_predictions("credit-risk")
    mine = logged[logged["request_id"] == answer["request_id"]]
    assert mine["label"].tolist() == [1, 0]
    assert mine["prediction"].tolist() == answer["predictions"]
    assert mine["age"].tolist() == [r["age"] for r in records[:2]]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"request_id": "0" * 32, "label": 1}, 404, "request_id"),
        ({"label": 1}, 422, "request_id"),
        ({"request_id": "x", "label": 1, "labels": [1]}, 422, "labels"),
        ({"request_id": "x", "labels": [{"a": 1}]}, 422, "labels"),
    ],
)
def test_bad_feedback_is_refused_naming_the_field(server, body, status, field):
    answer = server.post("/v1/feedback", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field


def test_feedback_with_the_wrong_number_of_labels_is_refused(server, records):
    request_id = server.predict(records[:2]).json()["request_id"]
    answer = server.post("/v1/feedback", json={"request_id": request_id, "label": 1})
    assert answer.status_code == 422 and answer.json()["field"] == "labels"
