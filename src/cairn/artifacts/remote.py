"""The scale-out artifact store: any fsspec file system, S3-compatible object stores first.

fsspec, and s3fs for ``s3://``, are imported when a store is made, not when cairn is, so
cairn imports without them. (The module is not called ``fsspec.py``: as a submodule of
``cairn.artifacts`` that name would rebind ``fsspec`` in the package namespace and shadow the
library for anything run with this folder on ``sys.path``.)
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from cairn.artifacts.base import (
    CHUNK_SIZE,
    ArtifactStore,
    Buffer,
    as_buffer,
    check_digest,
    not_found,
    object_key,
    sha256_hex,
    validate_digest,
)
from cairn.core.config import settings
from cairn.errors import ConfigError, IntegrityError, InvalidInput, NotFound

#: Upload part and read-ahead size: S3's minimum part is 5 MiB, and each open stream or
#: upload holds about this much in memory (s3fs would otherwise buffer 50 MiB).
BLOCK_SIZE = 8 << 20
#: A ``put_many`` batch is flushed once it holds this many bytes or blobs, bounding memory.
BATCH_BYTES = 64 << 20
BATCH_COUNT = 1000
#: Requests in flight at once for batch existence checks.
CONCURRENCY = 32

_S3_PROTOCOLS = ("s3", "s3a")


class FsspecArtifactStore(ArtifactStore):
    """Blobs as objects under an fsspec URL: ``s3://bucket/prefix``, ``memory://name``, ….

    For S3 the endpoint comes from the ``s3_endpoint_url`` setting (``CAIRN_S3_ENDPOINT_URL``
    or ``AWS_ENDPOINT_URL``) unless ``storage_options`` names one; credentials come from the
    standard AWS environment variables and files. The file system is built with
    ``skip_instance_cache`` and, for S3, without a listings cache: existence checks must see
    what other processes wrote a moment ago.

    S3 PUTs and multipart uploads are atomic, so objects are uploaded under their final key.
    ``put_file`` hashes the file first (a local read) to skip the upload when the object is
    there, then streams it up as an uncommitted upload that is committed only if the bytes
    sent hash to the same digest, so a file changed meanwhile never lands under a wrong name.
    ``memory://`` is for quick checks within one process: it publishes writes as they happen.
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        from fsspec.core import url_to_fs

        protocol = url.split("://", 1)[0].lower() if "://" in url else "file"
        options = dict(storage_options or {})
        options.setdefault("skip_instance_cache", True)
        if protocol in _S3_PROTOCOLS:
            _require_s3fs()
            options.setdefault("use_listings_cache", False)
            client_kwargs = options.get("client_kwargs") or {}
            if "endpoint_url" not in options and "endpoint_url" not in client_kwargs:
                endpoint = settings().s3_endpoint_url
                if endpoint:
                    options["endpoint_url"] = endpoint
        try:
            fs, root = url_to_fs(url, **options)
        except ImportError as exc:
            raise ConfigError(
                f"artifacts={url!r}: the fsspec backend for {protocol}:// is not installed: {exc}",
                field="artifacts",
                value=url,
            ) from exc
        root = root.rstrip("/")
        if protocol in _S3_PROTOCOLS and not root:
            raise ConfigError(
                f"artifacts={url!r} names no bucket: use s3://bucket/prefix",
                field="artifacts",
                value=url,
            )
        self.url = url.rstrip("/")
        self.fs = fs
        self._root = root

    @classmethod
    def from_location(cls, location: str) -> FsspecArtifactStore:
        return cls(location)

    @property
    def location(self) -> str:
        return self.url

    def _key(self, digest: str) -> str:
        return f"{self._root}/{object_key(digest)}" if self._root else object_key(digest)

    # --- writing ------------------------------------------------------------------------

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        digests: list[str] = []
        for batch in _batches(blobs):
            unique: dict[str, Buffer] = {}
            for data in batch:
                digest = sha256_hex(data)
                digests.append(digest)
                unique.setdefault(digest, data)
            sizes = self._sizes([self._key(d) for d in unique])
            missing = {
                self._key(d): bytes(data)
                for d, data in unique.items()
                if sizes[self._key(d)] != len(data)
            }
            if missing:
                self.fs.pipe(missing)  # concurrent uploads on async file systems such as s3fs
        return digests

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        source = Path(path)
        digest, size = _hash_file(source)
        key = self._key(digest)
        if self._sizes([key])[key] == size:
            return digest, size
        sent = hashlib.sha256()
        count = 0
        upload = self.fs.open(key, "wb", block_size=BLOCK_SIZE, autocommit=False)
        try:
            with open(source, "rb") as fin:
                while chunk := fin.read(CHUNK_SIZE):
                    sent.update(chunk)
                    upload.write(chunk)
                    count += len(chunk)
            upload.close()
        except BaseException:
            _discard(upload)
            raise
        if sent.hexdigest() != digest or count != size:
            _discard(upload)
            self._drop_if_corrupt(digest)
            raise IntegrityError(
                f"file {str(source)!r} changed while it was being stored; nothing was stored",
                field="path",
                value=str(source),
            )
        upload.commit()
        return digest, size

    def _drop_if_corrupt(self, digest: str) -> None:
        """Remove the object for ``digest`` if it holds other bytes (file systems that publish
        writes at once, such as ``memory://``, may hold a discarded upload)."""
        try:
            with self.open_stream(digest) as stream:
                while stream.read(CHUNK_SIZE):
                    pass
        except NotFound:
            return
        except IntegrityError:
            self.fs.rm_file(self._key(digest))

    # --- reading ------------------------------------------------------------------------

    def get_many(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(validate_digest(d) for d in digests))
        if not wanted:
            return {}
        keys = [self._key(d) for d in wanted]
        fetched = self.fs.cat(keys, on_error="return")  # concurrent on async file systems
        out: dict[str, bytes] = {}
        for digest, key in zip(wanted, keys, strict=True):
            data = fetched.get(key, fetched.get(self.fs._strip_protocol(key)))
            if data is None or isinstance(data, FileNotFoundError):
                raise not_found(digest)
            if isinstance(data, BaseException):
                raise data
            check_digest(digest, data)
            out[digest] = data
        return out

    def exists_many(self, digests: Iterable[str]) -> set[str]:
        wanted = {validate_digest(d) for d in digests}
        sizes = self._sizes([self._key(d) for d in wanted])
        return {d for d in wanted if sizes[self._key(d)] is not None}

    def size(self, digest: str) -> int:
        key = self._key(digest)
        size = self._sizes([key])[key]
        if size is None:
            raise not_found(digest)
        return size

    def _open_raw(self, digest: str) -> BinaryIO:
        try:
            return self.fs.open(self._key(digest), "rb", block_size=BLOCK_SIZE)
        except FileNotFoundError:
            raise not_found(digest) from None

    def _sizes(self, keys: list[str]) -> dict[str, int | None]:
        """The size of each object, or None where there is none; concurrent when async."""
        if not keys:
            return {}
        if getattr(self.fs, "async_impl", False):
            from fsspec.asyn import sync

            infos = sync(self.fs.loop, self._gather_infos, keys)
        else:
            infos = [_info_or_none(self.fs.info, key) for key in keys]
        return {
            key: (info["size"] if info is not None and info.get("type") == "file" else None)
            for key, info in zip(keys, infos, strict=True)
        }

    async def _gather_infos(self, keys: list[str]) -> list[dict[str, Any] | None]:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(key: str) -> dict[str, Any] | None:
            async with limit:
                try:
                    return await self.fs._info(key)
                except FileNotFoundError:
                    return None

        return await asyncio.gather(*(one(key) for key in keys))


