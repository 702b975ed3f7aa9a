"""Alert rules: events fire once per episode and resolve, both delivered to a real local
webhook, and can be acknowledged; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from monitoring_harness import DAY_MS, NOW, log_traffic
from typer.testing import CliRunner

from cairn.cli import app
from cairn.datasets import make_credit_applications
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.monitoring import ack, add_rule, list_alerts, list_rules, run_monitor, set_reference


def test_an_alert_fires_once_per_episode(credit_model, receiver):
    set_reference("credit-risk/1")
    rule = add_rule(
        "credit-risk",
        "inputs-drift",
        "drift.share",
        ">",
        0.5,
        severity="critical",
        webhook=receiver.url,
    )
    drifts = [0.0, 1.0, 1.0, 0.0, 1.0]  # clean, an episode of two days, clean, a new episode
    for day, amount in enumerate(drifts):
        frame = make_credit_applications(1000, seed=20 + day, drift=amount)
        log_traffic(credit_model, frame, end=NOW + day * DAY_MS)

    runs, posted = [], []
    for day in range(5):
        runs.append(run_monitor("credit-risk", window="1d", end=NOW + day * DAY_MS))
        posted.append(len(receiver.received))

    assert [len(r.alerts) for r in runs] == [0, 1, 0, 1, 1]
    assert [r.alerts[0].status for r in runs if r.alerts] == ["firing", "resolved", "firing"]
    # a breach POSTs once, the same breach again nothing, the recovery once, a new breach once
    assert posted == [0, 1, 1, 2, 3]
    fired, resolved, again = (body["alert"] for body in receiver.received)
    assert fired["rule"] == "inputs-drift" and fired["severity"] == "critical"
    assert fired["status"] == "firing" and fired["value"] > 0.5
    assert fired["condition"] == "drift.share > 0.5" and fired["resolved_at"] is None
    assert fired["run_id"] == runs[1].id
    assert resolved["id"] == fired["id"] and resolved["status"] == "resolved"
    assert resolved["resolved_at"] == runs[3].window_end.isoformat()
    assert again["status"] == "firing" and again["id"] != fired["id"]

    events = list_alerts("credit-risk")
    assert [e.status for e in events] == ["firing", "resolved"]
    assert all(e.delivered_at is not None and e.delivery_error is None for e in events)
    assert list_alerts("credit-risk", status="firing")[0].id == runs[4].alerts[0].id
    assert list_rules("credit-risk") == [rule]


def test_a_failed_resolution_notice_keeps_the_record_of_the_firing_one(credit_model, receiver):
    set_reference("credit-risk/1")
    add_rule("credit-risk", "inputs-drift", "drift.share", ">", 0.5, webhook=receiver.url)
    for day, amount in enumerate([1.0, 0.0]):  # an episode, then its end
        frame = make_credit_applications(1000, seed=40 + day, drift=amount)
        log_traffic(credit_model, frame, end=NOW + day * DAY_MS)

    [fired] = run_monitor("credit-risk", window="1d", end=NOW).alerts
    assert fired.delivered_at is not None and fired.resolution_delivered_at is None
    receiver.status = 503  # the receiver is down when the alert resolves
    [resolved] = run_monitor("credit-risk", window="1d", end=NOW + DAY_MS).alerts

    assert [body["alert"]["status"] for body in receiver.received] == ["firing", "resolved"]
    assert resolved.id == fired.id and resolved.status == "resolved"
    assert resolved.delivered_at == fired.delivered_at and resolved.delivery_error is None
    assert resolved.resolution_delivered_at is None
    assert "503" in resolved.resolution_delivery_error
    listed = CliRunner().invoke(app, ["alerts", "list"], env={"COLUMNS": "250"}).output
    assert "sent; resolution HTTPStatusError" in listed


def test_a_window_rule_uses_the_mean_and_a_failed_delivery_is_recorded(credit_model):
    set_reference("credit-risk/1")
    unreachable = "http://127.0.0.1:9/nothing-listens-here"
    add_rule(
        "credit-risk",
        "low-accuracy",
        "performance.accuracy",
        "<",
        0.99,
        window="2d",
        webhook=unreachable,
    )
    frame = make_credit_applications(500, seed=30)
    log_traffic(credit_model, frame, end=NOW, labels=True)
    run = run_monitor("credit-risk", window="1d", end=NOW)
    [event] = run.alerts
    assert event.status == "firing" and event.value == run.metrics["performance.accuracy"]
    assert event.delivered_at is None and "ConnectError" in event.delivery_error
    assert event.condition.startswith("mean over 172800s of performance.accuracy <")

    seen = ack(event.id)
    assert seen.acked_at is not None and seen.acked_by and seen.status == "firing"
    with pytest.raises(NotFound):
        ack("no-such-alert")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"comparison": "=="}, "comparison"),
        ({"severity": "dire"}, "severity"),
        ({"threshold": "high"}, "threshold"),
        ({"window": "soon"}, "window"),
        ({"webhook": "ftp://x"}, "webhook"),
        ({"metric": ""}, "metric"),
    ],
)
def test_bad_rules_name_the_field(use_store, kwargs, field):
    arguments = {"metric": "drift.share", "comparison": ">", "threshold": 0.5, **kwargs}
    with pytest.raises(InvalidInput) as caught:
        add_rule("credit-risk", "r", **arguments)
    assert caught.value.field == field


def test_rule_names_are_unique_per_model(use_store):
    add_rule("credit-risk", "r", "drift.share", ">", 0.5)
    with pytest.raises(Conflict):
        add_rule("credit-risk", "r", "drift.share", ">", 0.3)
    add_rule("other-model", "r", "drift.share", ">", 0.5)
    with pytest.raises(InvalidInput) as caught:
        list_alerts(status="open")
    assert caught.value.field == "status"
