"""Fixtures for the artifact store conformance suite: one store per backend.

S3 is the real S3 API served on loopback by moto in server mode. When it cannot be
started the S3 tests are skipped with the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts import ArtifactStore, object_key

BUCKET = "cairn-test"
REGION = "us-east-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # keep a developer's ~/.aws out of the tests
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def service_unavailable(reason: str) -> None:
    """Skip the test, or fail it under ``CI=true``, where every service must run."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason} (CI=true: services must be available)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on 127.0.0.1 holding the bucket ``cairn-test``.

    The AWS credential variables are set to dummies for the session and restored after.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name, value in AWS_ENV.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        server, endpoint, problem = _start_moto()
        if problem is not None:  # outside the ``except`` that found it: no chained traceback
            service_unavailable(problem)
        try:
            yield endpoint
        finally:
            server.stop()


def _start_moto() -> tuple[Any, str, str | None]:
    """(server, endpoint, None) with the bucket made, or (None, "", why it failed)."""
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        return None, "", f"moto S3 server unavailable: {exc} (pip install 'moto[server]')"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # else one log line per request

    # port 0: the kernel picks a free port, with no window for another process to take it
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    # start() waits without a timeout for a server that may never bind (its thread then
    # dies): wait in a thread of our own, and give up when the server's thread is gone
    starter = threading.Thread(target=server.start, daemon=True)
    starter.start()
    deadline = time.monotonic() + 15
    while starter.is_alive() and time.monotonic() < deadline:
        serving = getattr(server, "_thread", None)
        if serving is not None and serving.ident is not None and not serving.is_alive():
            break
        starter.join(timeout=0.05)
    if starter.is_alive():
        return None, "", "moto S3 server did not start on 127.0.0.1 (see the thread's error)"
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
    except Exception as exc:
        server.stop()
        return None, "", f"moto S3 server at {endpoint} does not answer: {exc!r}"
    return server, endpoint, None


@pytest.fixture(scope="session")
def s3_bucket(s3_server: str) -> str:
    """The bucket the moto server holds for the tests."""
    return BUCKET


@pytest.fixture(scope="session")
def s3_client(s3_server: str) -> Any:
    """A boto3 client of the moto server, to look at and damage objects behind the store."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_server, region_name=REGION)


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point cairn's ``s3_endpoint_url`` setting at the moto server; the endpoint."""
    try:
        import s3fs  # noqa: F401
    except ImportError:
        service_unavailable("s3fs is not installed (pip install 'cairn[s3]')")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("CAIRN_S3_ENDPOINT_URL", s3_server)
    return s3_server


@dataclass
class Backend:
    """A store and a view of its storage that goes around it, to count and damage objects."""

    name: str
    store: ArtifactStore
    files: Callable[[], list[str]]  # every stored name under the root, sorted, temps included
    overwrite: Callable[[str, bytes], None]  # replace the stored bytes of a digest

    def object_keys(self, digests: list[str]) -> list[str]:
        return sorted({object_key(d) for d in digests})


def _local_backend(root: Path) -> Backend:
    from cairn.artifacts import LocalArtifactStore

    store = LocalArtifactStore(root)

    def files() -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def overwrite(digest: str, data: bytes) -> None:
        store.object_path(digest).write_bytes(data)

    return Backend("local", store, files, overwrite)


def _s3_backend(client: Any, prefix: str) -> Backend:
    from cairn.artifacts import FsspecArtifactStore

    store = FsspecArtifactStore(f"s3://{BUCKET}/{prefix}")

    def files() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/")
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return sorted(key[len(prefix) + 1 :] for key in keys)

    def overwrite(digest: str, data: bytes) -> None:
        client.put_object(Bucket=BUCKET, Key=f"{prefix}/{object_key(digest)}", Body=data)

    return Backend("s3", store, files, overwrite)


def _memory_backend(prefix: str) -> Backend:
    from cairn.artifacts import FsspecArtifactStore

    store = FsspecArtifactStore(f"memory://{prefix}")
    fs = store.fs
    root = f"/{prefix}"

    def files() -> list[str]:
        return sorted(path[len(root) + 1 :] for path in fs.find(root))

    def overwrite(digest: str, data: bytes) -> None:
        fs.pipe_file(f"{root}/{object_key(digest)}", data)

    return Backend("memory", store, files, overwrite)


@pytest.fixture(
    params=["local", pytest.param("s3", marks=pytest.mark.s3), "memory"],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty store of each backend: a local folder, S3 (moto), fsspec's memory://."""
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    if request.param == "local":
        yield _local_backend(tmp_path / "store")
    elif request.param == "s3":
        request.getfixturevalue("s3_env")
        client = request.getfixturevalue("s3_client")
        yield _s3_backend(client, prefix)
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/").get("Contents", [])
        for item in listed:  # free the moto server's memory
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    else:
        made = _memory_backend(prefix)
        yield made
        if made.files():  # the memory file system is shared by the whole process
            made.store.fs.rm(f"/{prefix}", recursive=True)  # type: ignore[attr-defined]
