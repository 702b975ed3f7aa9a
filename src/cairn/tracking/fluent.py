"""Module-level tracking: ``cairn.start_run`` and shortcuts that act on the active run.

Runs started while another is active in this process become its children, so nested
``with cairn.start_run()`` blocks build a parent/child tree without extra arguments.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cairn.errors import CairnError
from cairn.tracking.entities import Run
from cairn.tracking.run import ActiveRun
from cairn.tracking.service import DEFAULT_EXPERIMENT, TrackingService, tracking_service

_stack: list[ActiveRun] = []
_stack_lock = threading.Lock()


class NoActiveRun(CairnError):
    http_status = 400


def start_run(
    experiment: str | None = None,
    *,
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    parent: ActiveRun | str | None = None,
    service: TrackingService | None = None,
) -> ActiveRun:
    """Start a run and make it the active one.

    ``experiment`` defaults to the parent's, then ``CAIRN_EXPERIMENT``, then "Default".
    ``parent`` defaults to the run active now, if any.
    """
    with _stack_lock:
        if parent is None and _stack:
            parent = _stack[-1]
    parent_id = parent.id if isinstance(parent, ActiveRun) else parent
    if experiment is None:
        if isinstance(parent, ActiveRun):
            experiment = parent.experiment
        else:
            experiment = os.environ.get("CAIRN_EXPERIMENT") or DEFAULT_EXPERIMENT
    svc = service or (parent.service if isinstance(parent, ActiveRun) else tracking_service())
    run = svc.create_run(experiment, name=name, params=params, tags=tags, parent_id=parent_id)
    active = ActiveRun(svc, run)
    with _stack_lock:
        _stack.append(active)
    return active


@contextmanager
def attached_run(run: Run, service: TrackingService | None = None) -> Iterator[ActiveRun]:
    """Make an existing run the active one for a block, without ending it afterwards.

    For code that logs into a run someone else owns, such as a pipeline step's worker: what the
    block logs is written when it leaves, and the owner decides how and when the run ends.
    """
    active = ActiveRun(service or tracking_service(), run, end_at_exit=False)
    with _stack_lock:
        _stack.append(active)
    try:
        yield active
    finally:
        try:
            active.flush()
        finally:
            _forget(active)


def active_run() -> ActiveRun | None:
    with _stack_lock:
        return _stack[-1] if _stack else None


def end_run(status: str = "finished") -> None:
    """End the active run."""
    _require().end(status)


def _forget(run: ActiveRun) -> None:
    with _stack_lock:
        if run in _stack:
            _stack.remove(run)


def _require() -> ActiveRun:
    run = active_run()
    if run is None:
        raise NoActiveRun("no active run: start one with cairn.start_run()")
    return run


def log_metric(key: str, value: float, step: int | None = None) -> None:
    _require().log_metric(key, value, step)


def log_metrics(values: Mapping[str, float], step: int | None = None) -> None:
    _require().log_metrics(values, step)


def log_param(key: str, value: Any) -> None:
    _require().log_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    _require().log_params(values)


def set_tag(key: str, value: Any) -> None:
    _require().set_tag(key, value)


def set_tags(values: Mapping[str, Any]) -> None:
    _require().set_tags(values)


def log_artifact(local_path: str | os.PathLike, artifact_path: str | None = None) -> None:
    _require().log_artifact(local_path, artifact_path)