def _require_s3fs() -> None:
    try:
        importlib.import_module("s3fs")
    except ImportError as exc:
        raise ConfigError(
            f"s3:// artifact stores need s3fs, which is not installed ({exc}): "
            "pip install 'cairn[s3]'",
            field="artifacts",
            value="s3fs",
        ) from exc


def _info_or_none(info: Any, key: str) -> dict[str, Any] | None:
    try:
        return info(key)
    except FileNotFoundError:
        return None


def _discard(upload: Any) -> None:
    """Abandon an uncommitted upload (aborts an S3 multipart upload)."""
    discard = getattr(upload, "discard", None)
    if discard is not None:
        discard()


def _hash_file(source: Path) -> tuple[str, int]:
    """(digest, size) of a local file, read in chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    try:
        with open(source, "rb") as fin:
            while count := fin.readinto(view):
                digest.update(view[:count])
                size += count
    except FileNotFoundError:
        raise NotFound.for_field("file", str(source)) from None
    except IsADirectoryError:
        raise InvalidInput.for_field("path", str(source), "a regular file") from None
    return digest.hexdigest(), size


def _batches(blobs: Iterable[bytes]) -> Iterator[list[Buffer]]:
    """Blobs in groups of at most BATCH_COUNT blobs or about BATCH_BYTES bytes."""
    batch: list[Buffer] = []
    held = 0
    for blob in blobs:
        data = as_buffer(blob)
        batch.append(data)
        held += len(data)
        if held >= BATCH_BYTES or len(batch) >= BATCH_COUNT:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch
