"""The reference a model version is monitored against, stored with the version.

``set_reference("credit-risk/3")`` takes the version's training data (the first table dataset
its lineage records; or a DataFrame or dataset ref given), keeps a seeded sample of the model's
input columns, adds the model's own predictions on it (so prediction drift has a baseline) and
stores it as Parquet in the artifact store, with one row per version in the metadata store.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from cairn.artifacts import open_artifact_store
from cairn.core import now_ms, settings
from cairn.core.serialization import PARQUET, decode, encode
from cairn.core.timeutil import from_ms
from cairn.errors import InvalidInput, NotFound
from cairn.store import Store, open_store
from cairn.store.schema import monitoring_references

#: Rows kept from the training data: enough for every test to be sharp, small to store and read.
SAMPLE_ROWS = 100_000
PREDICTION = "prediction"
#: The positive class's probability of a binary classifier: a finer view of prediction drift.
PROBABILITY = "probability"


@dataclass(frozen=True)
class Reference:
    model_name: str
    model_version: int
    version_id: str
    source: str
    rows: int
    digest: str
    features: list[str]
    created_at: datetime
    creator: str

    @property
    def prediction_columns(self) -> list[str]:
        return [c for c in (PREDICTION, PROBABILITY) if c in self.columns]

    @property
    def columns(self) -> list[str]:
        return self.frame().columns.tolist()

    def frame(self) -> pd.DataFrame:
        """The stored sample: the model's inputs, then its predictions on them."""
        return _load_frame(self.digest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": f"{self.model_name}/{self.model_version}",
            "source": self.source,
            "rows": self.rows,
            "digest": self.digest,
            "features": self.features,
            "created_at": self.created_at.isoformat(),
            "creator": self.creator,
        }


@functools.lru_cache(maxsize=4)  # by digest: content-addressed, so never stale
def _load_frame(digest: str) -> pd.DataFrame:
    return decode(open_artifact_store().get_bytes(digest), PARQUET)


def set_reference(
    model: str,
    data: pd.DataFrame | str | None = None,
    *,
    sample_rows: int = SAMPLE_ROWS,
    store: Store | None = None,
) -> Reference:
    """Build and store the reference of model version ``model`` (``name/3``, ``name@champion``)
    from ``data`` (a DataFrame or a dataset ref; by default its training dataset). Setting it
    again replaces it."""
    from cairn import registry

    if not isinstance(sample_rows, int) or sample_rows < 1:
        raise InvalidInput.for_field("sample_rows", sample_rows, "a number of rows from 1")
    store = store or open_store()
    version = registry.get_version(model)
    frame, source = _training_data(version.ref, data)
    features = version.signature.columns
    absent = [c for c in features if c not in frame.columns]
    if absent:
        raise InvalidInput.for_field("data", source, f"a table with the model's input {absent}")
    if len(frame) == 0:
        raise InvalidInput.for_field("data", source, "a table with rows")
    if len(frame) > sample_rows:
        frame = frame.sample(sample_rows, random_state=0)
    sample = frame[features].reset_index(drop=True)
    sample = sample.assign(**_predictions(registry.load(version.ref), sample))
    digest = open_artifact_store().put_bytes(encode(sample).data)
    row = {
        "version_id": version.id,
        "model_name": version.name,
        "model_version": version.version,
        "source": source,
        "rows": len(sample),
        "digest": digest,
        "features": json.dumps(features),
        "created_at": now_ms(),
        "creator": settings().user,
    }
    with store.write() as conn:
        conn.execute(
            monitoring_references.delete().where(monitoring_references.c.version_id == version.id)
        )
        conn.execute(monitoring_references.insert(), row)
    return _reference(row)


def _training_data(ref: str, data: pd.DataFrame | str | None) -> tuple[pd.DataFrame, str]:
    from cairn import data as datasets
    from cairn import registry

    if isinstance(data, pd.DataFrame):
        return data, "frame"
    if isinstance(data, str):
        return _table(data), data
    if data is not None:
        raise InvalidInput.for_field("data", type(data).__name__, "a DataFrame or a dataset ref")
    for item in registry.lineage(ref)["datasets"]:
        if datasets.get_version(item["ref"]).kind == "table":
            return _table(item["ref"]), item["ref"]
    raise InvalidInput.for_field(
        "data", None, f"a DataFrame or dataset ref: {ref} records no table it was trained on"
    )


def _table(ref: str) -> pd.DataFrame:
    from cairn import data as datasets

    loaded = datasets.load(ref)
    if not isinstance(loaded, pd.DataFrame):
        raise InvalidInput.for_field("data", ref, "a table dataset version")
    return loaded


def _predictions(model: Any, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {PREDICTION: model.predict(frame)}
    classes = model.signature.classes or []
    if model.signature.has_proba and len(classes) == 2:
        out[PROBABILITY] = model.predict_proba(frame)[:, 1]
    return out


def get_reference(model: str, *, store: Store | None = None) -> Reference:
    """The reference of ``model``: a version ref, or a bare name for its newest version that
    has one."""
    from cairn import registry
    from cairn.registry.refs import check_name

    store = store or open_store()
    query = select(monitoring_references)
    if "/" not in model and "@" not in model:
        check_name(model)
        query = query.where(monitoring_references.c.model_name == model).order_by(
            monitoring_references.c.model_version.desc()
        )
    else:
        version = registry.get_version(model)
        query = query.where(monitoring_references.c.version_id == version.id)
    with store.read() as conn:
        row = conn.execute(query.limit(1)).mappings().first()
    if row is None:
        raise NotFound.for_field("monitoring reference of", model)
    return _reference(row)


def _reference(row: Any) -> Reference:
    return Reference(
        model_name=row["model_name"],
        model_version=row["model_version"],
        version_id=row["version_id"],
        source=row["source"],
        rows=row["rows"],
        digest=row["digest"],
        features=json.loads(row["features"]),
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
    )
