"""Dataset versions: snapshot, content addressing, references, loading, lineage; every backend."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

import cairn
from cairn import data
from cairn.data import Kind, content
from cairn.data.profile import profile_column, profile_encoded_strings, profile_table
from cairn.data.versions import DataService
from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput, NotFound
from cairn.store import open_store
from cairn.store.schema import dataset_versions

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return make_credit_applications(2000, seed=3)


def _blob_files(home: Path) -> list[Path]:
    return [p for p in (home / "artifacts").rglob("*") if p.is_file()]


def test_a_dataframe_becomes_version_1_with_its_record_and_loads_back_equal(
    credit, cairn_home, monkeypatch
):
    monkeypatch.setenv("CAIRN_USER", "ada")
    version = data.snapshot(credit, "credit-applications", description="January")
    assert (version.dataset, version.version, version.ref) == (
        "credit-applications",
        1,
        "credit-applications@1",
    )
    assert version.kind is Kind.TABLE
    assert (version.row_count, version.column_count) == (2000, 17)
    assert len(version.digest) == 32 and version.size_bytes > 0  # XXH3-128
    assert version.creator == "ada" and version.description == "January"
    assert version.created_at is not None
    assert list(version.schema) == list(credit.columns)
    assert version.schema["age"].type == "int64" and version.schema["age"].dtype == "int64"
    assert version.schema["employment_years"].nullable is True  # holds NaN
    assert version.schema["age"].nullable is False
    assert version.schema["home_ownership"].dtype == "category"
    assert version.profile["employment_years"].null_count == int(
        credit["employment_years"].isna().sum()
    )
    pd.testing.assert_frame_equal(data.load("credit-applications@1"), credit)
    assert data.get_version(version.id[:0] or "credit-applications") == version


def test_the_same_content_gives_the_same_version_and_no_second_copy(credit, cairn_home):
    first = data.snapshot(credit, "credit")
    blobs = _blob_files(cairn_home)
    again = data.snapshot(credit.copy(), "credit")
    assert again == first
    assert _blob_files(cairn_home) == blobs
    reloaded = data.snapshot(data.load("credit@1"), "credit")  # round trip: same digest
    assert reloaded.id == first.id
    changed = credit.copy()
    changed.loc[0, "age"] = 99
    second = data.snapshot(changed, "credit")
    assert (second.version, second.digest != first.digest) == (2, True)
    assert [v.version for v in data.list_versions("credit")] == [1, 2]


def test_same_content_in_another_dataset_is_its_own_version_sharing_the_blob(credit, cairn_home):
    first = data.snapshot(credit, "credit")
    blobs = _blob_files(cairn_home)
    other = data.snapshot(credit, "credit-copy")
    assert (other.dataset, other.version, other.digest) == ("credit-copy", 1, first.digest)
    assert other.id != first.id and other.blob == first.blob
    assert other.profile == first.profile
    assert _blob_files(cairn_home) == blobs
    assert data.get_version(first.digest) == first  # a digest names the oldest holder


def test_the_table_digest_ignores_chunking_string_width_and_bytes_behind_nulls():
    values = pa.array([1, None, 3], pa.int64())
    # the same values, with garbage in the null slot's bytes
    garbage = pa.Array.from_buffers(
        pa.int64(),
        3,
        [values.buffers()[0], pa.py_buffer(np.array([1, 12345, 3], np.int64).tobytes())],
        null_count=1,
    )
    names = pa.array(["a", None, "ccc"], pa.string())
    tables = [
        pa.table({"n": values, "s": names}),
        pa.table({"n": garbage, "s": names.cast(pa.large_string())}),
        pa.Table.from_batches(
            [
                pa.record_batch({"n": values.slice(0, 1), "s": names.slice(0, 1)}),
                pa.record_batch({"n": values.slice(1), "s": names.slice(1)}),
            ]
        ),
    ]
    digests = {data.snapshot(t, "digests").digest for t in tables}
    assert len(digests) == 1
    assert data.snapshot(pa.table({"n": values, "s": ["a", "b", "ccc"]}), "digests").version == 2
    renamed = pa.table({"m": values, "s": names})
    assert data.snapshot(renamed, "digests").version == 3


@pytest.mark.parametrize("rows", [0, 3])
def test_a_dataframe_converts_to_arrow_exactly_as_pyarrow_converts_it(rows):
    """cairn finds NaN, NaT and missing categories itself (faster): the table, its types and its
    pandas metadata must be what ``pa.Table.from_pandas`` makes."""
    frame = pd.DataFrame(
        {
            "f64": [np.nan, 2.5, np.inf],
            "f32": np.array([1.5, np.nan, 3], np.float32),
            "int": [1, 2, 3],
            "flag": [True, False, True],
            "ordered": pd.Categorical(["a", None, "b"], categories=["b", "a", "z"], ordered=True),
            "numbers": pd.Categorical([1, 2, 1]),
            "text": pd.Series(["x", None, "z"], dtype="str"),
            "time": pd.to_datetime(["2024-01-01", None, "2024-01-03"]),
            "zoned": pd.to_datetime(["2024-01-01", "2024-01-02", None]).tz_localize("Europe/Paris"),
            "delta": pd.to_timedelta([1, None, 3], unit="s"),
            "nullable": pd.array([1, None, 3], dtype="Int64"),
            "python text": pd.array(["a", None, "c"], dtype="string[python]"),
            "Float64": pd.array([1.0, None, 2.0], dtype="Float64"),
            "seconds": pd.to_datetime(["2024-01-01", None, "2024-01-03"]).astype("datetime64[s]"),
            "arrow": pd.array([1, None, 3], dtype="int64[pyarrow]"),
            "half": np.array([1, np.nan, 2], np.float16),
            "month": pd.period_range("2024-01", periods=3, freq="M"),
            "span": pd.interval_range(0, 3),
            7: [1.0, 2.0, 3.0],
        }
    ).iloc[:rows]
    expected = pa.Table.from_pandas(frame, preserve_index=False)
    with ThreadPoolExecutor(2) as pool:
        for converted in (content.as_arrow(frame), content.as_arrow(frame, pool)):
            assert converted.equals(expected, check_metadata=True)
            assert converted.column("f64").null_count == (1 if rows else 0)  # NaN, not inf
            assert converted.column("ordered").null_count == (1 if rows else 0)
    # an object column takes pyarrow's own path, which infers its type from the values
    mixed = frame.assign(obj=pd.Series([{"a": 1}, None, {"a": 3}], dtype=object).iloc[:rows])
    assert content.as_arrow(mixed).equals(
        pa.Table.from_pandas(mixed, preserve_index=False), check_metadata=True
    )


def test_a_parquet_part_larger_than_its_buffer_is_written_whole(monkeypatch):
    """Parts are written into a buffer of the table's size and some room; a file that needs
    more (thousands of one-row columns: the footer outweighs the data) is written again."""
    wide = pa.table({f"c{i}": [i] for i in range(3000)})
    monkeypatch.setattr(content, "_ROOM", 16)
    written = content.parquet_bytes(wide, {})
    assert written.size > wide.nbytes + 16
    assert pq.read_table(pa.BufferReader(written)).equals(wide)


def test_a_non_default_index_is_kept_and_an_empty_frame_is_a_version(credit):
    subset = credit.iloc[::7]
    version = data.snapshot(subset, "subset")
    assert version.column_count == 17  # the index is not a data column
    pd.testing.assert_frame_equal(data.load(version), subset)
    empty = credit.iloc[:0].reset_index(drop=True)
    blank = data.snapshot(empty, "empty")
    assert (blank.row_count, blank.column_count) == (0, 17)
    assert blank.profile["age"].count == 0 and blank.profile["age"].distinct_count == 0
    pd.testing.assert_frame_equal(data.load("empty"), empty)


def test_a_table_is_stored_as_parquet_parts_listed_in_a_manifest(credit, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(content, "PART_ROWS", 600)
        parted = data.snapshot(credit, "parted")
    artifacts = data.data_service().artifacts
    parts = content.read_manifest(artifacts.get_bytes(parted.blob))
    assert list(parts) == [content.part_name(i) for i in range(4)]  # 600, 600, 600, 200 rows
    assert parted.size_bytes == sum(part["size"] for part in parts.values())
    pd.testing.assert_frame_equal(data.load("parted"), credit)
    first = artifacts.get_bytes(parts[content.part_name(0)]["digest"])
    assert first[:4] == b"PAR1"
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(first)), credit.iloc[:600])
    # the frame loaded from parts hashes back to its version: the digest ignores the layout
    assert data.snapshot(data.load("parted"), "parted") == parted


def test_text_columns_are_profiled_from_the_codes_of_the_stored_parts(monkeypatch):
    """Text columns that Parquet dictionary-encodes are counted from the codes the encoded
    parts hold: the profile is the one that hashing the values gives, over parts, with nulls."""
    rng = np.random.default_rng(5)
    size = 2500
    words = np.array([f"word-{i:03d}" for i in range(40)])
    city = np.where(rng.random(size) < 0.1, None, words[rng.integers(0, 40, size)])
    frame = pd.DataFrame(
        {
            "city": pd.Series(city, dtype="str"),
            "blank": pd.Series([None] * size, dtype="str"),
            "key": pd.Series([f"id-{i}" for i in range(size)], dtype="str"),  # plain, hashed
        }
    )
    table = content.as_arrow(frame)
    options = content.parquet_options(table)
    assert content.dictionary_encoded_strings(table, options) == ["city", "blank"]
    with monkeypatch.context() as patch:
        patch.setattr(content, "PART_ROWS", 600)
        version = data.snapshot(frame, "words")
    assert version.profile == profile_table(table)  # each column hashed afresh
    assert version.profile["city"].null_count == int(pd.isna(city).sum())
    assert version.profile["blank"].distinct_count == 0


def test_codes_read_back_from_parquet_cover_pages_written_plain():
    """A dictionary that outgrows its page limit makes the writer fall back to plain pages:
    reading the codes back still gives every value."""
    values = pa.array([f"value-{i % 3000:05d}" for i in range(12_000)])
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"v": values}), sink, dictionary_pagesize_limit=1024)
    written = sink.getvalue()
    chunk = pq.ParquetFile(pa.BufferReader(written)).metadata.row_group(0).column(0)
    assert "PLAIN" in chunk.encodings  # it did fall back
    codes = content.read_dictionary_encoded(written, ["v"])["v"]
    assert pa.types.is_dictionary(codes.type)
    assert codes.cast(pa.string()).equals(pa.chunked_array([values]))
    column = pa.chunked_array([values])
    assert profile_encoded_strings(column, codes) == profile_column(column)


def test_numbers_and_times_of_every_width_load_back_as_they_were():
    size = 50
    table = pa.table(
        {
            "int8": pa.array(np.arange(size) % 7, pa.int8()),
            "int16": pa.array(np.arange(size) * 300, pa.int16()),
            "int32": pa.array(np.arange(size) * -70_000, pa.int32()),
            "uint64": pa.array(np.arange(size, dtype=np.uint64) << np.uint64(60), pa.uint64()),
            "float32": pa.array(np.linspace(-1, 1, size), pa.float32()),
            "float16": pa.array(np.linspace(-1, 1, size).astype(np.float16), pa.float16()),
            "date": pa.array(np.arange(size).astype("datetime64[D]"), pa.date32()),
            "time": pa.array(np.arange(size) * 1_000, pa.time64("us")),
            "duration": pa.array(np.arange(size), pa.duration("ms")),
            "utc": pa.array(np.arange(size), pa.timestamp("us", tz="UTC")),
            "with nulls": pa.array([None if i % 5 == 0 else i for i in range(size)], pa.int32()),
        }
    )
    version = data.snapshot(table, "widths")
    pd.testing.assert_frame_equal(data.load(version), table.to_pandas())


def test_a_table_stored_whole_by_an_earlier_cairn_still_loads(credit):
    version = data.snapshot(credit, "credit")
    service = data.data_service()
    whole = io.BytesIO()
    credit.to_parquet(whole, index=False)  # how tables were stored before they had parts
    blob = service.artifacts.put_bytes(whole.getvalue())
    with service.store.write() as conn:
        conn.execute(
            update(dataset_versions)
            .where(dataset_versions.c.id == version.id)
            .values(manifest_digest=blob)
        )
    pd.testing.assert_frame_equal(data.load("credit@1"), credit)


def test_a_file_is_addressed_by_the_hash_of_its_bytes_and_loads_as_a_path(tmp_path, cairn_home):
    source = tmp_path / "applications.csv"
    source.write_bytes(b"id,age\n1,30\n2,41\n")
    version = data.snapshot(source, "raw")
    assert version.kind is Kind.FILE and version.row_count is None and version.schema == {}
    assert version.digest == hashlib.sha256(source.read_bytes()).hexdigest()
    assert version.size_bytes == source.stat().st_size
    renamed = tmp_path / "renamed.csv"
    renamed.write_bytes(source.read_bytes())
    assert data.snapshot(str(renamed), "raw") == version
    path = data.load("raw@1")
    assert path == cairn_home / "cache" / "data" / version.digest / "applications.csv"
    assert path.read_bytes() == source.read_bytes()
    copied = data.load(version.digest[:8], dest=tmp_path / "out")
    assert (
        copied == tmp_path / "out" / "applications.csv"
        and copied.read_bytes() == b"id,age\n1,30\n2,41\n"
    )


def test_a_folder_is_stored_file_by_file_with_a_manifest(tmp_path):
    folder = tmp_path / "images"
    (folder / "train").mkdir(parents=True)
    (folder / "train" / "a.bin").write_bytes(b"\x00" * 100)
    (folder / "labels.txt").write_text("a 1\n")
    version = data.snapshot(folder, "images")
    assert (version.kind, version.size_bytes) == (Kind.FOLDER, 104)
    assert data.data_service().manifest(version) == {
        "labels.txt": {"digest": hashlib.sha256(b"a 1\n").hexdigest(), "size": 4},
        "train/a.bin": {"digest": hashlib.sha256(b"\x00" * 100).hexdigest(), "size": 100},
    }
    restored = data.load("images", dest=tmp_path / "restored")
    assert (restored / "train" / "a.bin").read_bytes() == b"\x00" * 100
    assert (restored / "labels.txt").read_text() == "a 1\n"
    (folder / "labels.txt").write_text("a 2\n")
    assert data.snapshot(folder, "images").version == 2


def test_references_name_versions_by_number_latest_name_and_digest(credit):
    first = data.snapshot(credit.head(100), "credit")
    second = data.snapshot(credit.head(200), "credit")
    assert data.get_version("credit@1") == first
    assert data.get_version("credit@latest") == second
    assert data.get_version("credit") == second
    assert data.get_version(first.digest) == first
    assert data.get_version(first.digest[:8]) == first
    assert data.get_version(second) is second
    assert len(data.load("credit")) == 200


def test_bad_references_are_invalid_input_or_not_found_naming_them(credit):
    data.snapshot(credit.head(10), "credit")
    for ref in ["credit@x", "credit@0", "credit@", "@1", "credit@-1", "credit@v2", "", 7]:
        with pytest.raises(InvalidInput) as caught:
            data.get_version(ref)
        assert (caught.value.field, caught.value.value) == ("ref", ref)
    for ref, named in [
        ("nope", "nope"),
        ("nope@2", "nope"),
        ("credit@9", "credit@9"),
        ("abcdef0123", "abcdef0123"),
        ("abcdef0", "abcdef0"),  # too short for a digest prefix: a dataset name
    ]:
        with pytest.raises(NotFound) as caught:
            data.get_version(ref)
        assert caught.value.value == named and repr(named) in str(caught.value)
    with pytest.raises(NotFound):
        data.list_versions("nope")


def test_a_digest_prefix_shared_by_two_contents_is_ambiguous(credit):
    first = data.snapshot(credit.head(10), "credit")
    second = data.snapshot(credit.head(20), "credit")
    with open_store().write() as conn:  # make the two digests share their first 10 characters
        conn.execute(
            update(dataset_versions)
            .where(dataset_versions.c.id == second.id)
            .values(digest=first.digest[:10] + second.digest[10:])
        )
    with pytest.raises(InvalidInput) as caught:
        data.get_version(first.digest[:10])
    assert "2 different contents" in str(caught.value)
    assert data.get_version(first.digest[:11]) == first


def test_bad_objects_names_paths_and_destinations_are_refused_naming_them(tmp_path, credit):
    for obj in [[1, 2, 3], pd.Series([1, 2]), {"a": [1]}, np.arange(3), None]:
        kind = type(obj).__qualname__
        with pytest.raises(InvalidInput) as caught:
            data.snapshot(obj, "credit")
        assert caught.value.value == kind and kind in str(caught.value)
    mixed = pd.DataFrame({"x": [1, "a", 2.5]})  # no Arrow type holds this column
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    for frame in (mixed, twice):
        with pytest.raises(InvalidInput) as caught:
            data.snapshot(frame, "mixed")
        assert caught.value.field == "obj"
    for name in ["", "with@at", " padded", "a b", None, "x" * 300]:
        with pytest.raises(InvalidInput) as caught:
            data.snapshot(credit.head(3), name)
        assert caught.value.field == "name"
    with pytest.raises(NotFound) as caught:
        data.snapshot(tmp_path / "missing.csv", "raw")
    assert "missing.csv" in str(caught.value)
    assert data.list_datasets() == []
    data.snapshot(credit.head(3), "credit")
    with pytest.raises(InvalidInput) as caught:
        data.load("credit", dest=tmp_path)
    assert caught.value.field == "dest"


def test_a_failed_record_write_leaves_no_dataset_and_no_version(credit, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(DataService, "_version_row", staticmethod(fail))
        data.snapshot(credit.head(5), "credit")
    assert data.list_datasets() == []
    assert data.snapshot(credit.head(5), "credit").version == 1


def test_concurrent_snapshots_of_a_new_dataset_number_their_versions_without_gaps(credit):
    frames = [credit.head(10 + i) for i in range(6)]
    with ThreadPoolExecutor(6) as pool:  # on PostgreSQL they race for the name and numbers
        versions = list(pool.map(lambda frame: data.snapshot(frame, "race"), frames))
    assert sorted(v.version for v in versions) == [1, 2, 3, 4, 5, 6]
    assert len({v.digest for v in versions}) == 6
    assert [d.version_count for d in data.list_datasets()] == [6]


def test_datasets_are_listed_with_their_version_counts(credit):
    data.snapshot(credit.head(5), "b-set", description="first")
    data.snapshot(credit.head(6), "b-set")
    data.snapshot(credit.head(5), "a-set")
    listed = data.list_datasets()
    assert [(d.name, d.version_count, d.latest_version) for d in listed] == [
        ("a-set", 1, 1),
        ("b-set", 2, 2),
    ]
    assert listed[1].description == "first"


def test_runs_record_the_versions_they_read_and_both_directions_are_queryable(credit):
    train = data.snapshot(credit.head(50), "credit")
    test = data.snapshot(credit.tail(50), "credit-test")
    with cairn.start_run(experiment="lineage") as run:
        run.log_input(train)
        run.log_input(test, relation="test")
        run.log_input(train)  # again: recorded once
    with cairn.start_run(experiment="lineage") as other:
        other.log_input(train)
    assert data.runs_that_read("credit@1") == [run.id, other.id]
    assert data.runs_that_read(test, relation="test") == [run.id]
    inputs = data.inputs_of(run.id)
    assert [(i.version.ref, i.relation) for i in inputs] == [
        ("credit@1", "input"),
        ("credit-test@1", "test"),
    ]
    assert data.inputs_of(run) == inputs
    with pytest.raises(NotFound):
        data.inputs_of("0" * 32)


def test_log_input_refuses_what_is_not_a_stored_dataset_version(credit):
    class Fake:
        id = "f" * 32

    with cairn.start_run(experiment="lineage") as run:
        with pytest.raises(NotFound) as caught:
            run.log_input(Fake())
        assert caught.value.value == "f" * 32 and "dataset version" in str(caught.value)
        with pytest.raises(InvalidInput) as caught:
            run.log_input(credit)  # a DataFrame is not a version
        assert caught.value.field == "version"
    assert data.inputs_of(run.id) == []


@pytest.mark.s3
@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)  # the blob store is under test
def test_versions_live_in_an_s3_artifact_store(s3_env, s3_bucket, monkeypatch, tmp_path, credit):
    monkeypatch.setenv("CAIRN_ARTIFACTS", f"s3://{s3_bucket}/data-{tmp_path.name}")
    table = data.snapshot(credit, "credit")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.md").write_text("# credit\n")
    docs = data.snapshot(folder, "docs")
    assert data.snapshot(credit, "credit") == table
    pd.testing.assert_frame_equal(data.load("credit@1"), credit)
    assert (data.load(docs) / "readme.md").read_text() == "# credit\n"
    assert data.data_service().artifacts.exists_many([table.blob, docs.blob]) == {
        table.blob,
        docs.blob,
    }
