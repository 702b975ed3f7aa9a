"""Run the model server: ``cairn serve credit-risk@champion --port 8080`` (uvicorn)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

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
    features: str | None = None,
    compile: str | None = None,
) -> None:
    """Serve the models ``targets`` name (registry refs or package folders) until stopped.

    ``features``: a feature service (applied with ``cairn features apply``) whose online values
    complete each request, so a request may carry only entity ids (and request-time values).
    ``compile="onnx"``: serve scikit-learn, LightGBM and XGBoost models as their ONNX graphs,
    checked to agree first.
    SIGINT or SIGTERM stops it gracefully: new connections are refused, requests in flight are
    answered, then the prediction log is written out before the process ends.
    """
    import uvicorn

    if not targets:
        raise InvalidInput.for_field("targets", [], "at least one model ref or package folder")
    if not 0 <= port <= 65535:
        raise InvalidInput.for_field("port", port, "a TCP port from 0 to 65535")
    options = options or ServerOptions()
    models = [ServedModel(target, features, compile) for target in targets]
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


@contextlib.contextmanager
def serving_in_background(target: str | os.PathLike, *options: str) -> Iterator[str]:
    """``cairn serve target *options`` in a process of its own on a free loopback port; yields
    its URL once it is ready and stops it gracefully (SIGTERM) when the block ends."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "cairn", "serve", str(target), *options, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cairn serve failed: {process.stderr.read().decode()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cairn serve {target} was not ready in 120 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()  # graceful: answers what is in flight, writes the prediction log
        process.wait(timeout=60)
