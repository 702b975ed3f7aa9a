"""Feature store: one feature definition for training and serving.

Define entities, sources, feature views and feature services in Python; ``apply`` them (each
changed definition becomes a new version); read point-in-time correct training data with
``get_historical_features`` (DuckDB ASOF joins); ``materialize`` the newest values into the
online store (SQLite, or Redis); look them up with ``get_online_features``; complete an id-only
request with ``fill_request``; compare both paths with ``check_skew``; snapshot a training set as
a dataset version with ``training_set``.

The module-level functions use a ``FeatureStore`` for the current settings (``CAIRN_URI``,
``CAIRN_ONLINE_STORE``), kept per process so that online lookups reuse resolved plans.
"""

from __future__ import annotations

import threading
from typing import Any

from cairn.features.definitions import (
    DatasetSource,
    Entity,
    Feature,
    FeatureSelection,
    FeatureService,
    FeatureView,
    ParquetSource,
    SqlSource,
)
from cairn.features.online import OnlineStore, open_online_store
from cairn.features.registry import Applied
from cairn.features.scheduled import schedule_materialization
from cairn.features.store import (
    FeatureStore,
    Materialization,
    Mismatch,
    OnlineFeatures,
    SkewReport,
)

__all__ = [
    "Applied",
    "DatasetSource",
    "Entity",
    "Feature",
    "FeatureSelection",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "Materialization",
    "Mismatch",
    "OnlineFeatures",
    "OnlineStore",
    "ParquetSource",
    "SkewReport",
    "SqlSource",
    "apply",
    "check_skew",
    "feature_store",
    "fill_request",
    "get_historical_features",
    "get_online_features",
    "materialize",
    "open_online_store",
    "schedule_materialization",
    "training_set",
]

_stores: dict[tuple[str, str], FeatureStore] = {}
_lock = threading.Lock()


def feature_store() -> FeatureStore:
    """The feature store of the current settings, shared within this process."""
    from cairn.core import settings

    config = settings()
    key = (config.uri, config.online_store)
    with _lock:
        found = _stores.get(key)
        if found is None:
            found = _stores[key] = FeatureStore()
        return found


def apply(*definitions: Any) -> list[Applied]:
    """Store the definitions (objects, lists of them, or a definitions file's path)."""
    return feature_store().apply(*definitions)


def get_historical_features(entity_df: Any, features: Any, *, timestamp: str | None = None) -> Any:
    """Point-in-time correct features for each entity row (see ``FeatureStore``)."""
    return feature_store().get_historical_features(entity_df, features, timestamp=timestamp)


def training_set(entity_df: Any, features: Any, name: str, **kwargs: Any) -> Any:
    """Historical features snapshotted as a dataset version with lineage to the views."""
    return feature_store().training_set(entity_df, features, name, **kwargs)


def materialize(views: Any = None, *, start: Any = None, end: Any = None) -> list[Materialization]:
    """Write the newest values into the online store (incremental without ``start``)."""
    return feature_store().materialize(views, start=start, end=end)


def get_online_features(entity_keys: Any, features: Any) -> OnlineFeatures:
    """The entities' features from the online store."""
    return feature_store().get_online_features(entity_keys, features)


def fill_request(frame: Any, features: Any) -> Any:
    """A request frame (ids and request values) completed with its features, for serving."""
    return feature_store().fill_request(frame, features)


def check_skew(features: Any, entity_keys: Any = None, **kwargs: Any) -> SkewReport:
    """Online against offline values for a sample of entities."""
    return feature_store().check_skew(features, entity_keys, **kwargs)
