"""The prediction log filled the way the model server fills it: the model's real answers to
generated applications, as requests over an hour; and a webhook receiver for the alerts."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd

import cairn
from cairn.core import new_id
from cairn.datasets import CREDIT_FEATURES
from cairn.serving import PredictionLog
from cairn.serving.prediction_log import LoggedRequest

DAY_MS = 86_400_000
#: A fixed "now" for the log: 2026-02-01 00:00 UTC.
NOW = 1_769_904_000_000


def log_traffic(
    version,
    frame: pd.DataFrame,
    *,
    end: int,
    span_ms: int = 3_600_000,
    batch: int = 100,
    labels: bool = False,
) -> list[str]:
    """Log ``frame`` as requests of ``batch`` rows spread over ``span_ms`` before ``end``, with
    the model's real predictions; labels from the frame's ``defaulted`` column if asked."""
    model = cairn.registry.load(version.ref)
    features = frame[list(CREDIT_FEATURES)]
    predictions = model.predict(features)
    probabilities = model.predict_proba(features)
    log = PredictionLog(interval=60)
    ids = []
    starts = range(0, len(frame), batch)
    times = np.linspace(end - span_ms, end - 1, len(starts)).astype(np.int64)
    for at, first in zip(times, starts, strict=True):
        part = slice(first, first + batch)
        body = json.loads(features.iloc[part].to_json(orient="columns"))
        columns = {name: list(values.values()) for name, values in body.items()}
        answer = {
            "predictions": predictions[part].tolist(),
            "probabilities": probabilities[part].tolist(),
        }
        request = LoggedRequest(
            request_id=new_id(),
            model_name=version.name,
            model_version=version.version,
            version_id=version.id,
            created_at=int(at),
            latency_ms=2.0,
            rows=len(predictions[part]),
            inputs=json.dumps({"columns": columns}).encode(),
            outputs=json.dumps(answer).encode(),
        )
        log.record(request)
        ids.append(request.request_id)
    log.close()
    if labels:
        for request_id, first in zip(ids, starts, strict=True):
            cairn.serving.record_feedback(
                request_id, frame["defaulted"].iloc[first : first + batch].tolist()
            )
    return ids


class Receiver:
    """An HTTP server on loopback that keeps the JSON bodies POSTed to it and answers with
    ``status`` (204 unless a test sets another)."""

    def __init__(self) -> None:
        received = self.received = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/cairn"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
