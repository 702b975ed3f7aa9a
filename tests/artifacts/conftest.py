"""Fixtures for the artifact store conformance suite: one store per backend.

S3 is the real S3 API served on loopback by moto in server mode (``s3_server`` in the top
conftest).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cairn.artifacts import ArtifactStore, object_key


@dataclass
class Backend:
    """A store and a view of its storage that goes around it, to count and damage objects."""

    name: str
    store: ArtifactStore
    files: Callable[[], list[str]]  # every stored name under the root, sorted, temps included
    overwrite: Callable[[str, bytes], None]  # replace the stored bytes of a digest

    def object_keys(self, digests: list[str]) -> list[str]:
        return sorted({object_key(d) for d in digests})


def _local_backend(root: Path) -> Backend:
    from cairn.artifacts import LocalArtifactStore

    store = LocalArtifactStore(root)

    def files() -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def overwrite(digest: str, data: bytes) -> None:
        store.object_path(digest).write_bytes(data)

    return Backend("local", store, files, overwrite)


def _s3_backend(client: Any, bucket: str, prefix: str) -> Backend:
    from cairn.artifacts import FsspecArtifactStore

    store = FsspecArtifactStore(f"s3://{bucket}/{prefix}")

    def files() -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return sorted(key[len(prefix) + 1 :] for key in keys)

    def overwrite(digest: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{object_key(digest)}", Body=data)

    return Backend("s3", store, files, overwrite)


def _memory_backend(prefix: str) -> Backend:
    from cairn.artifacts import FsspecArtifactStore

    store = FsspecArtifactStore(f"memory://{prefix}")
    fs = store.fs
    root = f"/{prefix}"

    def files() -> list[str]:
        return sorted(path[len(root) + 1 :] for path in fs.find(root))

    def overwrite(digest: str, data: bytes) -> None:
        fs.pipe_file(f"{root}/{object_key(digest)}", data)

    return Backend("memory", store, files, overwrite)


@pytest.fixture(
    params=["local", pytest.param("s3", marks=pytest.mark.s3), "memory"],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty store of each backend: a local folder, S3 (moto), fsspec's memory://."""
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    if request.param == "local":
        yield _local_backend(tmp_path / "store")
    elif request.param == "s3":
        request.getfixturevalue("s3_env")
        client = request.getfixturevalue("s3_client")
        bucket = request.getfixturevalue("s3_bucket")
        yield _s3_backend(client, bucket, prefix)
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", [])
        for item in listed:  # free the moto server's memory
            client.delete_object(Bucket=bucket, Key=item["Key"])
    else:
        made = _memory_backend(prefix)
        yield made
        if made.files():  # the memory file system is shared by the whole process
            made.store.fs.rm(f"/{prefix}", recursive=True)  # type: ignore[attr-defined]
