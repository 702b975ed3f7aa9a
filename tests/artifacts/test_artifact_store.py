"""Conformance suite of the artifact store, run on every backend: a local folder, S3 (moto
server) and fsspec's memory://. Each test goes around the store (disk, boto3) to check what
it really stored."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts import (
    FsspecArtifactStore,
    LocalArtifactStore,
    object_key,
    open_artifact_store,
    validate_logical_path,
)
from cairn.errors import ConfigError, IntegrityError, InvalidInput, NotFound

MiB = 1 << 20


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- writing and reading back ---------------------------------------------------------------


def test_objects_are_addressed_by_sha256_and_laid_out_by_digest(backend: Any) -> None:
    digest = backend.store.put_bytes(b"model weights")
    assert digest == sha(b"model weights")
    assert backend.files() == [f"objects/{digest[:2]}/{digest[2:]}"]


@pytest.mark.parametrize(
    "data", [b"weights\x00\xff", b"", bytearray(b"bytearray"), memoryview(b"memoryview")]
)
def test_put_bytes_round_trips(backend: Any, data: bytes) -> None:
    store = backend.store
    digest = store.put_bytes(data)
    assert digest == sha(bytes(data))
    assert store.get_bytes(digest) == bytes(data)
    assert store.size(digest) == len(data)
    assert store.exists(digest)


def test_put_many_keeps_order_and_stores_duplicates_once(backend: Any) -> None:
    blobs = [b"a", b"b", b"a", b"c", b"b"]
    digests = backend.store.put_many(iter(blobs))  # any iterable, consumed once
    assert digests == [sha(b) for b in blobs]
    assert backend.files() == backend.object_keys(digests)
    assert len(backend.files()) == 3
    assert backend.store.get_many(reversed(digests)) == {sha(b): b for b in blobs}
    assert backend.store.put_many([]) == []
    assert backend.store.get_many([]) == {}


def test_same_bytes_are_stored_once_however_they_are_put(backend: Any, tmp_path: Path) -> None:
    data = os.urandom(4096)
    source = tmp_path / "same.bin"
    source.write_bytes(data)
    store = backend.store
    first = store.put_bytes(data)
    assert store.put_bytes(data) == first
    assert store.put_file(source) == (first, len(data))
    assert store.put_many([data, data]) == [first, first]
    assert backend.files() == [object_key(first)]


def test_put_file_and_get_file_stream_a_20_mib_file(backend: Any, tmp_path: Path) -> None:
    data = os.urandom(20 * MiB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    store = backend.store

    digest, size = store.put_file(source)
    assert (digest, size) == (sha(data), len(data))
    assert backend.files() == [object_key(digest)]
    assert store.size(digest) == size

    dest = tmp_path / "download" / "nested" / "big.bin"  # parents are created
    assert store.get_file(digest, dest) == size
    assert dest.read_bytes() == data
    assert list(dest.parent.iterdir()) == [dest]  # no temporary file left

    streamed = hashlib.sha256()
    with store.open_stream(digest) as stream:
        while chunk := stream.read(3 * MiB):
            streamed.update(chunk)
    assert streamed.hexdigest() == digest


def test_local_transfers_hold_a_bounded_amount_of_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        for _ in range(20):
            out.write(os.urandom(MiB))
    store = LocalArtifactStore(tmp_path / "store")
    tracemalloc.start()
    try:
        digest, _ = store.put_file(source)
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        store.get_file(digest, tmp_path / "copy.bin")
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert put_peak < 8 * MiB, f"put_file held {put_peak / MiB:.1f} MiB for a 20 MiB file"
    assert get_peak < 8 * MiB, f"get_file held {get_peak / MiB:.1f} MiB for a 20 MiB file"
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()


def test_get_file_replaces_an_existing_file(backend: Any, tmp_path: Path) -> None:
    digest = backend.store.put_bytes(b"new contents")
    dest = tmp_path / "model.skops"
    dest.write_bytes(b"old contents, longer than the new ones")
    assert backend.store.get_file(digest, str(dest)) == len(b"new contents")
    assert dest.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["model.skops"]


def test_open_stream_is_a_readable_file_object(backend: Any) -> None:
    data = os.urandom(3 * MiB + 17)
    digest = backend.store.put_bytes(data)
    with backend.store.open_stream(digest) as stream:
        assert stream.readable()
        assert not stream.seekable()
        assert stream.read(10) == data[:10]
        assert stream.read() == data[10:]
        assert stream.read() == b""
    assert stream.closed


def test_exists_many_reports_which_digests_are_stored(backend: Any) -> None:
    stored = backend.store.put_many([b"one", b"two"])
    missing = sha(b"three")
    assert backend.store.exists_many([*stored, missing, stored[0]]) == set(stored)
    assert backend.store.exists_many([]) == set()
    assert backend.store.exists(stored[1])
    assert not backend.store.exists(missing)


# --- what reads refuse ----------------------------------------------------------------------


def test_reads_detect_a_corrupted_blob(backend: Any, tmp_path: Path) -> None:
    data = b"model weights v1 " * 1000
    digest = backend.store.put_bytes(data)
    backend.overwrite(digest, b"X" + data[1:])  # same size, one byte changed
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    def read_stream() -> None:
        with backend.store.open_stream(digest) as stream:
            stream.read()

    reads = {
        "get_bytes": lambda: backend.store.get_bytes(digest),
        "get_many": lambda: backend.store.get_many([digest]),
        "get_file": lambda: backend.store.get_file(digest, downloads / "model.bin"),
        "open_stream": read_stream,
    }
    for name, read in reads.items():
        with pytest.raises(IntegrityError) as caught:
            read()
        assert caught.value.field == "digest", name
        assert caught.value.value == digest, name
        assert digest in str(caught.value), name
    assert list(downloads.iterdir()) == []  # no partial download, no temporary file


def test_putting_the_right_bytes_again_repairs_a_truncated_blob(backend: Any) -> None:
    data = b"0123456789" * 100
    digest = backend.store.put_bytes(data)
    backend.overwrite(digest, data[:10])
    with pytest.raises(IntegrityError):
        backend.store.get_bytes(digest)
    assert backend.store.put_bytes(data) == digest
    assert backend.store.get_bytes(digest) == data
    assert backend.files() == [object_key(digest)]


def test_put_skips_an_object_already_stored(backend: Any, tmp_path: Path) -> None:
    data = b"0123456789" * 100
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    digest = backend.store.put_bytes(data)
    backend.overwrite(digest, b"X" * len(data))  # a marker of the right size
    assert backend.store.put_bytes(data) == digest
    assert backend.store.put_many([data]) == [digest]
    assert backend.store.put_file(source) == (digest, len(data))
    with pytest.raises(IntegrityError):  # the marker is still there: nothing was rewritten
        backend.store.get_bytes(digest)


def test_unknown_digest_is_not_found(backend: Any, tmp_path: Path) -> None:
    digest = sha(b"never stored")
    dest = tmp_path / "downloads" / "x.bin"
    reads = {
        "get_bytes": lambda: backend.store.get_bytes(digest),
        "get_many": lambda: backend.store.get_many([digest]),
        "get_file": lambda: backend.store.get_file(digest, dest),
        "open_stream": lambda: backend.store.open_stream(digest),
        "size": lambda: backend.store.size(digest),
    }
    for name, read in reads.items():
        with pytest.raises(NotFound) as caught:
            read()
        assert (caught.value.field, caught.value.value) == ("artifact", digest), name
        assert digest in str(caught.value), name
    assert not dest.exists()
    assert not backend.store.exists(digest)


BAD_DIGESTS = [
    "",
    "abc",
    "A" * 64,  # upper case
    "g" * 64,
    "a" * 63,
    "a" * 65,
    sha(b"x") + "\n",
    "../" + "a" * 61,
    None,
    42,
]


@pytest.mark.parametrize("bad", BAD_DIGESTS, ids=repr)
def test_malformed_digest_is_invalid_input(backend: Any, bad: Any, tmp_path: Path) -> None:
    store = backend.store
    calls = {
        "get_bytes": lambda: store.get_bytes(bad),
        "get_many": lambda: store.get_many([sha(b"ok"), bad]),
        "get_file": lambda: store.get_file(bad, tmp_path / "out.bin"),
        "open_stream": lambda: store.open_stream(bad),
        "exists": lambda: store.exists(bad),
        "exists_many": lambda: store.exists_many([sha(b"ok"), bad]),
        "size": lambda: store.size(bad),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidInput) as caught:
            call()
        assert (caught.value.field, caught.value.value) == ("digest", bad), name
        assert "64 hex characters" in str(caught.value), name


def test_put_refuses_data_that_is_not_bytes(backend: Any) -> None:
    for call in (
        lambda: backend.store.put_bytes("text"),
        lambda: backend.store.put_many([b"ok", "text"]),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert (caught.value.field, caught.value.value) == ("data", "str")


def test_put_file_of_a_missing_file_or_a_folder_is_refused(backend: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nope.bin"
    with pytest.raises(NotFound) as caught:
        backend.store.put_file(missing)
    assert (caught.value.field, caught.value.value) == ("file", str(missing))
    with pytest.raises(InvalidInput) as caught_dir:
        backend.store.put_file(tmp_path)
    assert (caught_dir.value.field, caught_dir.value.value) == ("path", str(tmp_path))
    assert backend.files() == []  # not even a temporary file


def test_put_file_of_an_empty_file(backend: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.touch()
    digest, size = backend.store.put_file(empty)
    assert (digest, size) == (sha(b""), 0)
    assert backend.store.get_bytes(digest) == b""
    assert backend.files() == [object_key(digest)]


# --- concurrency ----------------------------------------------------------------------------


def test_threads_putting_the_same_blobs_store_each_once(backend: Any) -> None:
    blobs = [os.urandom(64 * 1024), b"shared small blob"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: backend.store.put_many(blobs), range(16)))
    expected = [sha(b) for b in blobs]
    assert results == [expected] * 16
    assert backend.files() == backend.object_keys(expected)
    assert backend.store.get_many(expected) == dict(zip(expected, blobs, strict=True))


def _put_same_blob(root: str, source: str, barrier: Any, via_file: bool) -> None:
    """Child process: wait for the others, then store the same blob."""
    store = LocalArtifactStore(root)
    data = Path(source).read_bytes()
    barrier.wait(timeout=60)
    if via_file:
        store.put_file(source)
    else:
        store.put_bytes(data)


def test_processes_writing_the_same_blob_leave_one_intact_object(tmp_path: Path) -> None:
    data = os.urandom(8 * MiB)  # large enough for the writes to overlap
    source = tmp_path / "blob.bin"
    source.write_bytes(data)
    root = tmp_path / "store"
    context = multiprocessing.get_context("spawn")  # no fork of a process running threads
    barrier = context.Barrier(4)
    writers = [
        context.Process(target=_put_same_blob, args=(str(root), str(source), barrier, i % 2 == 0))
        for i in range(4)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert [w.exitcode for w in writers] == [0, 0, 0, 0]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == [object_key(sha(data))]  # one object, no temporary file
    assert LocalArtifactStore(root).get_bytes(sha(data)) == data


# --- logical paths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "normalised"),
    [
        ("model/model.skops", "model/model.skops"),
        ("plots/roc.png", "plots/roc.png"),
        ("metrics.json", "metrics.json"),
        ("./model/./weights.bin", "model/weights.bin"),
        ("a//b///c", "a/b/c"),
        ("plots/", "plots"),
        ("..hidden/x..y/...", "..hidden/x..y/..."),
        ("data set/ümlaut v1.csv", "data set/ümlaut v1.csv"),
    ],
)
def test_logical_path_is_normalised(path: str, normalised: str) -> None:
    assert validate_logical_path(path) == normalised


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "./",
        "/",
        "/etc/passwd",
        "//server/share",
        "C:\\x",
        "C:/x",
        "c:x",
        "\\\\server\\share",
        "model\\model.skops",
        "..",
        "../x",
        "a/../b",
        "a/..",
        "a/b/../../..",
        "a\x00b",
        None,
        42,
    ],
    ids=repr,
)
def test_logical_path_refuses_what_could_escape(path: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_logical_path(path)
    assert (caught.value.field, caught.value.value) == ("path", path)
    assert repr(path) in str(caught.value)


# --- choosing the backend -------------------------------------------------------------------


def test_open_artifact_store_defaults_to_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CAIRN_ARTIFACTS", raising=False)
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    store = open_artifact_store()
    assert isinstance(store, LocalArtifactStore)
    assert store.root == tmp_path / "home" / "artifacts"

    monkeypatch.setenv("CAIRN_ARTIFACTS", str(tmp_path / "elsewhere"))
    digest = open_artifact_store().put_bytes(b"x")
    assert (tmp_path / "elsewhere" / object_key(digest)).read_bytes() == b"x"

    monkeypatch.setenv("CAIRN_ARTIFACTS", "memory://cairn-settings-test")
    assert isinstance(open_artifact_store(), FsspecArtifactStore)


def test_open_artifact_store_picks_the_backend_by_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {
        str(tmp_path / "plain"): tmp_path / "plain",
        "relative/folder": tmp_path / "relative" / "folder",
        (tmp_path / "as url").as_uri(): tmp_path / "as url",  # file:///…/as%20url
        f"file://localhost{tmp_path}/host": tmp_path / "host",
    }
    for location, root in cases.items():
        store = open_artifact_store(location)
        assert isinstance(store, LocalArtifactStore), location
        assert store.root == root, location

    store = open_artifact_store("memory://cairn-url-test/prefix")
    assert isinstance(store, FsspecArtifactStore)
    assert store.get_bytes(store.put_bytes(b"in memory")) == b"in memory"


def test_empty_location_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        open_artifact_store("")
    assert (caught.value.field, caught.value.value) == ("artifacts", "")


@pytest.mark.parametrize("location", ["nosuch://bucket/x", "NoSuch://x"])
def test_unknown_url_scheme_is_a_config_error(location: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_artifact_store(location)
    assert (caught.value.field, caught.value.value) == ("artifacts", location)
    assert "unknown URL scheme 'nosuch'" in str(caught.value)


def test_file_url_naming_another_host_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        open_artifact_store("file://server/share/artifacts")
    assert caught.value.field == "artifacts"


def test_s3_store_without_s3fs_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # makes ``import s3fs`` fail
    with pytest.raises(ConfigError) as caught:
        open_artifact_store("s3://bucket/prefix")
    assert "pip install 'cairn[s3]'" in str(caught.value)


@pytest.mark.s3
@pytest.mark.parametrize("variable", ["CAIRN_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"])
def test_s3_store_takes_its_endpoint_from_the_settings(
    variable: str, s3_env: str, s3_bucket: str, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAIRN_S3_ENDPOINT_URL")
    monkeypatch.setenv(variable, s3_env)
    prefix = f"endpoint-{uuid.uuid4().hex[:12]}"
    store = open_artifact_store(f"s3://{s3_bucket}/{prefix}")
    assert isinstance(store, FsspecArtifactStore)
    digest = store.put_bytes(variable.encode())
    stored = s3_client.get_object(Bucket=s3_bucket, Key=f"{prefix}/{object_key(digest)}")
    assert stored["Body"].read() == variable.encode()
    s3_client.delete_object(Bucket=s3_bucket, Key=f"{prefix}/{object_key(digest)}")


@pytest.mark.s3
def test_s3_url_without_a_bucket_is_a_config_error(s3_env: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_artifact_store("s3://")
    assert "bucket" in str(caught.value)


def test_importing_cairn_artifacts_loads_no_optional_backend(tmp_path: Path) -> None:
    code = (
        "import sys, cairn.artifacts as a\n"
        f"a.open_artifact_store({str(tmp_path)!r}).put_bytes(b'x')\n"
        "loaded = sorted(m for m in ('s3fs', 'cairn.artifacts.remote') if m in sys.modules)\n"
        "print(loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
