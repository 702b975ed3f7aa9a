"""The online store seam: keyed records, one per entity per view version, read in microseconds.

Contract of every backend:

- ``write(namespace, keys, records)`` stores each record under its key in one batch. A record
  replaces the stored one only when its 16-byte header (event time, then arrival time; see
  ``cairn.features.packing``) is at least the stored header, so a late or replayed row never
  overwrites a newer value. Returns how many keys it wrote.
- ``read(namespace, keys)`` returns the records in the order of ``keys``, None for a key with no
  record. One round trip whatever the number of keys.
- Safe to share between threads. Namespaces are independent; ``drop`` removes one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class OnlineStore(ABC):
    """Where materialized feature records are kept for lookups at serving time."""

    uri: str

    @abstractmethod
    def write(self, namespace: str, keys: Sequence[str], records: Sequence[bytes]) -> int: ...

    @abstractmethod
    def read(self, namespace: str, keys: Sequence[str]) -> list[bytes | None]: ...

    @abstractmethod
    def read_one(self, namespace: str, key: str) -> bytes | None:
        """``read`` of one key, on the shortest path the backend has."""

    @abstractmethod
    def drop(self, namespace: str) -> None: ...

    def close(self) -> None:  # noqa: B027 - backends without resources need nothing
        """Release connections."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"
