"""``cairn monitor`` (references, runs, reports) and ``cairn alerts`` (rules and events)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cairn.cli.output import JSON_HELP, console, fmt_number, fmt_time, print_json, table

if TYPE_CHECKING:
    from cairn.monitoring import AlertEvent

app = typer.Typer(help="Monitor served models: drift, data quality, live performance.")
alerts_app = typer.Typer(help="Alert rules on monitoring metrics, and the alerts they raise.")
AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
_CONDITION_RE = re.compile(r"\s*([\w.\-]+)\s*(>=|<=|>|<)\s*(-?[\d.eE+-]+)\s*")


@app.command("reference")
def reference(
    ref: str = typer.Argument(..., help="The model version: name/3 or name@champion."),
    data: str | None = typer.Option(
        None, "--data", help="A dataset ref (default: the version's training dataset)."
    ),
    sample_rows: int = typer.Option(100_000, "--sample-rows", help="Rows kept at most."),
    as_json: bool = AS_JSON,
) -> None:
    """Store what a model version is monitored against."""
    from cairn.monitoring import set_reference

    stored = set_reference(ref, data, sample_rows=sample_rows)
    if as_json:
        print_json(stored.to_dict())
        return
    console.print(
        f"reference of {stored.model_name}/{stored.model_version}: {stored.rows:,} rows "
        f"from {stored.source}"
    )


@app.command("run")
def run(
    model: str = typer.Argument(..., help="The model name, as the server logs it."),
    window: str = typer.Option("1d", "--window", "-w", help="Span up to now: 30m, 6h, 1d, 2w."),
    last: int | None = typer.Option(None, "--last", help="The last N logged rows instead."),
    reference_ref: str | None = typer.Option(
        None, "--reference", help="Compare with this version's reference."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Check a window of the prediction log; store the results, report and alerts."""
    from cairn.monitoring import run_monitor

    done = run_monitor(model, window=window, last=last, reference=reference_ref)
    if as_json:
        print_json(done.to_dict())
        return
    summary = done.summary
    share = summary["share_drifted"]
    console.print(
        f"{done.model_name}/{done.model_version}: {done.rows:,} rows, status [bold]{done.status}"
        f"[/bold]" + ("" if share is None else f", {share:.0%} of features drifted")
    )
    for label, key in (("drifted", "drifted_features"), ("prediction drift", "prediction_drifted")):
        if summary[key]:
            console.print(f"{label}: {', '.join(summary[key])}")
    for line in summary["problems"] + summary["quality_issues"]:
        console.print(f"[yellow]{line}[/]")
    for name, value in summary["performance"].items():
        console.print(f"{name} {fmt_number(value)}")
    for alert in done.alerts:
        console.print(f"[red]alert {alert.status}[/]: {alert.rule} ({alert.condition})")
    console.print(f"run {done.id}; `cairn monitor report {done.id}` writes its report")


@app.command("schedule")
def schedule(
    model: str = typer.Argument(..., help="The model name, as the server logs it."),
    cron: str = typer.Option(..., "--cron", help="When, in UTC, e.g. '0 * * * *' every hour."),
    window: str = typer.Option("1d", "--window", "-w", help="Span up to each fire: 1h, 1d."),
    last: int | None = typer.Option(None, "--last", help="The last N logged rows instead."),
    name: str | None = typer.Option(None, "--name", help="The schedule's name (monitor-MODEL)."),
    team: str = typer.Option("default", "--team", help="The job queue team its jobs run as."),
    as_json: bool = AS_JSON,
) -> None:
    """Run the monitor on a cron: a schedule that `cairn scheduler` runs, `cairn schedules` lists."""
    from cairn.monitoring import schedule_monitor

    added = schedule_monitor(model, cron, window=window, last=last, name=name, team=team)
    if as_json:
        print_json(added.to_dict())
        return
    span = f"its last {last:,} rows" if last is not None else f"the {window} up to then"
    console.print(
        f"schedule {added.name}: monitor {model} on {span} at '{added.cron}', "
        f"next {fmt_time(added.next_fire_at())}; `cairn scheduler` runs it"
    )


