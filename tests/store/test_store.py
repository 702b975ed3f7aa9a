"""The metadata store: schema through migrations, refusal of stores it cannot use, SQLite tuning."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from cairn.errors import ConfigError, StoreSchemaError
from cairn.store import SCHEMA_HEAD, Store
from cairn.store.migrate import current_revision, known_revisions
from cairn.store.schema import metadata

FIXTURES = Path(__file__).parent / "fixtures"


def test_new_store_is_at_head_and_matches_the_declared_tables(store_uri):
    store = Store(store_uri)
    with store.read() as conn:
        assert current_revision(conn) == SCHEMA_HEAD
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.close()


def test_head_constant_is_the_newest_migration():
    assert known_revisions()[0] == SCHEMA_HEAD


def test_sqlite_store_uses_wal(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/c.db")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 30_000
    store.close()


def test_store_written_by_a_newer_cairn_is_refused(tmp_path):
    uri = f"sqlite:///{tmp_path}/c.db"
    Store(uri).close()
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreSchemaError) as caught:
        Store(uri)
    assert "'9999'" in str(caught.value) and "newer cairn" in str(caught.value)


def test_database_that_is_not_a_cairn_store_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER)")
        db.execute("INSERT INTO customers VALUES (1)")
    with pytest.raises(StoreSchemaError) as caught:
        Store(f"sqlite:///{path}")
    assert "not a cairn store" in str(caught.value)
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"customers"}


@pytest.mark.parametrize("uri", ["mysql://x/y", "not a url", "oracle://a"])
def test_unsupported_uri_is_a_config_error_naming_it(uri):
    with pytest.raises(ConfigError) as caught:
        Store(uri)
    assert caught.value.field == "uri"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.db")), ids=lambda p: p.name)
def test_stores_written_by_earlier_schema_versions_open_with_their_records(
    fixture, tmp_path, monkeypatch
):
    """Each fixture is a store file written by an earlier cairn (see make_fixtures.py)."""
    path = tmp_path / fixture.name
    shutil.copy(fixture, path)
    revision = (
        sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchone()[0]
    )
    if revision != SCHEMA_HEAD:
        monkeypatch.setenv("CAIRN_AUTO_MIGRATE", "false")
        with pytest.raises(StoreSchemaError, match="cairn db upgrade"):
            Store(f"sqlite:///{path}", auto_migrate=False)
    store = Store(f"sqlite:///{path}")
    with store.read() as conn:
        assert current_revision(conn) == SCHEMA_HEAD
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []  # fully upgraded
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM metrics")).scalar() == 20
    store.close()
