"""Monitoring: drift, data quality and live performance of models in production.

``drift(reference_df, current_df)`` and ``quality(...)`` compare two tables directly.
``set_reference("credit-risk/3")`` stores what a version is monitored against;
``run_monitor("credit-risk", window="1d")`` checks a window of the server's prediction log,
stores the results as time series with an HTML report, and raises the alerts of ``add_rule``;
``schedule_monitor("credit-risk", "0 * * * *", window="1h")`` runs it on a cron.
"""

from cairn.monitoring.alerts import (
    AlertEvent,
    AlertRule,
    ack,
    add_rule,
    evaluate,
    get_alert,
    list_alerts,
    list_rules,
)
from cairn.monitoring.drift import METHODS, DomainClassifier, DriftReport, FeatureDrift, drift
from cairn.monitoring.monitor import (
    MonitorRun,
    get_run,
    list_runs,
    metric_series,
    report_of,
    run_monitor,
)
from cairn.monitoring.performance import performance
from cairn.monitoring.quality import ColumnQuality, QualityReport, quality
from cairn.monitoring.reference import Reference, get_reference, set_reference
from cairn.monitoring.scheduled import schedule_monitor

__all__ = [
    "METHODS",
    "AlertEvent",
    "AlertRule",
    "ColumnQuality",
    "DomainClassifier",
    "DriftReport",
    "FeatureDrift",
    "MonitorRun",
    "QualityReport",
    "Reference",
    "ack",
    "add_rule",
    "drift",
    "evaluate",
    "get_alert",
    "get_reference",
    "get_run",
    "list_alerts",
    "list_rules",
    "list_runs",
    "metric_series",
    "performance",
    "quality",
    "report_of",
    "run_monitor",
    "schedule_monitor",
    "set_reference",
]
