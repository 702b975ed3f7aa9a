"""A real model server for tests: ``cairn serve`` in its own process on a loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

import cairn
from cairn.datasets import CREDIT_FEATURES
from credit_models import credit_pipeline


@contextlib.contextmanager
def in_home(home: Path) -> Iterator[None]:
    """Use the store under ``home`` (a server's) in this process for a while."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAIRN_HOME", str(home))
        yield


@dataclass
class Server:
    url: str
    home: Path
    process: subprocess.Popen
    output: Path

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, timeout=30, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30)

    def predict(self, records: list[dict], model: str = "credit-risk") -> httpx.Response:
        return self.post(f"/v1/models/{model}/predict", json={"records": records})

    def stop(self) -> bool:
        """Stop it as a service manager does (SIGTERM); True if it ended by itself, cleanly
        (uvicorn re-raises the signal after its graceful shutdown: exit status -SIGTERM)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60) in (0, -signal.SIGTERM)

    def log(self) -> str:
        return self.output.read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(home: Path, *args: str) -> Iterator[Server]:
    """``cairn serve *args`` with CAIRN_HOME=home, ready to answer; stopped on exit."""
    port = free_port()
    output = home / f"server-{port}.log"
    env = {**os.environ, "CAIRN_HOME": str(home)}
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cairn", "serve", *args, "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", home, process, output)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited: {server.log()}")
            with contextlib.suppress(httpx.TransportError):
                if server.get("/readyz").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never became ready: {server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def register_credit_models(home: Path, credit: pd.DataFrame) -> None:
    """credit-risk/1 (@champion) and credit-risk/2, two real scikit-learn pipelines."""
    with in_home(home):
        example = credit[list(CREDIT_FEATURES)].head()
        for c in (1.0, 0.001):
            with cairn.start_run(experiment="serving") as run:
                version = run.log_model(
                    credit_pipeline(credit, C=c), name="credit-risk", input_example=example
                )
            if version.version == 1:
                cairn.registry.set_alias("credit-risk", "champion", 1)
