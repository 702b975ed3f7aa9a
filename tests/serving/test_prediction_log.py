"""The prediction log and feedback, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from cairn.core import new_id, now_ms
from cairn.errors import InvalidInput, NotFound
from cairn.serving import PredictionLog, read_predictions, record_feedback
from cairn.serving.prediction_log import LoggedRequest
from cairn.store import open_store


def logged(rows: int, *, at: int | None = None, model: str = "credit-risk") -> LoggedRequest:
    """A request of ``rows`` rows as the server logs it: body and answer as sent."""
    body = {"columns": {"age": list(range(30, 30 + rows)), "home": ["rent"] * rows}}
    answer = {
        "predictions": [i % 2 for i in range(rows)],
        "probabilities": [[0.25, 0.75]] * rows,
    }
    return LoggedRequest(
        request_id=new_id(),
        model_name=model,
        model_version=3,
        version_id=None,
        created_at=at or now_ms(),
        latency_ms=1.5,
        rows=rows,
        inputs=json.dumps(body).encode(),
        outputs=json.dumps(answer).encode(),
    )


def test_rows_are_written_in_batches_and_read_back_with_labels(use_store):
    log = PredictionLog(interval=60)  # only flush() and close() write here
    first, second = logged(2, at=1_000), logged(1, at=2_000)
    log.record(first)
    log.record(second)
    assert log.pending_rows == 3 and read_predictions("credit-risk").empty
    assert log.flush() == 3 and log.pending_rows == 0
    assert record_feedback(first.request_id, [1, 0]) == 2
    frame = read_predictions("credit-risk")
    assert frame["request_id"].tolist() == [first.request_id] * 2 + [second.request_id]
    assert frame["age"].tolist() == [30, 31, 30] and frame["home"].tolist() == ["rent"] * 3
    assert frame["prediction"].tolist() == [0, 1, 0]
    assert frame["probabilities"].tolist()[0] == [0.25, 0.75]
    assert frame["label"].tolist()[:2] == [1, 0] and frame["label"].isna().tolist()[2]
    assert read_predictions("credit-risk", start=1_500)["request_id"].tolist() == [
        second.request_id
    ]
    assert read_predictions("credit-risk", end=1_500)["row"].tolist() == [0, 1]
    assert read_predictions("credit-risk", last=1)["request_id"].tolist() == [second.request_id]
    assert read_predictions("other-model").empty
    log.close()


def test_close_writes_what_is_queued(use_store):
    log = PredictionLog(interval=60)
    requests = [logged(3) for _ in range(10)]
    for request in requests:
        log.record(request)
    log.close()
    assert len(read_predictions("credit-risk")) == 30


def test_the_thread_writes_on_its_own_when_a_batch_fills(use_store):
    log = PredictionLog(interval=60, batch_rows=5)
    log.record(logged(6))
    for _ in range(100):
        if not log.pending_rows:
            break
        __import__("time").sleep(0.05)
    assert len(read_predictions("credit-risk")) == 6
    log.close()


def test_a_failed_write_keeps_the_rows_for_the_next_try(use_store):
    store = open_store()
    log = PredictionLog(store, interval=60)
    log.record(logged(2))
    with store.write() as conn:  # the table is briefly unusable
        conn.execute(text("ALTER TABLE predictions RENAME TO predictions_away"))
    with pytest.raises(Exception, match="predictions"):
        log.flush()
    assert log.pending_rows == 2
    log.record(logged(1))
    with store.write() as conn:
        conn.execute(text("ALTER TABLE predictions_away RENAME TO predictions"))
    assert log.flush() == 3
    log.close()


def test_feedback_refuses_unknown_requests_and_wrong_counts(use_store):
    log = PredictionLog(interval=60)
    request = logged(2)
    log.record(request)
    log.flush()
    with pytest.raises(NotFound, match="nope"):
        record_feedback("nope", [1])
    with pytest.raises(InvalidInput, match="one per row") as caught:
        record_feedback(request.request_id, [1])
    assert caught.value.field == "labels"
    with pytest.raises(InvalidInput):
        record_feedback(request.request_id, [])
    record_feedback(request.request_id, [0, 0])
    record_feedback(request.request_id, [1, 1])  # a correction replaces the labels
    assert read_predictions("credit-risk")["label"].tolist() == [1, 1]
    log.close()
