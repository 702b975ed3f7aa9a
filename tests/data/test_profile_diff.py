"""Column profiles (checked against numpy and pandas) and diffs of versions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cairn import data
from cairn.data.entities import QUANTILES, ColumnProfile
from cairn.data.profile import EXACT_UP_TO, _from_steps, _on_grid, profile_column, profile_table
from cairn.datasets import make_credit_applications

rng = np.random.default_rng(7)
N = 5000
NUMERIC_CASES = {
    "small int range (counted)": rng.integers(18, 80, N),
    "wide int range, few values (hashed)": rng.choice([-(10**12), 5, 10**15], N),
    "floats, few values (hashed)": rng.choice(rng.normal(size=40), N),
    "floats in thousandths (counted on their grid)": rng.choice(
        np.round(rng.normal(size=40), 3), N
    ),
    "floats in hundredths, one off the grid (hashed)": np.append(
        np.round(rng.normal(size=N - 1), 2), 1 / 3
    ),
    "floats on a grid too wide to count (sorted)": np.round(rng.normal(size=N) * 1e12, 0),
    "negative and zero floats in tenths": np.round(rng.normal(size=N), 1) * -1.0,
    "floats in hundreds (counted on their grid)": np.round(rng.normal(size=N) * 1e4, -2),
    "two integers (compared)": rng.choice([0, 1], N, p=[0.85, 0.15]),
    "a few negative integers (compared)": rng.choice([-128, -125, -117], N),
    "unsigned integers near the top (compared)": np.uint64(2**63)
    + rng.integers(0, 9, N, np.uint64),
    "unsigned integers near the top (counted)": np.uint64(2**63)
    + rng.integers(0, 99, N, np.uint64),
    "float32 in tenths (hashed)": np.round(rng.normal(size=N), 1).astype(np.float32),
    "floats, all distinct (sorted)": rng.normal(size=N),
    "already sorted (read in order)": np.sort(rng.normal(size=N)),
    "integers in sequence (read in order)": np.arange(N) - 2500,
    "sorted integers with repeats (read in order)": np.sort(rng.integers(0, 50, N)),
    "floats with missing values": np.where(rng.random(N) < 0.1, np.nan, rng.exponential(size=N)),
    "one value": np.full(N, 2.5),
}


@pytest.mark.parametrize("values", NUMERIC_CASES.values(), ids=NUMERIC_CASES.keys())
def test_numeric_profiles_match_numpy_and_pandas(values):
    series = pd.Series(values)
    profile = profile_column(pa.chunked_array([pa.array(values, from_pandas=True)]))
    present = series.dropna()
    assert profile.kind == "numeric" and profile.count == N
    assert profile.null_count == series.isna().sum()
    assert profile.distinct_count == present.nunique()
    assert (profile.min, profile.max) == (present.min(), present.max())
    exact = present.astype("float64")  # pandas sums float32 in float32
    assert profile.mean == pytest.approx(exact.mean())
    assert profile.std == pytest.approx(exact.std())  # ddof=1, as pandas
    expected = np.quantile(present.to_numpy(), QUANTILES)
    assert [profile.quantiles[str(q)] for q in QUANTILES] == pytest.approx(expected)
    assert profile.median == pytest.approx(present.median())
    assert profile.approximate is None


def _rank_errors(profile: ColumnProfile, values: np.ndarray) -> list[float]:
    """How far, in rank (a share of the values), each profiled quantile is from the exact one."""
    ordered = np.sort(values)
    return [
        abs(np.searchsorted(ordered, profile.quantiles[str(q)]) / ordered.size - q)
        for q in QUANTILES
    ]


LARGE = 4 * EXACT_UP_TO
SKETCHED_CASES = {
    "normal": rng.normal(size=LARGE),
    "lognormal": rng.lognormal(size=LARGE),
    # one multiply undercounts these; too wide a range to count on their grid
    "on a decimal grid": np.round(rng.random(LARGE) * 1e6, 2),
    "float32": rng.random(LARGE).astype(np.float32),
}


@pytest.mark.parametrize("values", SKETCHED_CASES.values(), ids=SKETCHED_CASES.keys())
def test_large_columns_of_distinct_floats_are_sketched_within_stated_bounds(values):
    values = np.where(rng.random(LARGE) < 0.01, np.nan, values)
    profile = profile_column(pa.chunked_array([pa.array(values, from_pandas=True)]))
    present = pd.Series(values).dropna()
    # exact: counts, range, moments
    assert (profile.count, profile.null_count) == (LARGE, int(np.isnan(values).sum()))
    assert (profile.min, profile.max) == (present.min(), present.max())
    assert profile.mean == pytest.approx(present.mean())
    assert profile.std == pytest.approx(present.std())
    # estimated, as the profile says: quantiles within 1% in rank, distinct count within 3%
    assert "random sample" in profile.approximate and "hashes" in profile.approximate
    assert max(_rank_errors(profile, present.to_numpy())) < 0.01
    assert profile.distinct_count == pytest.approx(present.nunique(), rel=0.03)
    again = profile_column(pa.chunked_array([pa.array(values, from_pandas=True)]))
    assert again == profile  # a fixed seed: the same content, the same profile


def test_large_temporal_columns_are_sketched_and_integers_stay_exact():
    seconds = rng.permutation(LARGE) * 1_000_000_000  # distinct times, out of order
    times = pa.chunked_array([pa.array(seconds.astype("datetime64[ns]"))])
    profile = profile_column(times)
    assert profile.approximate is not None
    assert profile.min == "1970-01-01T00:00:00" and profile.distinct_count == pytest.approx(
        LARGE, rel=0.03
    )
    median = pd.Timestamp(profile.median).value
    assert abs(median - np.median(seconds)) < 0.01 * np.ptp(seconds)
    keys = rng.permutation(LARGE) * 7919  # a wide range: a unique key must be counted exactly
    key_profile = profile_column(pa.chunked_array([keys]))
    assert key_profile.approximate is None and key_profile.distinct_count == LARGE


def test_profiles_do_not_depend_on_chunking():
    values = rng.normal(size=3000)
    whole = profile_column(pa.chunked_array([values]))
    chunked = profile_column(pa.chunked_array([values[:1000], values[1000:2500], values[2500:]]))
    assert chunked == whole


def test_categorical_string_and_boolean_columns_count_their_values():
    frame = pd.DataFrame(
        {
            "housing": pd.Categorical(
                ["rent", "own", None, "rent", "rent"], categories=["rent", "own", "mortgage"]
            ),
            "city": pd.Series(["Oslo", "Lima", "Oslo", None, "Oslo"], dtype="str"),
            "flag": [True, False, True, True, True],
        }
    )
    profiles = profile_table(pa.Table.from_pandas(frame, preserve_index=False))
    housing = profiles["housing"]
    assert housing.kind == "categorical" and housing.null_count == 1
    assert housing.top == (("rent", 3), ("own", 1))  # counts, most frequent first
    assert housing.categories == ("rent", "own", "mortgage")  # unused ones too
    assert housing.distinct_count == 2
    city = profiles["city"]
    assert (city.kind, city.top, city.distinct_count, city.null_count) == (
        "string",
        (("Oslo", 3), ("Lima", 1)),
        2,
        1,
    )
    flag = profiles["flag"]
    assert (flag.kind, flag.top, flag.mean) == ("boolean", ((True, 4), (False, 1)), 0.8)


@pytest.mark.parametrize("categories", [3, 16, 17, 300])
def test_categorical_counts_are_exact_for_small_and_large_dictionaries(categories):
    """Up to 16 categories are counted by comparison, more by bincount: both count exactly,
    skip nulls and leave unused categories out of the distinct count."""
    codes = np.random.default_rng(categories).integers(-1, categories - 1, 5000)  # -1: null
    names = [f"c{i:03d}" for i in range(categories)]
    column = pd.Categorical.from_codes(codes, categories=names)
    profile = profile_column(pa.chunked_array([pa.array(column)]))
    expected = pd.Series(column).value_counts(dropna=True)
    expected = expected[expected > 0]
    assert profile.null_count == int((codes < 0).sum())
    assert profile.distinct_count == len(expected) == categories - 1  # the last is never used
    top = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:10]
    assert list(profile.top) == [(name, int(count)) for name, count in top]


@pytest.mark.parametrize("offset", [0, -50, 10**6])
def test_integer_counts_are_exact_wherever_the_values_lie(offset):
    values = np.random.default_rng(7).integers(0, 40, 20_000) + offset
    profile = profile_column(pa.chunked_array([pa.array(values)]))
    assert profile.distinct_count == len(np.unique(values))
    assert (profile.min, profile.max) == (values.min(), values.max())
    quantiles = np.quantile(values, QUANTILES)
    assert [profile.quantiles[str(q)] for q in QUANTILES] == pytest.approx(quantiles)
    assert profile.std == pytest.approx(values.std(ddof=1))


def test_floats_on_a_decimal_grid_are_counted_as_integers_only_when_exact():
    """Counted on a grid, a float column's distinct values are the very floats it holds;
    a column off the grid, on too wide a range or with infinities is left to hashing."""
    cents = np.round(rng.normal(size=N) * 10, 2)
    steps, exponent = _on_grid(cents)
    assert exponent == -2 and np.array_equal(_from_steps(steps, exponent), cents)
    assert _on_grid(np.round(cents, 1))[1] == -1  # the coarsest step that fits
    hundreds = np.round(rng.normal(size=N) * 1e4, -2)
    steps, exponent = _on_grid(hundreds)
    assert exponent == 2 and np.array_equal(_from_steps(steps, exponent), hundreds)
    assert _on_grid(np.append(cents, 0.005)) is None  # one value off the grid
    assert _on_grid(np.append(cents, np.inf)) is None
    assert _on_grid(np.array([0.5, 2.0**60])) is None  # beyond integers a float holds exactly
    assert _on_grid(np.array([0.0, 1e7])) is None  # a range too wide to count


def test_top_values_keep_the_most_frequent_ten():
    values = np.repeat([f"v{i:02d}" for i in range(30)], np.arange(1, 31))
    profile = profile_column(pa.chunked_array([pa.array(values)]))
    assert profile.distinct_count == 30
    assert [v for v, _ in profile.top] == [f"v{i:02d}" for i in range(29, 19, -1)]
    assert profile.top[0] == ("v29", 30)


def test_temporal_columns_have_iso_ranges_and_quantiles():
    times = pd.Series(pd.date_range("2026-01-01", periods=5, freq="D", tz="UTC"))
    profile = profile_column(pa.chunked_array([pa.array(times)]))
    assert profile.kind == "temporal" and profile.distinct_count == 5
    assert profile.min == "2026-01-01T00:00:00+00:00"
    assert profile.max == "2026-01-05T00:00:00+00:00"
    assert profile.median == "2026-01-03T00:00:00+00:00"


def test_empty_and_all_null_columns():
    empty = profile_column(pa.chunked_array([pa.array([], pa.float64())]))
    assert (empty.count, empty.null_count, empty.distinct_count, empty.mean) == (0, 0, 0, None)
    nulls = profile_column(pa.chunked_array([pa.array([None, None], pa.int64())]))
    assert (nulls.null_count, nulls.null_rate, nulls.min, nulls.quantiles) == (2, 1.0, None, {})


def test_profiles_survive_json_with_infinities():
    profile = profile_column(pa.chunked_array([pa.array([1.0, np.inf, -np.inf])]))
    stored = json.loads(json.dumps(profile.to_dict(), allow_nan=False))
    assert ColumnProfile.from_dict(stored).to_dict() == profile.to_dict()
    assert (profile.min, profile.max) == (-np.inf, np.inf)
    assert ColumnProfile.from_dict(stored).max == np.inf
    assert profile.quantiles["0.99"] == np.inf and profile.quantiles["0.5"] == 1.0


# --- diffs (need the store) ------------------------------------------------------------------


@pytest.mark.usefixtures("use_store")
def test_drift_shows_in_statistics_and_category_shares():
    data.snapshot(make_credit_applications(3000, seed=1), "credit")
    data.snapshot(make_credit_applications(3000, seed=2, drift=1.0), "credit")
    found = data.diff("credit@1", "credit@2")
    assert not found.identical and found.rows == (3000, 3000) and found.schema == ()
    stats = {(c.column, c.stat): c for c in found.stats}
    assert stats["credit_score", "mean"].delta < -15  # scores fall
    assert stats["interest_rate", "median"].delta > 1.5  # rates rise
    assert stats["defaulted", "mean"].delta > 0.1  # more defaults
    assert ("sex", "null_rate") not in stats  # nothing missing in either
    purpose = {c.value: c for c in found.categories if c.column == "loan_purpose"}
    assert purpose["bnpl_refinance"].after > purpose["bnpl_refinance"].before + 0.08
    shares = [abs(c.delta) for c in found.categories if c.column == "loan_purpose"]
    assert shares == sorted(shares, reverse=True)  # biggest change first
    assert "credit_score" in found.changed_columns()
    as_json = json.loads(json.dumps(found.to_dict(), allow_nan=False))
    assert as_json["before"] == "credit@1" and as_json["rows"] == {"before": 3000, "after": 3000}


@pytest.mark.usefixtures("use_store")
def test_schema_changes_added_removed_type_and_nullability():
    before = pd.DataFrame({"id": [1, 2, 3], "score": [1, 2, 3], "city": ["a", "b", "c"]})
    after = pd.DataFrame({"id": [1, 2, None], "score": [1.5, 2.0, 3.0], "age": [30, 40, 50]})
    first, second = data.snapshot(before, "s"), data.snapshot(after, "s")
    changes = {(c.column, c.change): (c.before, c.after) for c in data.diff(first, second).schema}
    assert changes == {
        ("city", "removed"): ("string", None),
        ("age", "added"): (None, "int64"),
        ("id", "type"): ("int64", "double"),
        ("id", "nullable"): (False, True),
        ("score", "type"): ("int64", "double"),
    }
    same = data.diff("s@1", "s@1")
    assert same.identical and (same.schema, same.stats, same.categories) == ((), (), ())


@pytest.mark.usefixtures("use_store")
def test_folder_versions_diff_file_by_file(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "keep.txt").write_text("same")
    (folder / "edit.txt").write_text("old")
    (folder / "drop.txt").write_text("bye")
    data.snapshot(folder, "docs")
    (folder / "edit.txt").write_text("newer")
    (folder / "drop.txt").unlink()
    (folder / "add.txt").write_text("hi")
    data.snapshot(folder, "docs")
    files = {
        (c.path, c.change): (c.before_size, c.after_size)
        for c in data.diff("docs@1", "docs@2").files
    }
    assert files == {
        ("add.txt", "added"): (None, 2),
        ("drop.txt", "removed"): (3, None),
        ("edit.txt", "modified"): (3, 5),
    }
