"""A training set made by historical retrieval is a dataset version with lineage to its views."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

import cairn.features as features
from cairn import data
from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput
from cairn.features import DatasetSource, Entity, FeatureView
from cairn.store import open_store
from cairn.store.lineage import edges_to

applicant = Entity("applicant", join_keys="applicant_id")


@pytest.mark.usefixtures("use_store")
def test_training_set_from_a_dataset_source_has_lineage():
    history = make_credit_applications(300, seed=3)
    source = data.snapshot(history, "applications")
    view = FeatureView(
        name="applications",
        entities=applicant,
        source=DatasetSource("applications@latest"),
        features={"credit_score": "int64", "loan_purpose": "string", "annual_income": "float64"},
        timestamp="application_time",
        ttl=timedelta(days=60),
    )
    [applied_view, _entity] = sorted(features.apply(view), key=lambda a: a.kind, reverse=True)
    labels = history[["applicant_id", "application_time", "defaulted"]]

    version = features.training_set(labels, [view], "credit-training", description="v1")

    frame = data.load(version)
    assert len(frame) == 300 and frame["credit_score"].tolist() == history["credit_score"].tolist()
    assert frame["loan_purpose"].tolist() == history["loan_purpose"].astype(str).tolist()
    edges = {
        (e.src_kind, e.src_id, e.relation)
        for e in edges_to("dataset_version", version.id, source=open_store())
    }
    assert edges == {
        ("feature_view", applied_view.id, "features"),
        ("dataset_version", source.id, "source"),
    }


def test_a_training_set_needs_applied_views(tmp_path):
    pd.DataFrame({"applicant_id": [1], "t": [pd.Timestamp("2026-01-01")], "x": [1.0]}).to_parquet(
        tmp_path / "s.parquet"
    )
    view = FeatureView(
        name="loose",
        entities=applicant,
        source=features.ParquetSource(tmp_path / "s.parquet"),
        features={"x": "float64"},
        timestamp="t",
    )
    labels = pd.DataFrame({"applicant_id": [1], "t": [pd.Timestamp("2026-01-02")]})
    with pytest.raises(InvalidInput) as caught:
        features.training_set(labels, [view], "loose-training")
    assert caught.value.value == "loose"
