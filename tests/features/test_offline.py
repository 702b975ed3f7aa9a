"""Point-in-time retrieval against a brute-force reference, and bad input."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from cairn.errors import InvalidInput, NotFound
from cairn.features import Entity, FeatureStore, FeatureView, ParquetSource, SqlSource

T0 = pd.Timestamp("2026-01-01")
account = Entity("account", join_keys="account_id")


def random_source(rng: np.random.Generator, rows: int = 400, keys: int = 20) -> pd.DataFrame:
    """Rows on a coarse time grid (many ties of key and time), each arriving some time after
    its event (late rows), with unique arrival times so that a tie has one winner."""
    event = T0 + pd.to_timedelta(rng.integers(0, 40, rows), unit="h")
    arrival = event + pd.to_timedelta(rng.permutation(rows) + 1, unit="min")
    return pd.DataFrame(
        {
            "account_id": rng.integers(0, keys, rows),
            "event_time": event,
            "arrived": arrival,
            "balance": rng.normal(size=rows),
            "txns": rng.integers(0, 100, rows),
            "segment": rng.choice(["a", "b", "c"], rows),
            "active": rng.random(rows) < 0.5,
        }
    )


def brute_force(source: pd.DataFrame, entities: pd.DataFrame, ttl: timedelta | None) -> list:
    """Per entity row: the latest source row at or before its time (ties: the latest arrival),
    or None when there is none or it is older than ttl."""
    found = []
    for key, at in zip(entities["account_id"], entities["at"], strict=True):
        rows = source[(source["account_id"] == key) & (source["event_time"] <= at)]
        if rows.empty:
            found.append(None)
            continue
        best = rows.sort_values(["event_time", "arrived"]).iloc[-1]
        if ttl is not None and at - best["event_time"] > ttl:
            found.append(None)
            continue
        found.append(best)
    return found


def view_of(path, ttl: timedelta | None) -> FeatureView:
    return FeatureView(
        name="account_stats",
        entities=[account],
        source=ParquetSource(path),
        features={"balance": "float64", "txns": "int64", "segment": "string", "active": "bool"},
        timestamp="event_time",
        created="arrived",
        ttl=ttl,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ttl", [None, timedelta(hours=6)])
def test_point_in_time_matches_brute_force(tmp_path, seed, ttl):
    rng = np.random.default_rng(seed)
    source = random_source(rng)
    source.to_parquet(tmp_path / "source.parquet")
    entities = pd.DataFrame(
        {  # keys 20..24 have no history; times on the same grid: ties with event times
            "account_id": rng.integers(0, 25, 300),
            "at": T0 + pd.to_timedelta(rng.integers(-2, 44, 300), unit="h"),
        }
    )
    view = view_of(tmp_path / "source.parquet", ttl)

    got = FeatureStore(online="sqlite:///" + str(tmp_path / "o.db")).get_historical_features(
        entities, [view], timestamp="at"
    )

    expected = brute_force(source, entities, ttl)
    assert len(got) == len(entities)
    pd.testing.assert_frame_equal(got[["account_id", "at"]], entities)
    assert any(e is None for e in expected) and any(e is not None for e in expected)
    for i, want in enumerate(expected):
        row = got.iloc[i]
        if want is None:
            assert row[["balance", "txns", "segment", "active"]].isna().all(), i
        else:
            assert row["balance"] == want["balance"], i
            assert row["txns"] == want["txns"] and row["segment"] == want["segment"], i
            assert row["active"] == want["active"], i
    assert str(got["txns"].dtype) == "Int64" and str(got["active"].dtype) == "boolean"


def test_nothing_from_the_future_and_equal_times_count(tmp_path):
    pd.DataFrame(
        {
            "account_id": [1, 1, 1],
            "event_time": [T0, T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=2)],
            "arrived": [T0, T0 + pd.Timedelta(days=9), T0 + pd.Timedelta(hours=2)],
            "balance": [1.0, 2.0, 3.0],
            "txns": [1, 2, 3],
            "segment": ["a", "b", "c"],
            "active": [True, False, True],
        }
    ).to_parquet(tmp_path / "s.parquet")
    entities = pd.DataFrame(
        {
            "account_id": [1, 1, 1, 1],
            "at": [
                T0 - pd.Timedelta(seconds=1),  # before any row: null
                T0 + pd.Timedelta(hours=1),  # exactly the second (late-arriving) row's time
                T0 + pd.Timedelta(hours=1, minutes=59),
                T0 + pd.Timedelta(days=30),
            ],
        }
    )
    got = FeatureStore().get_historical_features(
        entities, [view_of(tmp_path / "s.parquet", None)], timestamp="at"
    )
    assert got["balance"].isna().tolist() == [True, False, False, False]
    assert got["balance"].tolist()[1:] == [2.0, 2.0, 3.0]


def test_sql_source_and_transformation_with_request_values(tmp_path):
    pd.DataFrame(
        {"account_id": [1, 2], "event_time": [T0, T0], "income": [1000.0, 0.0]}
    ).to_parquet(tmp_path / "s.parquet")
    view = FeatureView(
        name="income",
        entities=account,
        source=SqlSource(f"SELECT * FROM read_parquet('{tmp_path / 's.parquet'}')"),
        features={"income": "float64"},
        timestamp="event_time",
        transformation=amount_ratio,
        derived={"ratio": "float64"},
        request={"amount": "float64"},
    )
    entities = pd.DataFrame({"account_id": [1, 2, 3], "at": [T0] * 3, "amount": [500.0, 10.0, 1.0]})
    got = FeatureStore().get_historical_features(entities, [view["ratio"]], timestamp="at")
    assert list(got.columns) == ["account_id", "at", "amount", "ratio"]
    assert got["ratio"].iloc[0] == 0.5 and np.isinf(got["ratio"].iloc[1])
    assert np.isnan(got["ratio"].iloc[2])  # no history: a null input, not an error

    with pytest.raises(InvalidInput) as caught:
        FeatureStore().get_historical_features(
            entities.drop(columns="amount"), [view], timestamp="at"
        )
    assert caught.value.field == "request" and caught.value.value == "amount"


def amount_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ratio": frame["amount"] / frame["income"]})


def test_bad_input_names_what_is_wrong(tmp_path):
    pd.DataFrame({"account_id": [1], "event_time": [T0], "balance": [1.0]}).to_parquet(
        tmp_path / "s.parquet"
    )
    view = FeatureView(
        name="thin",
        entities=account,
        source=ParquetSource(tmp_path / "s.parquet"),
        features={"balance": "float64", "missing_col": "int64"},
        timestamp="event_time",
    )
    store = FeatureStore()
    entities = pd.DataFrame({"account_id": [1], "at": [T0]})
    with pytest.raises(InvalidInput) as caught:
        store.get_historical_features(entities, [view], timestamp="at")
    assert caught.value.value == "missing_col" and "missing_col" in caught.value.message

    with pytest.raises(NotFound) as missing:
        view["nope"]
    assert missing.value.field == "feature" and missing.value.value == "thin:nope"

    with pytest.raises(NotFound) as unknown_view:
        store.get_historical_features(entities, ["no_such_view:x"], timestamp="at")
    assert unknown_view.value.value == "no_such_view"

    with pytest.raises(InvalidInput) as no_key:
        store.get_historical_features(pd.DataFrame({"at": [T0]}), [view], timestamp="at")
    assert no_key.value.value == "account_id"

    with pytest.raises(InvalidInput) as bad_dtype:
        FeatureView(
            name="x", entities=account, source=view.source, features={"a": "int"}, timestamp="t"
        )
    assert bad_dtype.value.field == "a.dtype" and bad_dtype.value.value == "int"

    with pytest.raises(InvalidInput) as lam:
        FeatureView(
            name="x",
            entities=account,
            source=view.source,
            features={"a": "int64"},
            timestamp="t",
            transformation=lambda f: f,
            derived={"b": "int64"},
        )
    assert lam.value.field == "transformation"
