"""Shared fixtures: an isolated CAIRN_HOME for every test, and the real backends.

A backend that is not running is skipped with the reason outside CI and fails the test in CI
(CI=true), so a green CI always means the backend was exercised.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

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


@pytest.fixture
def postgres_uri(postgres_template) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"cairn_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    uri = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield uri
    store = _stores.pop(uri, None)
    if store is not None:
        store.close()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
