"""`cairn monitor` and `cairn alerts`, driven as a user drives them."""

from __future__ import annotations

import json

import pytest
from monitoring_harness import log_traffic
from typer.testing import CliRunner

from cairn.cli import app
from cairn.core import now_ms
from cairn.datasets import make_credit_applications
from cairn.errors import InvalidInput
from cairn.pipelines.schedules import FIRE_TIME

runner = CliRunner()


def cli(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_monitor_and_alerts_from_the_command_line(credit_model, tmp_path):
    assert "4,000 rows from credit-train@1" in cli("monitor", "reference", "credit-risk/1")
    cli("alerts", "add", "credit-risk", "drifting", "drift.share >= 0.5", "--severity", "critical")
    rules = json.loads(cli("alerts", "rules", "--json"))
    assert rules[0]["metric"] == "drift.share" and rules[0]["comparison"] == ">="
    log_traffic(credit_model, make_credit_applications(1500, seed=9, drift=1.0), end=now_ms())

    output = cli("monitor", "run", "credit-risk", "--window", "1d")
    assert "status drift" in output and "alert firing: drifting" in output
    assert "interest_rate" in output

    [alert] = json.loads(cli("alerts", "list", "--status", "firing", "--json"))
    assert alert["rule"] == "drifting" and alert["acked_at"] is None
    assert f"acknowledged {alert['id']}" in cli("alerts", "ack", alert["id"])
    assert "alerts" in cli("alerts", "list")

    [listed] = json.loads(cli("monitor", "runs", "credit-risk", "--json"))
    assert listed["status"] == "drift" and listed["rows"] == 1500
    out = tmp_path / "report.html"
    cli("monitor", "report", "--model", "credit-risk", "--out", str(out))
    assert "<img src='data:image/png;base64," in out.read_text()
    cli("monitor", "report", listed["id"], "--json", "--out", str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "drift"


def test_a_bad_condition_names_the_field(use_store):
    with pytest.raises(InvalidInput) as caught:
        runner.invoke(
            app, ["alerts", "add", "m", "r", "drift.share about 3"], catch_exceptions=False
        )
    assert caught.value.field == "condition"


def test_a_monitor_schedule_from_the_command_line(credit_model):
    cli("monitor", "reference", "credit-risk/1")
    added = cli("monitor", "schedule", "credit-risk", "--cron", "0 * * * *", "--window", "1h")
    assert "schedule monitor-credit-risk: monitor credit-risk on the 1h up to then" in added
    cli(
        "monitor",
        "schedule",
        "credit-risk",
        "--cron",
        "*/10 * * * *",
        "--last",
        "500",
        "--name",
        "m",
    )
    listed = {s["name"]: s for s in json.loads(cli("schedules", "list", "--json"))}
    assert listed["monitor-credit-risk"]["pipeline"] == "cairn.monitoring.scheduled:monitor"
    assert listed["monitor-credit-risk"]["params"]["window"] == "1h"
    assert listed["m"]["params"] == {
        "model": "credit-risk",
        "window": None,
        "last": 500,
        "end": FIRE_TIME,  # each job's window ends when its schedule fired
    }
    cli("schedules", "pause", "monitor-credit-risk")
    cli("schedules", "remove", "m")
    [left] = json.loads(cli("schedules", "list", "--json"))
    assert left["name"] == "monitor-credit-risk" and left["paused"]
    with pytest.raises(InvalidInput) as caught:
        runner.invoke(
            app,
            ["monitor", "schedule", "credit-risk", "--cron", "hourly"],
            catch_exceptions=False,
        )
    assert caught.value.field == "cron"
