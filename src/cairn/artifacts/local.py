"""The embedded artifact store: a content-addressed folder on the local file system."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from cairn.artifacts.base import (
    CHUNK_SIZE,
    ArtifactStore,
    Buffer,
    as_buffer,
    create_temp,
    fsync_dir,
    not_found,
    object_key,
    sha256_hex,
    validate_digest,
)
from cairn.errors import ConfigError, InvalidInput, NotFound


class LocalArtifactStore(ArtifactStore):
    """Blobs as files under ``root/objects``; needs no service.

    Each object is written to a uniquely named temporary file in the folder it will live in
    (``put_file``: in ``objects/``, since the digest is known only at the end), flushed with
    ``fsync`` and published with ``os.replace``. Rename is atomic within a file system, so
    readers see a whole object or none, and any number of processes may write the same blob
    at once: each writes its own temporary file and the last rename wins, with the same bytes.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().absolute()

    @classmethod
    def from_location(cls, location: str) -> LocalArtifactStore:
        """A store from a folder path or a ``file://`` URL (local host only)."""
        if location.lower().startswith("file://"):
            parts = urlsplit(location)
            if parts.netloc not in ("", "localhost"):
                raise ConfigError(
                    f"artifacts={location!r}: a file:// URL must name a local path "
                    "(file:///path/to/folder)",
                    field="artifacts",
                    value=location,
                )
            return cls(url2pathname(unquote(parts.path)))
        return cls(location)

    @property
    def location(self) -> str:
        return str(self.root)

    def object_path(self, digest: str) -> Path:
        """The file that holds (or would hold) the blob ``digest``."""
        return self.root / object_key(digest)

    # --- writing ------------------------------------------------------------------------

    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        digests: list[str] = []
        written: set[Path] = set()
        for blob in blobs:
            data = as_buffer(blob)
            digest = sha256_hex(data)
            path = self.object_path(digest)
            if not self._holds(path, len(data)):
                self._write_atomic(path, data)
                written.add(path.parent)
            digests.append(digest)
        for folder in written:  # one directory fsync per folder, not per blob
            fsync_dir(folder)
        return digests

    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        source = Path(path)
        objects = self.root / "objects"
        try:
            fin = open(source, "rb")  # noqa: SIM115 - closed below, after the temp is made
        except FileNotFoundError:
            raise NotFound.for_field("file", str(source)) from None
        except IsADirectoryError:
            raise InvalidInput.for_field("path", str(source), "a regular file") from None
        with fin:
            objects.mkdir(parents=True, exist_ok=True)
            fd, tmp = create_temp(objects, "put")
            try:
                digest, size = _copy_hashing(fin, fd)
                final = self.object_path(digest)
                if self._holds(final, size):
                    os.unlink(tmp)
                else:
                    final.parent.mkdir(exist_ok=True)
                    os.replace(tmp, final)
                    fsync_dir(final.parent)
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return digest, size

    def _write_atomic(self, path: Path, data: Buffer) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_temp(path.parent, path.name[:8])
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _holds(path: Path, size: int) -> bool:
        """Whether ``path`` is a complete object of ``size`` bytes (else it is (re)written)."""
        try:
            return path.stat().st_size == size
        except FileNotFoundError:
            return False

    # --- reading ------------------------------------------------------------------------

    def exists_many(self, digests: Iterable[str]) -> set[str]:
        wanted = {validate_digest(d) for d in digests}
        return {d for d in wanted if self.object_path(d).is_file()}

    def size(self, digest: str) -> int:
        try:
            return self.object_path(digest).stat().st_size
        except FileNotFoundError:
            raise not_found(digest) from None

    def _open_raw(self, digest: str) -> BinaryIO:
        try:
            return open(self.object_path(digest), "rb", buffering=0)  # noqa: SIM115
        except FileNotFoundError:
            raise not_found(digest) from None


def _copy_hashing(source: BinaryIO, fd: int) -> tuple[str, int]:
    """Copy ``source`` to the open descriptor ``fd`` chunk by chunk, hashing; (digest, size).

    Closes ``fd`` after an fsync.
    """
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    with os.fdopen(fd, "wb") as out:
        while count := source.readinto(view):
            digest.update(view[:count])
            out.write(view[:count])
            size += count
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size
