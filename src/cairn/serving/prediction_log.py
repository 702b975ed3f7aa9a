"""The prediction log: every predicted row, stored for monitoring, off the request path.

The server hands each answered request to ``PredictionLog.record`` (a queue append); a
background thread writes what has queued in one transaction every ``interval`` seconds or
every ``batch_rows`` rows. ``close`` writes the rest, so a graceful stop loses nothing. A failed
write keeps its rows queued and is retried. ``read_predictions`` and ``record_feedback`` are
the other side: logged rows (with their ground truth, once it arrives) as a DataFrame, and
labels attached by request id.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import and_, func, select

from cairn.core import now_ms, settings
from cairn.errors import InvalidInput, NotFound
from cairn.store import Store, open_store
from cairn.store.schema import feedback, predictions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request: its rows (columns as sent) and what the model said."""

    request_id: str
    model_name: str
    model_version: int
    version_id: str | None
    created_at: int  # ms
    latency_ms: float
    columns: dict[str, list[Any]]
    predictions: list[Any]
    probabilities: list[list[float]] | None

    def rows(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        inputs = zip(*self.columns.values(), strict=True)
        probabilities = self.probabilities or [None] * len(self.predictions)
        return [
            {
                "request_id": self.request_id,
                "row": row,
                "model_name": self.model_name,
                "model_version": self.model_version,
                "version_id": self.version_id,
                "created_at": self.created_at,
                "latency_ms": self.latency_ms,
                "inputs": json.dumps(dict(zip(names, values, strict=True)), default=str),
                "prediction": json.dumps(prediction),
                "probabilities": None if proba is None else json.dumps(proba),
            }
            for row, (values, prediction, proba) in enumerate(
                zip(inputs, self.predictions, probabilities, strict=True)
            )
        ]


class PredictionLog:
    """Batched, background writes of logged requests into the store's ``predictions`` table."""

    def __init__(
        self, store: Store | None = None, *, interval: float = 0.5, batch_rows: int = 5000
    ) -> None:
        self.store = store or open_store()
        self.interval = interval
        self.batch_rows = batch_rows
        self._pending: deque[LoggedRequest] = deque()
        self._pending_rows = 0
        self._wake = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()  # guards _pending and _pending_rows
        self._write_lock = threading.Lock()  # one writer: the thread, or flush()
        self._thread = threading.Thread(target=self._run, name="cairn-prediction-log", daemon=True)
        self._thread.start()

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    def record(self, request: LoggedRequest) -> None:
        with self._lock:
            self._pending.append(request)
            self._pending_rows += len(request.predictions)
            full = self._pending_rows >= self.batch_rows
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write everything queued now; the number of rows written."""
        with self._write_lock:
            with self._lock:
                taken, count = list(self._pending), self._pending_rows
                self._pending.clear()
                self._pending_rows = 0
            if not taken:
                return 0
            try:
                with self.store.write() as conn:
                    conn.execute(
                        predictions.insert(), [row for request in taken for row in request.rows()]
                    )
            except Exception:
                with self._lock:  # keep them, first in line, for the next try
                    self._pending.extendleft(reversed(taken))
                    self._pending_rows += count
                raise
            return count

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("writing the prediction log failed; retrying in %ss", self.interval)


def read_predictions(
    model: str,
    *,
    start: int | None = None,
    end: int | None = None,
    last: int | None = None,
    store: Store | None = None,
) -> pd.DataFrame:
    """Logged rows of ``model`` (times in ms, ``start`` inclusive, ``end`` exclusive; or the
    ``last`` n rows), oldest first: the inputs as columns, then ``prediction``,
    ``probabilities``, ``label`` (None until feedback arrives), ``request_id``, ``row``,
    ``model_version``, ``created_at``, ``latency_ms``."""
    store = store or open_store()
    where = [predictions.c.model_name == model]
    if start is not None:
        where.append(predictions.c.created_at >= start)
    if end is not None:
        where.append(predictions.c.created_at < end)
    order = (predictions.c.created_at, predictions.c.request_id, predictions.c.row)
    query = (
        select(predictions, feedback.c.label)
        .outerjoin(
            feedback,
            and_(
                feedback.c.request_id == predictions.c.request_id,
                feedback.c.row == predictions.c.row,
            ),
        )
        .where(*where)
    )
    if last is not None:
        query = query.order_by(*(c.desc() for c in order)).limit(last)
    else:
        query = query.order_by(*order)
    with store.read() as conn:
        rows = conn.execute(query).mappings().all()
    if last is not None:
        rows = rows[::-1]
    inputs = pd.DataFrame([json.loads(r["inputs"]) for r in rows])
    meta = pd.DataFrame(
        {
            "prediction": [json.loads(r["prediction"]) for r in rows],
            "probabilities": [_loads(r["probabilities"]) for r in rows],
            "label": [_loads(r["label"]) for r in rows],
            "request_id": [r["request_id"] for r in rows],
            "row": [r["row"] for r in rows],
            "model_version": [r["model_version"] for r in rows],
            "created_at": [r["created_at"] for r in rows],
            "latency_ms": [r["latency_ms"] for r in rows],
        }
    )
    return pd.concat([inputs, meta], axis=1)


def record_feedback(request_id: str, labels: list[Any], *, store: Store | None = None) -> int:
    """Attach ground-truth ``labels`` (one per row of the request) to a logged request; sending
    them again corrects them. The number of rows labelled."""
    store = store or open_store()
    if not isinstance(labels, list) or not labels:
        raise InvalidInput.for_field("labels", labels, "a non-empty list, one label per row")
    with store.write() as conn:
        count = conn.scalar(select(func.count()).where(predictions.c.request_id == request_id))
        if not count:
            raise NotFound.for_field("request_id", request_id)
        if count != len(labels):
            raise InvalidInput.for_field(
                "labels", f"{len(labels)} label(s)", f"{count}: one per row of {request_id}"
            )
        now, user = now_ms(), settings().user
        rows = [
            {
                "request_id": request_id,
                "row": row,
                "label": json.dumps(label),
                "created_at": now,
                "creator": user,
            }
            for row, label in enumerate(labels)
        ]
        conn.execute(feedback.delete().where(feedback.c.request_id == request_id))
        conn.execute(feedback.insert(), rows)
    return len(rows)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
