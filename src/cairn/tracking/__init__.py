"""Experiment tracking: runs with params, metrics, tags, notes and artifacts, searchable."""

from cairn.tracking.client import Client
from cairn.tracking.entities import (
    Artifact,
    Experiment,
    Metric,
    MetricHistory,
    Run,
    RunList,
    RunStatus,
)
from cairn.tracking.fluent import (
    NoActiveRun,
    active_run,
    attached_run,
    end_run,
    log_artifact,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_tag,
    set_tags,
    start_run,
)
from cairn.tracking.run import ActiveRun
from cairn.tracking.service import TrackingService, tracking_service

__all__ = [
    "ActiveRun",
    "Artifact",
    "Client",
    "Experiment",
    "Metric",
    "MetricHistory",
    "NoActiveRun",
    "Run",
    "RunList",
    "RunStatus",
    "TrackingService",
    "active_run",
    "attached_run",
    "end_run",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tag",
    "set_tags",
    "start_run",
    "tracking_service",
]
