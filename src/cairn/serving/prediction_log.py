"""The prediction log: every answered request, stored for monitoring, off the request path.

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
from itertools import chain
from typing import Any

import pandas as pd
from sqlalchemy import select

from cairn.core import now_ms, settings
from cairn.errors import InvalidInput, NotFound
from cairn.serving.payload import payload_of
from cairn.store import Store, open_store
from cairn.store.schema import feedback, predictions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request: its body and its answer, as they went over the wire."""

    request_id: str
    model_name: str
    model_version: int
    version_id: str | None
    created_at: int  # ms
    latency_ms: float
    rows: int
    inputs: bytes  # JSON: {"records": [...]} or {"columns": {...}}
    outputs: bytes  # JSON: {"predictions": [...], "probabilities": [...], ...}

    def row(self) -> dict[str, Any]:
        """The request as one row of the ``predictions`` table."""
        return {
            "request_id": self.request_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "version_id": self.version_id,
            "created_at": self.created_at,
            "latency_ms": self.latency_ms,
            "rows": self.rows,
            "inputs": self.inputs.decode(),
            "outputs": self.outputs.decode(),
        }


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
            self._pending_rows += request.rows
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
                    conn.execute(predictions.insert(), [request.row() for request in taken])
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
    """Logged rows of ``model``, oldest first: requests received from ``start`` (ms, inclusive)
    to ``end`` (exclusive), or the rows of the requests that hold the ``last`` n rows. Columns:
    the inputs, then ``prediction``, ``probabilities``, ``label`` (missing until feedback
    arrives), ``request_id``, ``row`` (within its request), ``model_version``, ``created_at``
    (ms) and ``latency_ms`` (of the request)."""
    store = store or open_store()
    where = [predictions.c.model_name == model]
    if start is not None:
        where.append(predictions.c.created_at >= start)
    if end is not None:
        where.append(predictions.c.created_at < end)
    query = (
        select(predictions, feedback.c.labels)
        .outerjoin(feedback, feedback.c.request_id == predictions.c.request_id)
        .where(*where)
    )
    oldest_first = (predictions.c.created_at, predictions.c.request_id)
    with store.read() as conn:
        if last is None:
            requests = conn.execute(query.order_by(*oldest_first)).mappings().all()
        else:
            requests, rows = [], 0
            for request in conn.execute(
                query.order_by(*(c.desc() for c in oldest_first))
            ).mappings():
                if rows >= last:
                    break
                requests.append(request)
                rows += request["rows"]
            requests.reverse()
    return _as_frame(requests)


def _as_frame(requests: list[Any]) -> pd.DataFrame:
    """Requests (bodies and answers) as one frame of rows."""
    inputs = [payload_of(json.loads(r["inputs"])).columns for r in requests]
    outputs = [json.loads(r["outputs"]) for r in requests]
    sizes = [r["rows"] for r in requests]
    names = list(dict.fromkeys(name for columns in inputs for name in columns))

    def joined(parts: Any) -> list[Any]:
        return list(chain.from_iterable(parts))

    data: dict[str, Any] = {
        name: joined(c.get(name, [None] * n) for c, n in zip(inputs, sizes, strict=True))
        for name in names
    }
    data["prediction"] = joined(o["predictions"] for o in outputs)
    data["probabilities"] = joined(
        o.get("probabilities", [None] * n) for o, n in zip(outputs, sizes, strict=True)
    )
    data["label"] = joined(
        json.loads(r["labels"]) if r["labels"] else [None] * r["rows"] for r in requests
    )
    data["request_id"] = joined([r["request_id"]] * r["rows"] for r in requests)
    data["row"] = joined(range(n) for n in sizes)
    for key in ("model_version", "created_at", "latency_ms"):
        data[key] = joined([r[key]] * r["rows"] for r in requests)
    return pd.DataFrame(data)


def record_feedback(request_id: str, labels: list[Any], *, store: Store | None = None) -> int:
    """Attach ground-truth ``labels`` (one per row of the request) to a logged request; sending
    them again corrects them. The number of rows labelled."""
    store = store or open_store()
    if not isinstance(labels, list) or not labels:
        raise InvalidInput.for_field("labels", labels, "a non-empty list, one label per row")
    with store.write() as conn:
        rows = conn.scalar(select(predictions.c.rows).where(predictions.c.request_id == request_id))
        if rows is None:
            raise NotFound.for_field("request_id", request_id)
        if rows != len(labels):
            raise InvalidInput.for_field(
                "labels", f"{len(labels)} label(s)", f"{rows}: one per row of {request_id}"
            )
        conn.execute(feedback.delete().where(feedback.c.request_id == request_id))
        conn.execute(
            feedback.insert(),
            {
                "request_id": request_id,
                "labels": json.dumps(labels),
                "created_at": now_ms(),
                "creator": settings().user,
            },
        )
    return rows
