"""The artifact store contract: content-addressed blobs, and the rules for naming artifacts.

Every blob is stored once, under the SHA-256 hex digest of its bytes, at
``<root>/objects/<first 2 hex>/<remaining 62 hex>``. Records (runs, data versions, model
versions) keep the digest; the bytes live here.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO

from cairn.errors import IntegrityError, InvalidInput, NotFound

#: Bytes moved per read or write when streaming; bounds the memory a transfer holds.
CHUNK_SIZE = 1 << 20

_DIGEST_RE = re.compile(r"[0-9a-f]{64}")
_DRIVE_RE = re.compile(r"[A-Za-z]:")

Buffer = bytes | bytearray | memoryview


def validate_digest(digest: Any) -> str:
    """``digest`` if it is a SHA-256 hex digest (64 lowercase hex characters), else InvalidInput."""
    if not isinstance(digest, str) or not _DIGEST_RE.fullmatch(digest):
        raise InvalidInput.for_field("digest", digest, "64 hex characters")
    return digest


def object_key(digest: str) -> str:
    """Where a blob lives, relative to the store's root: ``objects/ab/cdef…``."""
    digest = validate_digest(digest)
    return f"objects/{digest[:2]}/{digest[2:]}"


def validate_logical_path(path: Any) -> str:
    """The normalised POSIX form of a path naming an artifact inside a run or model.

    Such paths (``model/model.skops``, ``plots/roc.png``) become file names when artifacts
    are downloaded, so anything that could escape the destination folder is refused: an
    empty path, an absolute path (``/x``, ``C:\\x``, ``\\\\server``), a ``..`` segment, a NUL
    byte or a backslash. ``./`` segments and repeated slashes are collapsed.
    """

    def refuse(expected: str) -> InvalidInput:
        return InvalidInput.for_field("path", path, expected)

    if not isinstance(path, str):
        raise refuse("a string such as 'model/model.skops'")
    if not path:
        raise refuse("a non-empty relative path such as 'model/model.skops'")
    if "\x00" in path:
        raise refuse("a path without NUL bytes")
    if "\\" in path:
        raise refuse("a path with '/' separators and no backslash")
    if path.startswith("/") or _DRIVE_RE.match(path):
        raise refuse("a relative path, not an absolute one")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise refuse("a path without '..' segments")
    if not parts:
        raise refuse("a path that names a file, not the current folder")
    return "/".join(parts)


def sha256_hex(data: Buffer) -> str:
    """The SHA-256 hex digest of ``data``: the address the store gives those bytes."""
    return hashlib.sha256(data).hexdigest()


def as_buffer(data: Any) -> Buffer:
    """``data`` if it is bytes-like, else InvalidInput (a ``str`` must be encoded first)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput.for_field("data", type(data).__name__, "bytes")
    if isinstance(data, memoryview) and not (data.c_contiguous and data.itemsize == 1):
        return data.tobytes()  # so that len() counts bytes
    return data


def check_digest(digest: str, data: Buffer) -> None:
    """Raise IntegrityError unless ``data`` hashes to ``digest``."""
    actual = sha256_hex(data)
    if actual != digest:
        raise corrupt_error(digest, actual)


def corrupt_error(digest: str, actual: str) -> IntegrityError:
    return IntegrityError(
        f"artifact {digest} is corrupt: its stored bytes hash to {actual}",
        field="digest",
        value=digest,
    )


def create_temp(directory: Path, prefix: str) -> tuple[int, Path]:
    """Create a new, uniquely named file in ``directory``; (open descriptor, path).

    The name starts with a dot and ends with ``.tmp`` so that listings can tell it from a
    finished file. The mode is 0o666 less the umask, like any file the user creates.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        path = directory / f".{prefix}-{secrets.token_hex(8)}.tmp"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue


