"""Content-addressed artifact store: the blob layer under tracking, data versions and registry.

``open_artifact_store()`` opens the store the settings name (``CAIRN_ARTIFACTS``, by default
``$CAIRN_HOME/artifacts``). Backends are registered by URL scheme and imported only when
chosen, so an optional dependency (s3fs) loads only for the store that needs it.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from cairn.artifacts.base import (
    ArtifactStore,
    object_key,
    sha256_hex,
    validate_digest,
    validate_logical_path,
)
from cairn.errors import ConfigError

if TYPE_CHECKING:
    from cairn.artifacts.local import LocalArtifactStore
    from cairn.artifacts.remote import FsspecArtifactStore

#: URL scheme -> "module:class" of the backend; a class with ``from_location(location)``.
_BACKENDS: dict[str, str] = {
    "file": "cairn.artifacts.local:LocalArtifactStore",
}
#: Every other scheme that fsspec knows (s3, gcs, memory, …) goes to this backend.
_FSSPEC_BACKEND = "cairn.artifacts.remote:FsspecArtifactStore"

# Two or more characters before "://", so that a Windows drive (C:\…) is a path, not a scheme.
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+)://")


def open_artifact_store(location: str | None = None) -> ArtifactStore:
    """The artifact store at ``location``.

    ``None`` means the ``artifacts`` setting. A plain path or a ``file://`` URL opens a local
    folder; any other ``scheme://`` URL that fsspec knows (``s3://bucket/prefix``,
    ``memory://name``) opens an fsspec store. An unknown scheme raises ConfigError.
    """
    if location is None:
        from cairn.core.config import settings

        location = settings().artifacts
    if not location:
        raise ConfigError(
            "artifacts='' is invalid: expected a folder path or a URL such as s3://bucket/prefix",
            field="artifacts",
            value=location,
        )
    match = _SCHEME_RE.match(location)
    scheme = match.group(1).lower() if match else "file"
    target = _BACKENDS.get(scheme)
    if target is None:
        from fsspec import available_protocols

        if scheme not in available_protocols():
            known = ", ".join(f"{name}://" for name in sorted(_BACKENDS)) + ", s3://, memory://"
            raise ConfigError(
                f"artifacts={location!r}: unknown URL scheme {scheme!r}; use a folder path "
                f"or a URL such as {known} (any fsspec protocol)",
                field="artifacts",
                value=location,
            )
        target = _FSSPEC_BACKEND
    return _load(target).from_location(location)


def _load(target: str) -> type[ArtifactStore]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def __getattr__(name: str) -> Any:
    """Backend classes, imported on first use."""
    if name == "LocalArtifactStore":
        return _load(_BACKENDS["file"])
    if name == "FsspecArtifactStore":
        return _load(_FSSPEC_BACKEND)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ArtifactStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "object_key",
    "open_artifact_store",
    "sha256_hex",
    "validate_digest",
    "validate_logical_path",
]
