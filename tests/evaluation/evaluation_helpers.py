"""Real models for the evaluation tests, and ``context_for``, which builds an evaluation
context around a fitted model without a store, so check logic is tested quickly; the tests that
record evaluations or move aliases use the store fixtures (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cairn.datasets import (
    CREDIT_CATEGORICAL,
    CREDIT_FEATURES,
    CREDIT_LABEL,
    CREDIT_NUMERIC,
)
from cairn.evaluation.context import EvaluationContext
from cairn.registry import LoadedModel, ModelVersion, infer_signature

FEATURES = list(CREDIT_FEATURES)


def credit_model(
    frame: pd.DataFrame, estimator: Any = None, features: list[str] | None = None
) -> Pipeline:
    """Imputation, scaling and one-hot encoding, then ``estimator`` (logistic regression)."""
    features = features or FEATURES
    categorical = [c for c in CREDIT_CATEGORICAL if c in features]
    numeric = [c for c in CREDIT_NUMERIC if c in features]
    return make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), categorical),
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ),
        estimator if estimator is not None else LogisticRegression(max_iter=500),
    ).fit(frame[features], frame[CREDIT_LABEL])


def forest(frame: pd.DataFrame, seed: int) -> Pipeline:
    return credit_model(
        frame,
        RandomForestClassifier(n_estimators=60, min_samples_leaf=20, random_state=seed, n_jobs=1),
    )


def biased_labels(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The same applications with most young applicants' labels turned to default: a biased
    labelling process the model then learns through age."""
    rng = np.random.default_rng(seed)
    young = (frame["age_band"] == "18-25").to_numpy() & (rng.random(len(frame)) < 0.6)
    return frame.assign(**{CREDIT_LABEL: np.where(young, 1, frame[CREDIT_LABEL])})


def version_of(
    model: Any, example: pd.DataFrame, *, name: str = "m", number: int = 1, size: int = 1000
) -> ModelVersion:
    """A version record for ``model`` as the registry would make it (no store needed)."""
    return ModelVersion(
        id=f"{name}-{number}",
        name=name,
        version=number,
        run_id="run",
        flavour="sklearn",
        artifact_path="model/m.skops",
        digest="0" * 64,
        size=size,
        trusted_types=[],
        signature=infer_signature(model, example),
        environment={},
        params={},
        metrics={},
        tags={},
        description=None,
        created_at=datetime.now(UTC),
        creator="test",
    )


class Models:
    """Stands in for the registry's ``load`` and ``lineage`` for store-free contexts."""

    def __init__(self, models: dict[str, Any], lineage: list[Any] | None = None) -> None:
        self.models = models
        self.datasets = lineage or []

    def load(self, ref: str) -> LoadedModel:
        model, version = self.models[ref]
        return LoadedModel(model, version.signature, version.to_dict())

    def lineage(self, ref: str) -> dict[str, Any]:
        return {"datasets": [{"ref": d.ref, "id": d.id} for d in self.datasets]}


def context_for(
    model: Any,
    frame: pd.DataFrame,
    *,
    features: list[str] | None = None,
    references: dict[str, tuple[Any, list[str] | None]] | None = None,
    example: pd.DataFrame | None = None,
    **options: Any,
) -> EvaluationContext:
    """A context for ``model`` on ``frame``; ``references``: role -> (model, its features);
    signatures are inferred from ``example`` (default: ``frame``), as at registration."""
    features = features or FEATURES
    example = frame if example is None else example
    version = version_of(model, example[features].head(20))
    known = {version.ref: (model, version)}
    roles = {}
    for number, (role, (other, other_features)) in enumerate((references or {}).items(), start=2):
        found = version_of(other, example[other_features or features].head(20), number=number)
        known[found.ref] = (other, found)
        roles[role] = found
    return EvaluationContext(
        version=version,
        model=LoadedModel(model, version.signature, version.to_dict()),
        frame=frame,
        references=roles,
        registry=Models(known),
        **options,
    )
