"""Buffered metric writes: a training loop that logs every step is not slowed by the store.

Points wait in memory and are written in one transaction when ``FLUSH_POINTS`` have gathered, when
``FLUSH_INTERVAL_S`` has passed (a background thread sees to it), when the run ends, and at normal
process exit. A failed write keeps its points for the next try.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

FLUSH_POINTS = 10_000
FLUSH_INTERVAL_S = 1.0

Row = tuple[str, float | None, int, int]


class MetricBuffer:
    """Points of one run on their way to the store."""

    def __init__(self, write: Callable[[Sequence[Row]], None]) -> None:
        self._write = write
        self._rows: list[Row] = []
        self._lock = threading.Lock()  # guards _rows
        self._flush_lock = threading.Lock()  # one write at a time, in logging order
        _flusher.watch(self)

    def add(self, row: Row) -> None:
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= FLUSH_POINTS
        if full:
            self.flush()

    def extend(self, rows: Sequence[Row]) -> None:
        with self._lock:
            self._rows.extend(rows)
            full = len(self._rows) >= FLUSH_POINTS
        if full:
            self.flush()

    def __len__(self) -> int:
        return len(self._rows)

    def flush(self, write: Callable[[Sequence[Row]], None] | None = None) -> None:
        """Write what is buffered; ``write``, when given, is called even with no rows."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows and write is None:
                return
            try:
                (write or self._write)(rows)
            except BaseException:
                with self._lock:  # keep them, in order, ahead of what came since
                    self._rows[:0] = rows
                raise


class _Flusher:
    """One daemon thread per process that flushes every live buffer each interval."""

    def __init__(self) -> None:
        self._buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, buffer: MetricBuffer) -> None:
        with self._lock:
            self._buffers.add(buffer)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="cairn-metric-flush", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            self.flush_all(quiet=True)

    def flush_all(self, quiet: bool = False) -> None:
        with self._lock:
            buffers = list(self._buffers)
        for buffer in buffers:
            try:
                buffer.flush()
            except Exception:  # the points are kept; the next tick or the run's end retries
                if not quiet:
                    raise
                log.warning("cairn: writing buffered metrics failed; will retry", exc_info=True)


_flusher = _Flusher()


def flush_all() -> None:
    _flusher.flush_all()


def _reset_after_fork() -> None:
    # The thread does not survive a fork; buffers copied into the child are the parent's to write.
    global _flusher
    _flusher = _Flusher()


os.register_at_fork(after_in_child=_reset_after_fork)