@app.command("runs")
def runs(
    model: str = typer.Argument(..., help="The model name."),
    limit: int = typer.Option(20, "--limit", help="How many, newest first."),
    as_json: bool = AS_JSON,
) -> None:
    """List monitor runs of a model, newest first."""
    from cairn.monitoring import list_runs

    found = list_runs(model, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    t = table("monitor runs", ["id", "window end", "rows", "status", "drifted", "version"])
    for r in found:
        share = r.summary["share_drifted"]
        t.add_row(
            r.id,
            fmt_time(r.window_end)[:16],
            f"{r.rows:,}",
            r.status,
            "" if share is None else f"{share:.0%}",
            str(r.model_version),
        )
    console.print(t)


@app.command("report")
def report(
    run_id: str | None = typer.Argument(None, help="A monitor run id (default: the latest)."),
    model: str | None = typer.Option(None, "--model", help="The latest run of this model."),
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write (default: ./)."),
    as_json: bool = typer.Option(False, "--json", help="The JSON document instead of HTML."),
) -> None:
    """Write the HTML (or JSON) report of a monitor run to a file."""
    from cairn.errors import InvalidInput, NotFound
    from cairn.monitoring import list_runs, report_of

    if run_id is None:
        if model is None:
            raise InvalidInput.for_field("run_id", None, "a monitor run id, or --model NAME")
        latest = list_runs(model, limit=1)
        if not latest:
            raise NotFound.for_field("monitor run of model", model)
        run_id = latest[0].id
    data = report_of(run_id, as_json=as_json)
    path = out or Path(f"monitor-{run_id}.{'json' if as_json else 'html'}")
    path.write_bytes(data)
    console.print(f"wrote {path}")


@alerts_app.command("add")
def add(
    model: str = typer.Argument(..., help="The model name."),
    name: str = typer.Argument(..., help="The rule's name (unique per model)."),
    condition: str = typer.Argument(..., help="When to alert, e.g. 'drift.share > 0.5'."),
    window: str | None = typer.Option(None, "--window", help="Compare the mean over a span."),
    severity: str = typer.Option("warning", "--severity", help="info, warning or critical."),
    webhook: str | None = typer.Option(None, "--webhook", help="URL to POST alerts to."),
    as_json: bool = AS_JSON,
) -> None:
    """Add an alert rule: METRIC (>, >=, <, <=) THRESHOLD."""
    from cairn.errors import InvalidInput
    from cairn.monitoring import add_rule

    match = _CONDITION_RE.fullmatch(condition)
    if match is None:
        raise InvalidInput.for_field("condition", condition, "METRIC > NUMBER (or >=, <, <=)")
    metric, comparison, threshold = match.groups()
    try:
        value = float(threshold)
    except ValueError:
        raise InvalidInput.for_field(
            "condition", condition, "a number after the comparison"
        ) from None
    rule = add_rule(
        model, name, metric, comparison, value, window=window, severity=severity, webhook=webhook
    )
    if as_json:
        print_json(rule.to_dict())
        return
    console.print(f"alert rule {rule.name} on {model}: {rule.describe()} ({rule.severity})")


@alerts_app.command("rules")
def rules(
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    as_json: bool = AS_JSON,
) -> None:
    """List alert rules."""
    from cairn.monitoring import list_rules

    found = list_rules(model)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    t = table("alert rules", ["model", "name", "condition", "severity", "webhook"])
    for r in found:
        t.add_row(r.model_name, r.name, r.describe(), r.severity, r.webhook or "")
    console.print(t)


@alerts_app.command("list")
def list_(
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    status: str | None = typer.Option(None, "--status", help="firing or resolved."),
    as_json: bool = AS_JSON,
) -> None:
    """List alerts, newest first."""
    from cairn.monitoring import list_alerts

    found = list_alerts(model, status=status)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    t = table("alerts", ["id", "model", "rule", "status", "value", "fired", "acked", "delivery"])
    for a in found:
        delivery = _delivery(a)
        t.add_row(
            a.id,
            a.model_name,
            a.rule,
            a.status,
            fmt_number(a.value),
            fmt_time(a.fired_at)[:16],
            a.acked_by or "",
            delivery,
        )
    console.print(t)
    if not found:
        console.print("no alerts", style="dim")


@alerts_app.command("ack")
def ack(alert_id: str = typer.Argument(..., help="The alert's id.")) -> None:
    """Acknowledge an alert: someone is on it."""
    from cairn.monitoring import ack as acknowledge

    done = acknowledge(alert_id)
    console.print(f"acknowledged {done.id} ({done.rule}, {done.status})")


def _delivery(alert: AlertEvent) -> str:
    """How the webhook calls went: the firing notice, then (once resolved) the resolution's."""
    fired = "sent" if alert.delivered_at else (alert.delivery_error or "")
    if alert.status != "resolved":
        return fired
    resolved = "sent" if alert.resolution_delivered_at else (alert.resolution_delivery_error or "")
    return f"{fired}; resolution {resolved}" if fired or resolved else ""
