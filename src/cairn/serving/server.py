"""Run the model server: ``cairn serve credit-risk@champion --port 8080`` (uvicorn)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cairn.errors import InvalidInput
from cairn.serving.app import ServerOptions, create_app
from cairn.serving.prediction_log import PredictionLog
from cairn.serving.served import ServedModel


def serve(
    targets: Sequence[str | os.PathLike],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    options: ServerOptions | None = None,
    log_predictions: bool = True,
) -> None:
    """Serve the models ``targets`` name (registry refs or package folders) until stopped.

    SIGINT or SIGTERM stops it gracefully: new connections are refused, requests in flight are
    answered, then the prediction log is written out before the process ends.
    """
    import uvicorn

    if not targets:
        raise InvalidInput.for_field("targets", [], "at least one model ref or package folder")
    if not 0 <= port <= 65535:
        raise InvalidInput.for_field("port", port, "a TCP port from 0 to 65535")
    options = options or ServerOptions()
    models = [ServedModel(target) for target in targets]
    app = create_app(
        models,
        prediction_log=PredictionLog(interval=options.log_interval) if log_predictions else None,
        options=options,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=30,
    )
