"""Alert rules on monitoring metrics, and the alert events they raise.

A rule compares a metric of a model (the latest value, or its mean over ``window``) with a
threshold. When the comparison starts to hold, one ``firing`` event is stored and POSTed to the
rule's webhook; later evaluations that still breach add nothing; the first that no longer
breaches resolves the event and POSTs it again, now ``resolved``. So a rule sends two notices
per episode (fired, resolved), not one per evaluation. The check and the change share a write
transaction that locks the rule row, so two monitors running at once cannot fire or resolve
one episode twice.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select, update

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.monitoring.windows import parse_span
from cairn.registry.entities import Record
from cairn.registry.refs import check_name
from cairn.store import Store, open_store
from cairn.store.schema import alert_events, alert_rules, monitor_metrics

log = logging.getLogger(__name__)

COMPARISONS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SEVERITIES = ("info", "warning", "critical")
WEBHOOK_TIMEOUT = 5.0


@dataclass(frozen=True)
class AlertRule(Record):
    id: str
    model_name: str
    name: str
    metric: str
    comparison: str
    threshold: float
    window_ms: int | None
    severity: str
    webhook: str | None
    created_at: datetime
    creator: str

    def breached(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def describe(self) -> str:
        over = f"mean over {self.window_ms // 1000}s of " if self.window_ms else ""
        return f"{over}{self.metric} {self.comparison} {self.threshold:g}"


@dataclass(frozen=True)
class AlertEvent(Record):
    id: str
    rule: str
    model_name: str
    condition: str
    severity: str
    value: float
    status: str  # firing or resolved
    fired_at: datetime
    resolved_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    delivered_at: datetime | None  # the firing notice's webhook call
    delivery_error: str | None
    resolution_delivered_at: datetime | None  # the resolution notice's
    resolution_delivery_error: str | None
    run_id: str | None


def add_rule(
    model: str,
    name: str,
    metric: str,
    comparison: str,
    threshold: float,
    *,
    window: str | None = None,
    severity: str = "warning",
    webhook: str | None = None,
    store: Store | None = None,
) -> AlertRule:
    """Alert on ``metric`` of ``model`` (``drift.share``, ``performance.accuracy``, ...) when
    it ``comparison`` ``threshold``; ``window`` (``1h``, ``1d``) compares the mean of that span."""
    check_name(model)
    check_name(name)
    if comparison not in COMPARISONS:
        raise InvalidInput.for_field("comparison", comparison, f"one of {list(COMPARISONS)}")
    if severity not in SEVERITIES:
        raise InvalidInput.for_field("severity", severity, f"one of {list(SEVERITIES)}")
    if not isinstance(metric, str) or not metric:
        raise InvalidInput.for_field("metric", metric, "a metric name such as drift.share")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise InvalidInput.for_field("threshold", threshold, "a number")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise InvalidInput.for_field("webhook", webhook, "an http:// or https:// URL")
    row = {
        "id": new_id(),
        "model_name": model,
        "name": name,
        "metric": metric,
        "comparison": comparison,
        "threshold": float(threshold),
        "window": None if window is None else parse_span(window),
        "severity": severity,
        "webhook": webhook,
        "created_at": now_ms(),
        "creator": settings().user,
    }
    store = store or open_store()
    with store.write() as conn:
        taken = conn.scalar(
            select(alert_rules.c.id).where(
                alert_rules.c.model_name == model, alert_rules.c.name == name
            )
        )
        if taken:
            raise Conflict(
                f"model {model} already has an alert rule {name!r}", field="name", value=name
            )
        conn.execute(alert_rules.insert(), row)
    return _rule(row)


def list_rules(model: str | None = None, *, store: Store | None = None) -> list[AlertRule]:
    query = select(alert_rules).order_by(alert_rules.c.model_name, alert_rules.c.name)
    if model is not None:
        query = query.where(alert_rules.c.model_name == model)
    with (store or open_store()).read() as conn:
        return [_rule(row) for row in conn.execute(query).mappings()]


def evaluate(
    model: str, *, run_id: str | None = None, at: int | None = None, store: Store | None = None
) -> list[AlertEvent]:
    """Evaluate every rule of ``model`` on its stored metrics as of ``at`` (ms, default now);
    the events that fired or resolved now, each delivered to its rule's webhook."""
    store = store or open_store()
    at = now_ms() if at is None else at
    changed: list[tuple[str, str | None]] = []  # (event id, the rule's webhook)
    for rule in list_rules(model, store=store):
        with store.write() as conn:
            # Lock the rule: concurrent evaluations take turns (SQLite's write lock does this).
            conn.execute(
                select(alert_rules.c.id).where(alert_rules.c.id == rule.id).with_for_update()
            )
            value = _metric_value(conn, rule, at)
            if value is None:
                continue
            open_id = conn.scalar(
                select(alert_events.c.id).where(
                    alert_events.c.rule_id == rule.id, alert_events.c.status == "firing"
                )
            )
            breached = rule.breached(value)
            if breached and open_id is None:
                event_id = new_id()
                conn.execute(
                    alert_events.insert(),
                    {
                        "id": event_id,
                        "rule_id": rule.id,
                        "model_name": model,
                        "run_id": run_id,
                        "value": value,
                        "status": "firing",
                        "fired_at": at,
                    },
                )
                changed.append((event_id, rule.webhook))
            elif not breached and open_id is not None:
                conn.execute(
                    update(alert_events)
                    .where(alert_events.c.id == open_id)
                    .values(status="resolved", resolved_at=at)
                )
                changed.append((open_id, rule.webhook))
    for event_id, webhook in changed:
        if webhook:
            _deliver(get_alert(event_id, store=store), webhook, store)
    return [get_alert(event_id, store=store) for event_id, _ in changed]


