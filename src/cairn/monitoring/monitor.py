"""Monitor runs: a window of the prediction log checked against the model's reference.

``run_monitor("credit-risk", window="1d")`` reads the window (by time, or the ``last`` n rows),
tests drift of the inputs and predictions, data quality and, where feedback has arrived, live
performance; stores the run with its HTML and JSON reports (artifacts) and every figure as a
point of a time series (``monitor_metrics``), then evaluates the model's alert rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from cairn.artifacts import open_artifact_store
from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import NotFound
from cairn.monitoring import alerts as alerting
from cairn.monitoring.drift import drift
from cairn.monitoring.performance import performance
from cairn.monitoring.quality import quality
from cairn.monitoring.reference import PREDICTION, PROBABILITY, Reference, get_reference
from cairn.monitoring.report import render_html
from cairn.monitoring.windows import check_last, parse_span
from cairn.registry.refs import check_name
from cairn.store import Store, open_store
from cairn.store.schema import monitor_metrics, monitor_runs

#: Columns the prediction log adds to the logged inputs.
LOG_COLUMNS = (
    "prediction",
    "probabilities",
    "label",
    "request_id",
    "row",
    "model_version",
    "created_at",
    "latency_ms",
)


@dataclass(frozen=True)
class MonitorRun:
    id: str
    model_name: str
    model_version: int | None
    window_start: datetime | None
    window_end: datetime
    rows: int
    status: str  # ok, drift, empty
    summary: dict[str, Any]
    metrics: dict[str, float]
    report_digest: str | None
    json_digest: str | None
    created_at: datetime
    alerts: list[alerting.AlertEvent] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model_name,
            "model_version": self.model_version,
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "rows": self.rows,
            "status": self.status,
            "summary": self.summary,
            "metrics": self.metrics,
            "report_digest": self.report_digest,
            "json_digest": self.json_digest,
            "created_at": self.created_at.isoformat(),
            "alerts": [a.to_dict() for a in self.alerts],
        }


def run_monitor(
    model: str,
    *,
    window: str | None = "1d",
    last: int | None = None,
    end: int | None = None,
    reference: str | None = None,
    methods: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    multivariate: bool = False,
    store: Store | None = None,
) -> MonitorRun:
    """Check the prediction log of ``model`` from ``end - window`` to ``end`` (ms; default now),
    or its ``last`` n rows up to ``end``, against ``reference`` (a version ref; by default the
    reference of the version that served most of the window, else the newest)."""
    from cairn.serving import read_predictions

    check_name(model)
    store = store or open_store()
    end = now_ms() if end is None else end
    if last is not None:
        logged = read_predictions(model, end=end, last=check_last(last), store=store)
        start = int(logged["created_at"].min()) if len(logged) else None
    else:
        start = end - parse_span(window or "")
        logged = read_predictions(model, start=start, end=end, store=store)
    ref = _reference_for(model, reference, logged, store)
    reference_frame = ref.frame()
    current = _current_frame(logged, ref)
    drifted = drift(
        reference_frame,
        current,
        columns=ref.features,
        prediction_columns=[c for c in ref.prediction_columns if c in current.columns],
        methods=methods,
        thresholds=thresholds,
        multivariate=multivariate,
    )
    inputs = logged[[c for c in logged.columns if c not in LOG_COLUMNS]]
    checked = quality(reference_frame[ref.features], inputs)
    scored = performance(logged)
    metrics = {**drifted.metrics(), **checked.metrics(), **scored}
    status = "empty" if logged.empty else ("drift" if drifted.drifted else "ok")
    title = f"{model}/{ref.model_version}: {len(logged):,} predictions to {from_ms(end):%Y-%m-%d %H:%M} UTC"
    document = {
        "model": model,
        "reference": ref.to_dict(),
        "window_start": start,
        "window_end": end,
        "status": status,
        "drift": drifted.to_dict(),
        "quality": checked.to_dict(),
        "performance": scored,
    }
    artifacts = open_artifact_store()
    report_digest = artifacts.put_bytes(
        render_html(title, drifted, checked, scored, reference_frame, current).encode()
    )
    json_digest = artifacts.put_bytes(json.dumps(document, default=str).encode())
    summary = {
        "drifted": drifted.drifted,
        "share_drifted": drifted.share_drifted,
        "drifted_features": drifted.drifted_features,
        "prediction_drifted": [f.column for f in drifted.prediction if f.drifted],
        "problems": drifted.problems,
        "quality_issues": checked.issues[:50],
        "performance": scored,
    }
    run_id = new_id()
    created = now_ms()
    with store.write() as conn:
        conn.execute(
            monitor_runs.insert(),
            {
                "id": run_id,
                "model_name": model,
                "model_version": ref.model_version,
                "window_start": start,
                "window_end": end,
                "rows": len(logged),
                "status": status,
                "summary": json.dumps(summary, default=str),
                "report_digest": report_digest,
                "json_digest": json_digest,
                "created_at": created,
                "creator": settings().user,
            },
        )
        conn.execute(
            monitor_metrics.insert(),
            [
                {"run_id": run_id, "name": name, "model_name": model, "value": value, "at": end}
                for name, value in metrics.items()
                if np.isfinite(value)
            ],
        )
    events = alerting.evaluate(model, run_id=run_id, at=end, store=store)
    return get_run(run_id, store=store, metrics=metrics, alerts=events)


def _reference_for(
    model: str, reference: str | None, logged: pd.DataFrame, store: Store
) -> Reference:
    if reference is not None:
        return get_reference(reference, store=store)
    if len(logged):
        served = int(logged["model_version"].mode().iloc[0])
        try:
            return get_reference(f"{model}/{served}", store=store)
        except NotFound:
            pass  # a version served without a reference of its own: use the newest one
    return get_reference(model, store=store)


def _current_frame(logged: pd.DataFrame, ref: Reference) -> pd.DataFrame:
    """The window's inputs and predictions, in the reference's columns (those it has)."""
    columns = {c: logged[c] for c in ref.features if c in logged.columns}
    if len(logged) and PREDICTION in logged.columns:
        columns[PREDICTION] = logged[PREDICTION]
    probabilities = logged.get("probabilities")
    has_scores = probabilities is not None and len(logged) and probabilities.notna().all()
    if PROBABILITY in ref.prediction_columns and has_scores:
        columns[PROBABILITY] = np.asarray(probabilities.tolist(), dtype=np.float64)[:, -1]
    return pd.DataFrame(columns, index=logged.index)


def get_run(
    run_id: str,
    *,
    store: Store | None = None,
    metrics: dict[str, float] | None = None,
    alerts: list[alerting.AlertEvent] | None = None,
) -> MonitorRun:
    store = store or open_store()
    with store.read() as conn:
        row = (
            conn.execute(select(monitor_runs).where(monitor_runs.c.id == run_id)).mappings().first()
        )
        if row is None:
            raise NotFound.for_field("monitor run", run_id)
        if metrics is None:
            metrics = dict(
                conn.execute(
                    select(monitor_metrics.c.name, monitor_metrics.c.value).where(
                        monitor_metrics.c.run_id == run_id
                    )
                ).all()
            )
    return _run(row, metrics, alerts or [])


def list_runs(model: str, *, limit: int = 20, store: Store | None = None) -> list[MonitorRun]:
    """The latest monitor runs of ``model``, newest first (without their metrics)."""
    query = (
        select(monitor_runs)
        .where(monitor_runs.c.model_name == model)
        .order_by(monitor_runs.c.created_at.desc())
        .limit(limit)
    )
    with (store or open_store()).read() as conn:
        return [_run(row, {}, []) for row in conn.execute(query).mappings()]


def metric_series(
    model: str, name: str, *, start: int | None = None, store: Store | None = None
) -> pd.DataFrame:
    """One metric of ``model`` over time: columns ``at`` (ms, window end), ``value``, ``run_id``."""
    query = (
        select(monitor_metrics.c.at, monitor_metrics.c.value, monitor_metrics.c.run_id)
        .where(monitor_metrics.c.model_name == model, monitor_metrics.c.name == name)
        .order_by(monitor_metrics.c.at)
    )
    if start is not None:
        query = query.where(monitor_metrics.c.at >= start)
    with (store or open_store()).read() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=["at", "value", "run_id"])


def report_of(run_id: str, *, as_json: bool = False, store: Store | None = None) -> bytes:
    """The stored HTML report of a run (or its JSON document)."""
    run = get_run(run_id, store=store, metrics={})
    digest = run.json_digest if as_json else run.report_digest
    if digest is None:
        raise NotFound.for_field("report of monitor run", run_id)
    return open_artifact_store().get_bytes(digest)


def _run(row: Any, metrics: dict[str, float], alerts: list[alerting.AlertEvent]) -> MonitorRun:
    return MonitorRun(
        id=row["id"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        window_start=from_ms(row["window_start"]),
        window_end=from_ms(row["window_end"]),
        rows=row["rows"],
        status=row["status"],
        summary=json.loads(row["summary"]),
        metrics=metrics,
        report_digest=row["report_digest"],
        json_digest=row["json_digest"],
        created_at=from_ms(row["created_at"]),
        alerts=alerts,
    )
