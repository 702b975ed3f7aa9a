"""Feature store fixtures: the online store on each backend, and a feature store over it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

import cairn.features
from cairn.features import FeatureStore
from cairn.features.online import OnlineStore
from cairn.features.online.sqlite import SqliteOnlineStore


@pytest.fixture(params=["sqlite", "redis"])
def online_store(request, tmp_path) -> Iterator[OnlineStore]:
    """The online store, once per backend: the same tests run on both. Redis keys live under
    a prefix of their own (tests run in parallel) and are removed after."""
    if request.param == "sqlite":
        store: OnlineStore = SqliteOnlineStore(tmp_path / "online.db")
    else:
        from cairn.features.online.redis import RedisOnlineStore

        uri = request.getfixturevalue("redis_uri")
        store = RedisOnlineStore(uri, prefix=f"cairn-test-{secrets.token_hex(6)}:")
    yield store
    if request.param == "redis":
        client = store._client
        keys = list(client.scan_iter(match=f"{store.prefix}*", count=10_000))
        if keys:
            client.unlink(*keys)
    store.close()


@pytest.fixture
def feature_store(online_store) -> FeatureStore:
    return FeatureStore(online=online_store)


@pytest.fixture(autouse=True)
def _forget_feature_stores() -> Iterator[None]:
    yield
    for store in cairn.features._stores.values():
        store.close()
    cairn.features._stores.clear()