def _metric_value(conn: Any, rule: AlertRule, at: int) -> float | None:
    series = (monitor_metrics.c.model_name == rule.model_name) & (
        monitor_metrics.c.name == rule.metric
    )
    if rule.window_ms is None:
        return conn.scalar(
            select(monitor_metrics.c.value)
            .where(series, monitor_metrics.c.at <= at)
            .order_by(monitor_metrics.c.at.desc())
            .limit(1)
        )
    return conn.scalar(
        select(func.avg(monitor_metrics.c.value)).where(
            series, monitor_metrics.c.at <= at, monitor_metrics.c.at > at - rule.window_ms
        )
    )


def _deliver(event: AlertEvent, url: str, store: Store) -> None:
    """POST the event as JSON; a failure is recorded on the event, not raised: the monitor's
    results are stored already and the alert stays listed for people to see. A firing notice
    is recorded in ``delivered_at`` and ``delivery_error``, a resolution notice in the
    ``resolution_`` pair, so neither hides how the other went."""
    error = None
    try:
        response = httpx.post(url, json={"alert": event.to_dict()}, timeout=WEBHOOK_TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.warning("delivering alert %s to %s failed: %s", event.id, url, error)
    c = alert_events.c
    if event.status == "resolved":
        delivered, failed = c.resolution_delivered_at, c.resolution_delivery_error
    else:
        delivered, failed = c.delivered_at, c.delivery_error
    with store.write() as conn:
        conn.execute(
            update(alert_events)
            .where(c.id == event.id)
            .values({delivered: None if error else now_ms(), failed: error})
        )


def list_alerts(
    model: str | None = None, *, status: str | None = None, store: Store | None = None
) -> list[AlertEvent]:
    """Alert events, newest first; ``status``: firing or resolved."""
    if status not in (None, "firing", "resolved"):
        raise InvalidInput.for_field("status", status, "firing or resolved")
    query = _events_query().order_by(alert_events.c.fired_at.desc())
    if model is not None:
        query = query.where(alert_events.c.model_name == model)
    if status is not None:
        query = query.where(alert_events.c.status == status)
    with (store or open_store()).read() as conn:
        return [_event(row) for row in conn.execute(query).mappings()]


def get_alert(event_id: str, *, store: Store | None = None) -> AlertEvent:
    with (store or open_store()).read() as conn:
        row = conn.execute(_events_query().where(alert_events.c.id == event_id)).mappings().first()
    if row is None:
        raise NotFound.for_field("alert", event_id)
    return _event(row)


def ack(event_id: str, *, store: Store | None = None) -> AlertEvent:
    """Record that someone has seen the alert (it stays firing until its condition clears)."""
    store = store or open_store()
    with store.write() as conn:
        done = conn.execute(
            update(alert_events)
            .where(alert_events.c.id == event_id)
            .values(acked_at=now_ms(), acked_by=settings().user)
        )
    if done.rowcount == 0:
        raise NotFound.for_field("alert", event_id)
    return get_alert(event_id, store=store)


def _events_query() -> Any:
    return select(
        alert_events,
        alert_rules.c.name.label("rule"),
        alert_rules.c.metric,
        alert_rules.c.comparison,
        alert_rules.c.threshold,
        alert_rules.c.window,
        alert_rules.c.severity,
    ).join(alert_rules, alert_rules.c.id == alert_events.c.rule_id)


def _rule(row: Any) -> AlertRule:
    return AlertRule(
        id=row["id"],
        model_name=row["model_name"],
        name=row["name"],
        metric=row["metric"],
        comparison=row["comparison"],
        threshold=row["threshold"],
        window_ms=row["window"],
        severity=row["severity"],
        webhook=row["webhook"],
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
    )


def _event(row: Any) -> AlertEvent:
    condition = _rule(
        {
            **row,
            "id": row["rule_id"],
            "name": row["rule"],
            "model_name": "",
            "webhook": None,
            "created_at": 0,
            "creator": "",
        }
    ).describe()
    return AlertEvent(
        id=row["id"],
        rule=row["rule"],
        model_name=row["model_name"],
        condition=condition,
        severity=row["severity"],
        value=row["value"],
        status=row["status"],
        fired_at=from_ms(row["fired_at"]),
        resolved_at=from_ms(row["resolved_at"]),
        acked_at=from_ms(row["acked_at"]),
        acked_by=row["acked_by"],
        delivered_at=from_ms(row["delivered_at"]),
        delivery_error=row["delivery_error"],
        resolution_delivered_at=from_ms(row["resolution_delivered_at"]),
        resolution_delivery_error=row["resolution_delivery_error"],
        run_id=row["run_id"],
    )