def fsync_dir(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class VerifiedReader(io.RawIOBase):
    """Reads a stored blob, hashing as it goes; at the end of the bytes, checks the digest.

    Reaching the end of a blob whose bytes do not match its digest raises IntegrityError
    (and keeps raising it), so a reader that reads to the end never takes corrupt bytes for
    good ones. A reader that stops early has not had its bytes verified. Not seekable.
    """

    def __init__(self, raw: BinaryIO, digest: str) -> None:
        super().__init__()
        self._raw = raw
        self._digest = digest
        self._hash = hashlib.sha256()
        self._verified = False

    @property
    def digest(self) -> str:
        return self._digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            count = readinto(view) or 0
        else:
            data = self._raw.read(len(view))
            count = len(data)
            view[:count] = data
        if count == 0 and len(view) > 0:
            self._check()
            return 0
        self._hash.update(view[:count])
        return count

    def _check(self) -> None:
        if self._verified:
            return
        actual = self._hash.hexdigest()
        if actual != self._digest:
            raise corrupt_error(self._digest, actual)
        self._verified = True

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


class ArtifactStore(ABC):
    """A content-addressed store of immutable blobs: the blob layer under every record.

    Contract, which every backend meets and ``tests/artifacts`` checks on each of them:

    - **Addressing.** A blob's address is the SHA-256 hex digest of its bytes (64 lowercase
      hex characters). The same bytes are stored once, however often they are put. Objects
      live at ``<root>/objects/<first 2 hex>/<remaining 62 hex>`` and are never modified.
    - **Atomicity.** An object is either absent or complete under its name: backends write
      to a temporary name (or an uncommitted upload) and publish it in one step. A put that
      fails leaves nothing behind that a reader could see.
    - **Thread and process safety.** Every method may be called at once from many threads
      and processes sharing one location. Writers of the same blob race harmlessly: they
      write identical bytes and the last rename (or upload) wins. A put whose bytes are
      already stored with the right size skips the write; an object of the wrong size is
      rewritten, so putting the right bytes again repairs a damaged object.
    - **Consistency.** When a put returns, every process sees the blob.
    - **Verification.** Every read checks the bytes against their digest: ``get_bytes``,
      ``get_many`` and ``get_file`` before returning, ``open_stream`` on reaching the end.
    - **Batches.** ``put_many``, ``get_many`` and ``exists_many`` take many blobs per call;
      remote backends turn them into concurrent requests instead of one round-trip each.

    Raises: ``InvalidInput`` (field ``digest``) for a malformed digest and (field ``data``)
    for data that is not bytes; ``NotFound`` (field ``artifact``) for an unknown digest;
    ``IntegrityError`` (field ``digest``) when stored bytes do not match their digest;
    ``ConfigError`` when a backend cannot be used. Other I/O failures propagate as ``OSError``.
    """

    # --- construction -------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def from_location(cls, location: str) -> ArtifactStore:
        """The store at ``location`` (a path or URL), as ``open_artifact_store`` resolves it."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where this store keeps its objects, as a path or URL."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    # --- writing ------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; its digest."""
        return self.put_many([data])[0]

    @abstractmethod
    def put_many(self, blobs: Iterable[bytes]) -> list[str]:
        """Store every blob; their digests, in the order given (duplicates stored once)."""

    @abstractmethod
    def put_file(self, path: str | os.PathLike[str]) -> tuple[str, int]:
        """Store the file at ``path``, streamed in chunks; (digest, size in bytes).

        A missing file raises NotFound (field ``file``).
        """

    # --- reading ------------------------------------------------------------------------

    def get_bytes(self, digest: str) -> bytes:
        """The verified bytes of the blob ``digest``."""
        return self.get_many([digest])[digest]

    def get_many(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The verified bytes of every blob, keyed by digest; NotFound if any is missing."""
        wanted = list(dict.fromkeys(validate_digest(d) for d in digests))
        out: dict[str, bytes] = {}
        for digest in wanted:
            with self._open_raw(digest) as raw:
                data = raw.read()
            check_digest(digest, data)
            out[digest] = data
        return out

    def open_stream(self, digest: str) -> BinaryIO:
        """A binary file object reading the blob ``digest``, for blobs too large for memory.

        The stream checks the digest when it reaches the end of the bytes (IntegrityError);
        it is not seekable. Use it as a context manager, or close it.
        """
        digest = validate_digest(digest)
        return io.BufferedReader(VerifiedReader(self._open_raw(digest), digest), CHUNK_SIZE)

    def get_file(self, digest: str, dest_path: str | os.PathLike[str]) -> int:
        """Write the blob ``digest`` to ``dest_path``; the number of bytes written.

        The bytes stream to a temporary file next to the destination and are verified before
        it is renamed into place, so ``dest_path`` is never left holding partial or corrupt
        bytes. Missing parent folders are created.
        """
        digest = validate_digest(digest)
        dest = Path(dest_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open_stream(digest) as source:
            fd, tmp = create_temp(dest.parent, dest.name)
            try:
                size = 0
                with os.fdopen(fd, "wb") as out:
                    while chunk := source.read(CHUNK_SIZE):
                        out.write(chunk)
                        size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, dest)
            except BaseException:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
        return size

    def exists(self, digest: str) -> bool:
        """Whether the blob ``digest`` is stored."""
        return bool(self.exists_many([digest]))

    @abstractmethod
    def exists_many(self, digests: Iterable[str]) -> set[str]:
        """The digests among ``digests`` that are stored."""

    @abstractmethod
    def size(self, digest: str) -> int:
        """The size in bytes of the blob ``digest``."""

    @abstractmethod
    def _open_raw(self, digest: str) -> BinaryIO:
        """An unverified binary reader of the stored object; NotFound if there is none."""


def not_found(digest: str) -> NotFound:
    return NotFound.for_field("artifact", digest)
