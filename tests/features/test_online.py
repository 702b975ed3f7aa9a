"""Online stores (SQLite and Redis, one suite), materialization, lookups, skew, versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pytest

from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.features import Entity, FeatureService, FeatureView, ParquetSource
from cairn.features.definitions import Feature
from cairn.features.packing import Codec

NOW = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
applicant = Entity("applicant", join_keys="applicant_id")


def loan_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"loan_to_income": frame["loan_amount"] / frame["income"]})


def write_source(path, rows: list[tuple]) -> None:
    pd.DataFrame(
        rows, columns=["applicant_id", "event_time", "arrived", "income", "score", "region"]
    ).to_parquet(path)


def profile_view(path, ttl=timedelta(days=30), **changes) -> FeatureView:
    spec = {
        "name": "profile",
        "entities": [applicant],
        "source": ParquetSource(path),
        "features": {"income": "float64", "score": "int64", "region": "string"},
        "timestamp": "event_time",
        "created": "arrived",
        "ttl": ttl,
        "transformation": loan_ratio,
        "derived": {"loan_to_income": "float64"},
        "request": {"loan_amount": "float64"},
    }
    return FeatureView(**{**spec, **changes})


def hours_ago(h: float) -> pd.Timestamp:
    return NOW - pd.Timedelta(hours=h)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "profile.parquet"
    write_source(
        path,
        [
            (1, hours_ago(10), hours_ago(10), 50_000.0, 700, "north"),
            (1, hours_ago(5), hours_ago(5), 60_000.0, 710, "north"),
            (2, hours_ago(8), hours_ago(8), 30_000.0, 600, None),
            (3, hours_ago(24 * 40), hours_ago(24 * 40), 10_000.0, 500, "south"),  # past ttl
        ],
    )
    return path


def test_records_keep_the_newer_value(online_store):
    codec = Codec([Feature("x", "int64"), Feature("s", "string")])
    table = pa.table({"x": [1, 2], "s": ["é", None]})
    old = codec.pack(table, [100, 100], [None, None])
    new = codec.pack(pa.table({"x": [3, 4], "s": ["new", "b"]}), [200, 50], [None, None])
    assert online_store.write("v@1", ["a", "b"], old) == 2
    online_store.write("v@1", ["a", "b"], new)  # a is newer, b is an older (late) row
    got = [codec.unpack(r) for r in online_store.read("v@1", ["a", "b", "zz"]) if r]
    assert got == [(200, [3, "new"]), (100, [2, None])]
    assert online_store.read("v@1", ["zz"]) == [None]
    assert codec.unpack(online_store.read_one("v@1", "a")) == (200, [3, "new"])
    assert online_store.read("v@2", ["a"]) == [None]  # namespaces are apart
    online_store.drop("v@1")
    assert online_store.read("v@1", ["a", "b"]) == [None, None]


def test_materialize_then_online_agrees_with_offline(feature_store, source):
    view = profile_view(source)
    service = FeatureService("credit", [view])
    feature_store.apply(service)
    [done] = feature_store.materialize()
    assert (done.view, done.version, done.rows, done.written) == ("profile", 1, 3, 3)

    got = feature_store.get_online_features(
        {"applicant_id": [1, 2, 3, 99]}, ["profile:income", "profile:score", "profile:region"]
    ).to_dict()
    assert got == {
        "applicant_id": [1, 2, 3, 99],
        "income": [60_000.0, 30_000.0, None, None],  # 3: older than the ttl; 99: unknown
        "score": [710, 600, None, None],
        "region": ["north", None, None, None],
    }
    one = feature_store.get_online_features({"applicant_id": 1}, ["profile:score"]).to_dict()
    assert one == {"applicant_id": [1], "score": [710]}

    report = feature_store.check_skew(service, {"applicant_id": [1, 2, 3, 99]})
    assert report.ok and report.entities == 4, report.mismatches

    request = pd.DataFrame({"applicant_id": [1, 2], "loan_amount": [6_000.0, 3_000.0]})
    filled = feature_store.fill_request(request, service)
    offline = feature_store.get_historical_features(request.assign(at=NOW), service, timestamp="at")
    pd.testing.assert_frame_equal(filled, offline.drop(columns="at"))
    assert filled["loan_to_income"].tolist() == [0.1, 0.1]


def test_incremental_materialization_catches_late_rows(feature_store, source, tmp_path):
    view = profile_view(source)
    feature_store.apply(view)
    feature_store.materialize(end=hours_ago(1))
    # a late row: an event before the watermark that arrived after it; and an older
    # correction that must not replace a newer value
    write_source(
        source,
        [
            (1, hours_ago(5), hours_ago(5), 60_000.0, 710, "north"),
            (2, hours_ago(3), hours_ago(0.5), 35_000.0, 650, "east"),
            (1, hours_ago(9), hours_ago(0.5), 1.0, 1, "stale"),
        ],
    )
    [done] = feature_store.materialize()
    assert done.start is not None and done.rows == 2  # only rows that arrived since
    got = feature_store.get_online_features(
        {"applicant_id": [1, 2]}, ["profile:income", "profile:region"]
    ).to_dict()
    assert got["income"] == [60_000.0, 35_000.0] and got["region"] == ["north", "east"]
    assert feature_store.check_skew([view], {"applicant_id": [1, 2]}).ok


def test_skew_check_reports_a_stale_online_store(feature_store, source):
    view = profile_view(source)
    feature_store.apply(view)
    feature_store.materialize(end=hours_ago(7))  # before applicant 1's newer row
    report = feature_store.check_skew([view], sample=10)
    assert report.entities == 3
    assert report.mismatch_counts()["profile:income"] == 1
    [m] = [m for m in report.mismatches if m.feature == "profile:income"]
    assert (m.entity, m.online, m.offline) == ("1", 50_000.0, 60_000.0)


def test_changed_definition_is_a_new_version_and_the_old_stays(feature_store, source):
    first = feature_store.apply(profile_view(source))
    again = feature_store.apply(profile_view(source))
    assert [a.version for a in first if a.kind == "feature_view"] == [1]
    assert not any(a.changed for a in again)
    changed = feature_store.apply(profile_view(source, ttl=timedelta(days=1)))
    assert [(a.version, a.changed) for a in changed if a.kind == "feature_view"] == [(2, True)]
    assert feature_store.get("feature_view", "profile@1").spec["ttl_seconds"] == 30 * 86400
    assert feature_store.feature_view("profile").ttl == timedelta(days=1)
    assert [a.version for a in feature_store.versions("feature_view", "profile")] == [1, 2]
    with pytest.raises(NotFound):
        feature_store.get("feature_view", "profile@3")
    # the old version's object is no longer what "profile" means online: it has its own namespace
    feature_store.materialize()
    old = profile_view(source)
    got = feature_store.get_online_features({"applicant_id": 1}, [old["income"]]).to_dict()
    assert got["income"] == [None]  # version 1 was never materialized


def test_online_bad_input(feature_store, source):
    view = profile_view(source)
    with pytest.raises(InvalidInput) as not_applied:
        feature_store.materialize([view])
    assert not_applied.value.field == "feature_view"
    feature_store.apply(view)
    with pytest.raises(InvalidInput) as no_key:
        feature_store.get_online_features({"customer": 1}, ["profile:income"])
    assert no_key.value.value == "applicant_id"
    with pytest.raises(NotFound) as unknown:
        feature_store.get_online_features({"applicant_id": 1}, ["profile:salary"])
    assert unknown.value.value == "profile:salary"
    with pytest.raises(InvalidInput) as no_request:
        feature_store.fill_request({"applicant_id": [1]}, [view])
    assert no_request.value.value == "loan_amount"


def test_a_changed_transformation_is_refused(feature_store, source):
    feature_store.apply(profile_view(source))
    stored = feature_store.feature_view("profile")
    assert stored.transform_function() is loan_ratio  # found again by module and name
    edited = replace(stored.transformation, digest="0" * 64)  # as if its code had changed
    with pytest.raises(Conflict) as caught:
        replace(stored, transformation=edited).transform_function()
    assert caught.value.field == "transformation"


def test_resolved_plans_stay_bounded(feature_store, source, monkeypatch):
    from cairn.features import store as store_module

    monkeypatch.setattr(store_module, "MAX_PLANS", 3)
    view = profile_view(source)
    feature_store.apply(view)
    for _ in range(10):  # a new list each call, as callers often write it
        feature_store.get_online_features({"applicant_id": 1}, [view["score"]])
    assert len(feature_store._plans) == 3


def test_materialize_a_time_range(feature_store, source):
    feature_store.apply(profile_view(source))
    [done] = feature_store.materialize(start=hours_ago(9), end=hours_ago(6))
    assert done.rows == 1  # only applicant 2's row arrived in that window
    got = feature_store.get_online_features({"applicant_id": [1, 2]}, ["profile:score"]).to_dict()
    assert got["score"] == [None, 600]
    with pytest.raises(InvalidInput) as backwards:
        feature_store.materialize(start=hours_ago(1), end=hours_ago(2))
    assert backwards.value.field == "start"
