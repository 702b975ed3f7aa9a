"""A run in progress: what training code logs into, usually through ``with cairn.start_run()``."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from cairn.errors import InvalidInput
from cairn.store.lineage import Edge, add_edges
from cairn.tracking.buffer import MetricBuffer
from cairn.tracking.entities import Artifact, Run, RunStatus
from cairn.tracking.service import TrackingService, format_exception
from cairn.tracking.validation import check_key, metric_step, metric_value

log = logging.getLogger(__name__)


class ActiveRun:
    """Logs params, metrics, tags, notes and artifacts into one run until it ends.

    Metric points are buffered (see ``cairn.tracking.buffer``); everything else is written at
    once. Used as a context manager, the run ends ``finished``, or ``failed`` with the traceback
    stored when the block raises (the exception still propagates), or ``killed`` on Ctrl-C.
    """

    def __init__(self, service: TrackingService, run: Run, *, end_at_exit: bool = True) -> None:
        self.service = service
        self.id = run.id
        self.experiment = run.experiment
        self.name = run.name
        self.parent_id = run.parent_id
        self._buffer = MetricBuffer(self._write_metrics)
        self._next_step: dict[str, int] = {}
        self._keys: set[str] = set()  # keys already checked, so the hot path skips the regex
        self._ended = False
        self._lock = threading.Lock()
        if end_at_exit:  # a run this process owns: closed at normal exit if left open
            _open_runs[self.id] = self

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, experiment={self.experiment!r}, name={self.name!r})"

    # metrics ---------------------------------------------------------------------------

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Record one point. Without ``step`` the key's next step is used (0, 1, 2, …)."""
        if key not in self._keys:
            check_key("metric key", key)
            self._keys.add(key)
        stored = metric_value(key, value)
        with self._lock:
            step = self._next_step.get(key, 0) if step is None else metric_step(key, step)
            self._next_step[key] = step + 1
        self._buffer.add((key, stored, step, timestamp or time.time_ns() // 1_000_000))

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        for key, value in values.items():
            self.log_metric(key, value, step)

    def flush(self) -> None:
        """Write buffered metric points now."""
        self._buffer.flush()

    def _write_metrics(self, rows) -> None:  # noqa: ANN001
        self.service.log_metric_rows(self.id, rows)

    # params, tags, notes -----------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.service.log_params(self.id, {key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        self.service.log_params(self.id, values)

    def set_tag(self, key: str, value: Any) -> None:
        self.service.set_tags(self.id, {key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self.service.set_tags(self.id, values)

    def set_notes(self, text: str) -> None:
        self.service.set_notes(self.id, text)

    # artifacts -------------------------------------------------------------------------

    def log_artifact(
        self, local_path: str | os.PathLike, artifact_path: str | None = None
    ) -> list[Artifact]:
        """Store a file, or a folder with everything under it."""
        return self.service.log_artifact(self.id, local_path, artifact_path)

    def log_dataframe(self, frame: Any, artifact_path: str) -> Artifact:
        """Store a pandas DataFrame or Arrow table as Parquet."""
        return self.service.log_object(self.id, frame, artifact_path)

    def log_figure(self, figure: Any, artifact_path: str) -> Artifact:
        """Store a matplotlib figure as PNG."""
        return self.service.log_object(self.id, figure, artifact_path)

    def log_dict(self, data: Mapping[str, Any] | list, artifact_path: str) -> Artifact:
        return self.service.log_object(self.id, data, artifact_path)

    def log_text(self, text: str, artifact_path: str) -> Artifact:
        return self.service.log_object(self.id, text, artifact_path)

    # lineage ---------------------------------------------------------------------------

    def log_input(self, version: Any, relation: str = "input") -> None:
        """Record that this run read a dataset version (anything whose ``.id`` names one)."""
        version_id = getattr(version, "id", None)
        if not isinstance(version_id, str):
            raise InvalidInput.for_field(
                "version", type(version).__qualname__, "a dataset version (an object with an .id)"
            )
        add_edges(
            self.service.store, [Edge("dataset_version", version_id, "run", self.id, relation)]
        )

    # models ------------------------------------------------------------------------------

    def log_model(self, model: Any, name: str, *, input_example: Any = None, **options: Any) -> Any:
        """Store ``model`` in this run and register it as the next version of ``name``.

        Returns the ``ModelVersion``; ``options`` (description, tags) go to the registry.
        """
        from cairn.registry import RegistryService  # the registry sits above tracking

        self._buffer.flush()  # the version copies the run's metrics as they stand
        return RegistryService(self.service).register(
            self.id, name, model=model, input_example=input_example, **options
        )

    # lifecycle -------------------------------------------------------------------------

    def end(self, status: RunStatus | str = RunStatus.FINISHED, error: str | None = None) -> None:
        """Flush metrics and close the run; ending twice does nothing."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        from cairn.tracking import fluent

        fluent._forget(self)
        try:  # the last points and the end in one transaction
            self._buffer.flush(lambda rows: self.service.end_run(self.id, status, error, rows))
        except BaseException:
            with self._lock:  # not ended: a later end(), or the one at exit, tries again
                self._ended = False
            raise
        _open_runs.pop(self.id, None)

    @property
    def info(self) -> Run:
        """The run as stored now (after flushing buffered metrics)."""
        self._buffer.flush()
        return self.service.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        if exc is None:
            self.end(RunStatus.FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(RunStatus.KILLED, format_exception(exc))
        else:
            self.end(RunStatus.FAILED, format_exception(exc))
        return False


_open_runs: dict[str, ActiveRun] = {}


@atexit.register
def _end_open_runs() -> None:
    """At normal exit, write what is buffered and close runs the program left open."""
    for run in list(_open_runs.values()):
        try:
            run.end(RunStatus.FINISHED)
        except Exception:  # exiting: one bad run must not stop the others
            log.warning("cairn: could not close run %s at exit", run.id, exc_info=True)


def _forget_after_fork() -> None:
    # A forked child does not own its parent's runs: it must not end them at its exit.
    _open_runs.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
