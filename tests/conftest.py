"""Shared fixtures: an isolated CAIRN_HOME for every test, and the real backends.

A backend that is not running is skipped with the reason outside CI and fails the test in CI
(CI=true), so a green CI always means the backend was exercised.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cairn.store import _stores
from cairn.tracking import fluent
from cairn.tracking import service as tracking_service_module
from cairn.tracking.run import _open_runs as open_runs

POSTGRES_ADMIN = os.environ.get(
    "CAIRN_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_missing(reason: str) -> None:
    """Skip outside CI; fail in CI, where every backend must be exercised."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the backend must be available)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def cairn_home(tmp_path, monkeypatch) -> Iterator[os.PathLike]:
    """Each test gets its own CAIRN_HOME and no settings leaking in from the environment."""
    for var in (
        "CAIRN_URI",
        "CAIRN_ARTIFACTS",
        "CAIRN_USER",
        "CAIRN_EXPERIMENT",
        "CAIRN_AUTO_MIGRATE",
        "CAIRN_ONLINE_STORE",
    ):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "cairn-home"
    monkeypatch.setenv("CAIRN_HOME", str(home))
    yield home
    fluent._stack.clear()  # a test that left a run open must not parent the next test's runs
    open_runs.clear()
    tracking_service_module._services.clear()
    for store in _stores.values():
        store.close()
    _stores.clear()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test's database is copied from."""
    try:
        import psycopg  # noqa: F401
        from sqlalchemy import create_engine, text
    except ImportError:
        service_missing("psycopg is not installed")
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means: not available
        admin.dispose()
        service_missing(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc.__class__.__name__}"
        )
    name = f"cairn_tpl_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    from cairn.store import Store

    template_uri = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    Store(template_uri).close()  # migrate once
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def fresh_postgres_database(template: str) -> Iterator[str]:
    """A new database copied from the migrated template; dropped on exit."""
    from sqlalchemy import create_engine, text

    name = f"cairn_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    uri = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield uri
    finally:
        store = _stores.pop(uri, None)
        if store is not None:
            store.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_uri(postgres_template) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    with fresh_postgres_database(postgres_template) as uri:
        yield uri


@pytest.fixture(scope="module")
def postgres_module_uri(postgres_template) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database shared by one module's tests (that only read)."""
    with fresh_postgres_database(postgres_template) as uri:
        yield uri


@pytest.fixture(params=["sqlite", "postgres"])
def store_uri(request, tmp_path) -> str:
    """The metadata store URI, once per backend; the same tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cairn.db'}"
    return request.getfixturevalue("postgres_uri")


@pytest.fixture
def use_store(store_uri, monkeypatch) -> str:
    """Point CAIRN_URI at the backend under test, so the SDK and CLI use it."""
    monkeypatch.setenv("CAIRN_URI", store_uri)
    return store_uri


# S3: the real S3 API, served on loopback by moto in server mode ------------------------

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
            service_missing(problem)
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
        service_missing("s3fs is not installed (pip install 'cairn[s3]')")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("CAIRN_S3_ENDPOINT_URL", s3_server)
    return s3_server


# Redis: the server on loopback ------------------------------------------------------------

REDIS_URI = os.environ.get("CAIRN_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_uri() -> str:
    """The URI of the Redis server the tests use (skipped outside CI when it is not running)."""
    try:
        import redis
    except ImportError:
        service_missing("the redis client is not installed (pip install 'cairn[redis]')")
    try:
        redis.Redis.from_url(REDIS_URI, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis is not reachable at {REDIS_URI}: {exc.__class__.__name__}")
    return REDIS_URI
