"""The model server's HTTP API (FastAPI): predict, feedback, health, readiness, metrics.

``POST /v1/models/{name}/predict`` takes records or columns and answers predictions,
probabilities, the model version and a request id. A body that is too big is a 413; a row that
does not fit the signature a 422 naming the field, what was expected, what came and the row;
a model that fails on a request a 500 for that request alone. No request stops the server.
Every answered request goes to the prediction log; ``POST /v1/feedback`` attaches labels.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from cairn.core import new_id, now_ms
from cairn.errors import CairnError, InvalidInput, NotFound
from cairn.serving import openapi
from cairn.serving.batching import MicroBatcher, Outcome
from cairn.serving.metrics import ServerMetrics
from cairn.serving.payload import PayloadTooLarge, parse_payload
from cairn.serving.prediction_log import LoggedRequest, PredictionLog, record_feedback
from cairn.serving.served import ServedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    max_body_bytes: int = 16 * 1024 * 1024
    max_rows: int = 100_000
    max_batch_rows: int = 8192
    batch_wait: float = 0.002  # seconds a batch may wait for clients just answered to send again
    poll_interval: float = 2.0  # seconds between checks of a followed alias
    log_interval: float = 0.5  # seconds between writes of the prediction log
    model_threads: int = 1  # BLAS/OpenMP threads a prediction may use (micro-batches are small)


def create_app(
    models: list[ServedModel],
    *,
    prediction_log: PredictionLog | None = None,
    options: ServerOptions | None = None,
) -> PredictFastPath:
    """An app serving ``models`` (distinct names), logging to ``prediction_log`` when given."""
    options = options or ServerOptions()
    served = {m.name: m for m in models}
    if len(served) != len(models):
        names = [m.name for m in models]
        raise InvalidInput.for_field("models", names, "models of distinct names")
    metrics = ServerMetrics()
    batchers: dict[str, MicroBatcher] = {}
    state = {"ready": False}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name, model in served.items():
            batchers[name] = MicroBatcher(
                model, options.max_batch_rows, options.model_threads, options.batch_wait
            )
            batchers[name].start()
        poller = asyncio.create_task(_follow_aliases(list(served.values()), options.poll_interval))
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            poller.cancel()
            for batcher in batchers.values():
                await batcher.stop()
            if prediction_log is not None:
                await asyncio.to_thread(prediction_log.close)

    app = FastAPI(
        title="cairn model server",
        version="1",
        description="Models: " + ", ".join(f"{m.name} ({m.target})" for m in models),
        lifespan=lifespan,
    )

    @app.exception_handler(CairnError)
    async def cairn_error(_: Request, exc: CairnError) -> Response:
        return _json(exc.http_status, exc.to_dict())

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        return _json(500, {"error": type(exc).__name__, "message": str(exc)})

    async def predict(model: ServedModel, receive: Any, headers: Any) -> tuple[int, bytes, str]:
        """Answer one predict request: its status, JSON body and request id."""
        started = perf_counter()
        request_id = new_id()
        try:
            body = await _receive_body(receive, headers, options.max_body_bytes)
            payload = parse_payload(body, options.max_body_bytes, options.max_rows)
            outcome = await batchers[model.name].submit(payload)
        except CairnError as exc:
            current = model.current
            _observe(metrics, current.name, current.version, exc, started, 0)
            return exc.http_status, _encode({**exc.to_dict(), "request_id": request_id}), request_id
        seconds = perf_counter() - started
        version = outcome.model.version
        if outcome.error is not None:
            _observe(metrics, model.name, version, outcome.error, started, payload.rows)
            status = outcome.error.http_status
            return status, _encode(_error_body(outcome, request_id)), request_id
        metrics.observe(model.name, version, 200, seconds, payload.rows, None)
        answer = _encode(_answer(outcome, request_id))
        if prediction_log is not None:
            version_id = None if model.package else outcome.model.metadata.get("id")
            prediction_log.record(
                LoggedRequest(
                    request_id,
                    model.name,
                    version,
                    version_id,
                    now_ms(),
                    seconds * 1000,
                    payload.rows,
                    body,
                    answer,
                )
            )
        return 200, answer, request_id

    routes = {}
    for model in models:
        _add_predict_route(app, model, predict)
        routes[f"/v1/models/{model.name}/predict"] = functools.partial(predict, model)

    @app.post("/v1/models/{name}/predict", include_in_schema=False)
    async def unknown_model(name: str) -> Response:
        raise NotFound(
            f"no model {name!r} is served here: serving {sorted(served)}", field="name", value=name
        )

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"models": [_describe(m) for m in served.values()]}

    @app.get("/v1/models/{name}")
    async def describe(name: str) -> dict[str, Any]:
        if name not in served:
            raise NotFound.for_field("served model", name)
        return _describe(served[name])

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> dict[str, Any]:
        """Ground truth for a logged request: ``{"request_id": ..., "label": x}`` for a one-row
        request or ``"labels": [...]`` with one label per row."""
        body = await _receive_body(request.receive, request.headers.raw, options.max_body_bytes)
        request_id, labels = _feedback_body(body)
        try:
            count = await asyncio.to_thread(record_feedback, request_id, labels)
        except NotFound:
            if prediction_log is None or not prediction_log.pending_rows:
                raise
            await asyncio.to_thread(prediction_log.flush)  # it may still be queued
            count = await asyncio.to_thread(record_feedback, request_id, labels)
        return {"request_id": request_id, "labelled_rows": count}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        ready = state["ready"] and all(b.running for b in batchers.values())
        body = {
            "ready": ready,
            "models": {m.name: m.current.version for m in served.values()},
        }
        return _json(200 if ready else 503, body)

    @app.get("/metrics")
    async def prometheus() -> Response:
        if prediction_log is not None:
            metrics.log_pending.set(prediction_log.pending_rows)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return PredictFastPath(app, routes)


def _add_predict_route(app: FastAPI, model: ServedModel, predict: Any) -> None:
    """The predict route in FastAPI: it is described in the OpenAPI document; requests reach
    it through ``PredictFastPath``, which calls the same ``predict``."""
    signature = model.current.signature

    async def route(request: Request) -> Response:
        status, body, request_id = await predict(model, request.receive, request.headers.raw)
        return Response(
            body, status, media_type="application/json", headers={"x-request-id": request_id}
        )

    app.add_api_route(
        f"/v1/models/{model.name}/predict",
        route,
        methods=["POST"],
        summary=f"Predict with {model.name} ({model.target})",
        openapi_extra={
            "requestBody": openapi.request_body(signature),
            "responses": openapi.responses(signature),
        },
        name=f"predict-{model.name}",
    )


class PredictFastPath:
    """ASGI: ``POST /v1/models/<served name>/predict`` goes straight to ``predict``, around
    FastAPI's routing and middleware (a third of the server's time per small request);
    everything else, lifespan included, goes to the FastAPI app."""

    def __init__(self, app: FastAPI, routes: dict[str, Any]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        handler = (
            scope["type"] == "http" and scope["method"] == "POST" and self.routes.get(scope["path"])
        )
        if not handler:
            await self.app(scope, receive, send)
            return
        try:
            status, body, request_id = await handler(receive, scope["headers"])
            extra = [(b"x-request-id", request_id.encode())]
        except Exception as exc:  # never a crash: a 500 with what went wrong
            log.exception("unexpected error")
            status, body, extra = (
                500,
                _encode({"error": type(exc).__name__, "message": str(exc)}),
                [],
            )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _follow_aliases(models: list[ServedModel], interval: float) -> None:
    following = [m for m in models if m.follows_alias]
    while following:
        await asyncio.sleep(interval)
        for model in following:
            try:
                await asyncio.to_thread(model.refresh)
            except Exception:  # the registry may be briefly unreachable: keep serving
                log.exception(
                    "checking %s failed; still serving version %s",
                    model.target,
                    model.current.version,
                )


async def _receive_body(receive: Any, headers: Any, limit: int) -> bytes:
    """The request body from ASGI ``receive``, refused (413) as soon as it passes ``limit``."""
    for key, value in headers:
        if key == b"content-length" and value.isdigit() and int(value) > limit:
            raise PayloadTooLarge(
                f"the request body has {int(value)} bytes: at most {limit} are accepted",
                field="body",
                value=int(value),
            )
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput.for_field("body", "cut short", "a whole body: the client left")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the request body has more than {limit} bytes, the most accepted",
                field="body",
                value=size,
            )
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _feedback_body(body: bytes) -> tuple[str, list[Any]]:
    try:
        data = orjson.loads(body)
    except ValueError:
        raise InvalidInput.for_field(
            "body", body[:80].decode(errors="replace"), "a JSON object"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("request_id"), str):
        raise InvalidInput.for_field(
            "request_id",
            None if not isinstance(data, dict) else data.get("request_id"),
            "the request id a predict answer gave",
        )
    if ("label" in data) == ("labels" in data):
        raise InvalidInput.for_field(
            "labels", sorted(data), '"label" (one row) or "labels" (a list)'
        )
    labels = [data["label"]] if "label" in data else data["labels"]
    if not isinstance(labels, list) or any(isinstance(v, dict | list) for v in labels):
        raise InvalidInput.for_field("labels", labels, "plain values (numbers, strings, booleans)")
    return data["request_id"], labels


def _answer(outcome: Outcome, request_id: str) -> dict[str, Any]:
    model = outcome.model
    body: dict[str, Any] = {
        "request_id": request_id,
        "model": model.name,
        "version": model.version,
        "predictions": outcome.predictions,
    }
    if outcome.probabilities is not None:
        body["probabilities"] = outcome.probabilities
        body["classes"] = model.signature.classes
    return body


def _error_body(outcome: Outcome, request_id: str) -> dict[str, Any]:
    body = {**outcome.error.to_dict(), "request_id": request_id, "version": outcome.model.version}
    if outcome.problem is not None:
        problem = outcome.problem
        body.update(field=problem.field, expected=problem.expected, got=problem.got)
        if problem.row is not None:
            body["row"] = problem.row
    return body


def _observe(
    metrics: ServerMetrics, name: str, version: int, error: CairnError, started: float, rows: int
) -> None:
    kind = {413: "too_large", 422: "invalid_input", 404: "not_found"}.get(
        error.http_status, "model_error"
    )
    metrics.observe(name, version, error.http_status, perf_counter() - started, rows, kind)


def _describe(model: ServedModel) -> dict[str, Any]:
    current = model.current
    return {
        "name": current.name,
        "version": current.version,
        "target": model.target,
        "follows_alias": model.follows_alias,
        "flavour": current.flavour,
        "compiled": current.metadata.get("compiled"),
        "signature": current.signature.to_dict(),
    }


def _encode(body: Any) -> bytes:
    return orjson.dumps(body, default=str)  # NaN and infinity become null: valid JSON


def _json(status: int, body: Any) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json")
