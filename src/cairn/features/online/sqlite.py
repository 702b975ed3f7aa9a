"""The embedded online store: one SQLite table keyed by (namespace, key), WAL mode.

Each thread keeps its own connection (reads run in parallel under WAL); a lookup is one indexed
SELECT of one blob on a prepared statement, with no per-call setup.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from cairn.features.online.base import OnlineStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_records (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    record BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""
# a blob compares as bytes: the header decides which record is newer (see packing)
_UPSERT = """
INSERT INTO online_records (namespace, key, record) VALUES (?, ?, ?)
ON CONFLICT (namespace, key) DO UPDATE SET record = excluded.record
WHERE substr(excluded.record, 1, 16) >= substr(online_records.record, 1, 16)
"""
_READ_ONE = "SELECT record FROM online_records WHERE namespace = ? AND key = ?"
_BATCH = 500
MMAP_BYTES = 1 << 30  # keys per IN (...) list, under SQLite's bound-parameter limit


class SqliteOnlineStore(OnlineStore):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.uri = f"sqlite:///{self.path}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._conn() as conn:
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # lookups read pages through a memory map: no system call per page
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def write(self, namespace: str, keys: Sequence[str], records: Sequence[bytes]) -> int:
        conn = self._conn()
        with conn:  # one transaction
            before = conn.total_changes
            conn.executemany(_UPSERT, zip([namespace] * len(keys), keys, records, strict=True))
            return conn.total_changes - before

    def read_one(self, namespace: str, key: str) -> bytes | None:
        row = self._conn().execute(_READ_ONE, (namespace, key)).fetchone()
        return None if row is None else row[0]

    def read(self, namespace: str, keys: Sequence[str]) -> list[bytes | None]:
        conn = self._conn()
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), _BATCH):
            chunk = keys[start : start + _BATCH]
            marks = ",".join("?" * len(chunk))
            found.update(
                conn.execute(
                    f"SELECT key, record FROM online_records WHERE namespace = ? AND key IN ({marks})",
                    (namespace, *chunk),
                ).fetchall()
            )
        return [found.get(key) for key in keys]

    def drop(self, namespace: str) -> None:
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM online_records WHERE namespace = ?", (namespace,))

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
