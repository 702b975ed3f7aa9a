"""Micro-batches: several requests checked and predicted at once, each answered on its own."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cairn.datasets import CREDIT_FEATURES
from cairn.registry import LoadedModel, infer_signature
from cairn.serving.batching import MicroBatcher, predict_batch
from cairn.serving.payload import Payload, PayloadTooLarge, parse_payload
from credit_models import credit_pipeline


@pytest.fixture(scope="module")
def loaded(credit) -> LoadedModel:
    model = credit_pipeline(credit)
    signature = infer_signature(model, credit[list(CREDIT_FEATURES)].head())
    return LoadedModel(
        model, signature, {"name": "credit-risk", "version": 1, "flavour": "sklearn"}
    )


def payload(records: list[dict]) -> Payload:
    return Payload({k: [r.get(k) for r in records] for k in records[0]}, len(records))


def test_a_batch_answers_each_request_as_if_alone(loaded, records):
    requests = [records[0:3], records[3:4], records[4:9]]
    outcomes = predict_batch(loaded, [payload(r) for r in requests])
    for rows, outcome in zip(requests, outcomes, strict=True):
        alone = loaded.predict_proba(pd.DataFrame(rows))
        np.testing.assert_allclose(outcome.probabilities, alone)
        assert outcome.predictions == loaded.predict(pd.DataFrame(rows)).tolist()


def test_a_bad_row_refuses_only_its_request_with_its_own_row_number(loaded, records):
    bad = [dict(r) for r in records[3:6]]
    bad[1]["credit_score"] = "high"
    missing = [{k: v for k, v in r.items() if k != "age"} for r in records[6:8]]
    outcomes = predict_batch(loaded, [payload(records[:3]), payload(bad), payload(missing)])
    assert outcomes[0].error is None and len(outcomes[0].predictions) == 3
    assert outcomes[1].problem.field == "credit_score" and outcomes[1].problem.row == 1
    assert outcomes[1].error.http_status == 422 and outcomes[1].predictions is None
    assert outcomes[2].problem.field == "age" and outcomes[2].problem.row is None


class Picky:
    """A model that fails on any row whose age is 99, as a real model may on odd input."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if (frame["age"] == 99).any():
            raise ValueError("age 99 is out of this model's range")
        return np.zeros(len(frame), dtype=int)


def test_a_request_the_model_fails_on_fails_alone(loaded, records):
    picky = LoadedModel(Picky(), replace(loaded.signature, has_proba=False), loaded.metadata)
    odd = [dict(records[0], age=99)]
    outcomes = predict_batch(picky, [payload(records[:2]), payload(odd), payload(records[2:3])])
    assert [o.predictions for o in outcomes] == [[0, 0], None, [0]]
    assert outcomes[1].error.http_status == 500 and "age 99" in outcomes[1].error.message


class Counting:
    """Delegates to a real model and counts the calls, to see how requests were grouped."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, []

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(frame))
        return self.inner.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.inner.predict_proba(frame)


def test_the_batcher_groups_concurrent_requests_and_answers_each(loaded, records):
    counting = Counting(loaded.model)
    served = SimpleNamespace(
        name="credit-risk", current=LoadedModel(counting, loaded.signature, loaded.metadata)
    )

    async def scenario() -> list:
        batcher = MicroBatcher(served, max_rows=16)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit(payload([r])) for r in records[:40]))
        await batcher.stop()
        return answers

    answers = asyncio.run(scenario())
    assert [a.predictions[0] for a in answers] == loaded.predict(
        pd.DataFrame(records[:40])
    ).tolist()
    assert sum(counting.calls) == 40 and len(counting.calls) < 40
    assert max(counting.calls) <= 16  # max_rows bounds a batch


def test_payload_limits_and_shapes(records):
    body = b'{"records": [{"a": 1}, {"b": 2}]}'
    parsed = parse_payload(body, 1000, 10)
    assert parsed.rows == 2 and parsed.columns == {"a": [1, None], "b": [None, 2]}
    with pytest.raises(PayloadTooLarge) as caught:
        parse_payload(body, 1000, 1)
    assert caught.value.field == "rows" and caught.value.http_status == 413
    with pytest.raises(PayloadTooLarge, match="bytes"):
        parse_payload(body, 10, 10)


def test_rows_are_completed_by_the_feature_fill_and_a_request_without_ids_fails_alone(
    loaded, records, credit
):
    """With a feature service, requests carry ids; the fill adds the model's columns."""
    from cairn.errors import InvalidInput

    by_id = credit.head(50)[list(CREDIT_FEATURES)].reset_index(drop=True)

    def fill(frame: pd.DataFrame) -> pd.DataFrame:
        if "row_id" not in frame or frame["row_id"].isna().any():
            raise InvalidInput.for_field("row_id", None, "the entity id of every row")
        return pd.concat(
            [frame, by_id.iloc[frame["row_id"].astype(int)].reset_index(drop=True)], axis=1
        )

    ids_only = [payload([{"row_id": 3}]), payload([{"color": "red"}]), payload([{"row_id": 7}])]
    outcomes = predict_batch(loaded, ids_only, fill)
    assert outcomes[1].error.field == "row_id" and outcomes[1].predictions is None
    expected = loaded.predict(by_id.iloc[[3, 7]]).tolist()
    assert [outcomes[0].predictions[0], outcomes[2].predictions[0]] == expected


def counting_served(loaded) -> tuple[Counting, SimpleNamespace]:
    counting = Counting(loaded.model)
    current = LoadedModel(counting, loaded.signature, loaded.metadata)
    return counting, SimpleNamespace(name="credit-risk", current=current)


def test_a_lone_client_is_answered_without_waiting_for_company(loaded, records):
    counting, served = counting_served(loaded)

    async def scenario() -> list[float]:
        batcher = MicroBatcher(served, max_wait=1.0, max_gap=1.0)
        batcher.start()
        waits = []
        for record in records[:5]:
            started = time.perf_counter()
            await batcher.submit(payload([record]))
            waits.append(time.perf_counter() - started)
        await batcher.stop()
        return waits

    waits = asyncio.run(scenario())
    assert counting.calls == [1] * 5
    assert max(waits) < 0.5  # a wait for others would take max_wait (1 s)


def test_clients_answered_together_are_predicted_together_again(loaded, records):
    """Closed-loop clients each send again once answered; those answered in one batch, and
    those that were waiting meanwhile, end up in one batch rather than two alternating ones."""
    counting, served = counting_served(loaded)

    async def client(batcher: MicroBatcher, record: dict, delay: int) -> None:
        for _ in range(delay):  # the second half starts while the first is being predicted
            await asyncio.sleep(0)
        for _ in range(12):
            await batcher.submit(payload([record]))
            for _ in range(3):  # a few turns of the loop to send the next request
                await asyncio.sleep(0)

    async def scenario() -> None:
        batcher = MicroBatcher(served, max_wait=0.5, max_gap=0.005)
        batcher.start()
        await asyncio.gather(
            *(client(batcher, r, 0 if i < 4 else 1) for i, r in enumerate(records[:8]))
        )
        await batcher.stop()

    asyncio.run(scenario())
    assert sum(counting.calls) == 8 * 12
    assert counting.calls == [4, *[8] * 11, 4]  # the second half joins the first at once
