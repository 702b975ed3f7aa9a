"""``cairn runs``: list, show, compare, search, delete, restore and kill runs."""

from __future__ import annotations

import os
import re
from collections import Counter

import typer

import cairn
from cairn.cli.output import (
    JSON_HELP,
    console,
    fmt_duration,
    fmt_number,
    fmt_status,
    fmt_time,
    print_json,
    table,
)
from cairn.tracking import Client, Run, RunList
from cairn.tracking.environment import host

app = typer.Typer(
    help="Runs: list, show, compare, search, delete, restore, kill.", no_args_is_help=True
)

EXPERIMENT = typer.Option(None, "--experiment", "-e", help="Only runs of this experiment.")
LIMIT = typer.Option(50, "--limit", "-n", help="At most this many runs.")
AS_JSON = typer.Option(False, "--json", help=JSON_HELP)
# Metrics where smaller is better; everything else is taken as larger-is-better in `compare`.
_LOWER_IS_BETTER = re.compile(r"loss|error|rmse|mse|mae|brier|ece|latency|time", re.IGNORECASE)


def process_gone(run: Run) -> bool:
    """True for a run still marked running whose process, on this host, no longer exists."""
    if str(run.status) != "running" or run.host != host() or run.pid is None:
        return False
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by another user
        return False
    return False


def _print_runs(found: RunList, title: str, as_json: bool) -> None:
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    counts = Counter(k for r in found for k in r.metrics)  # the metrics most runs share
    metric_keys = sorted(k for k, _ in counts.most_common(3))
    t = table(title, ["run", "experiment", "name", "status", "started", "duration", *metric_keys])
    t.columns[0].min_width = 12
    t.columns[3].min_width = 8
    for r in found:
        status = fmt_status(str(r.status))
        if process_gone(r):
            status += " [yellow](process gone: cairn runs kill)[/]"
        t.add_row(
            r.id[:12],
            r.experiment,
            r.name or "",
            status,
            fmt_time(r.start_time)[5:16],
            fmt_duration(r.duration_s),
            *(fmt_number(r.metrics.get(k)) for k in metric_keys),
        )
    console.print(t)
    if not found:
        console.print("no runs", style="dim")


@app.command("list")
def list_runs(
    experiment: str = EXPERIMENT,
    status: str = typer.Option(None, "--status", help="running, finished, failed or killed."),
    limit: int = LIMIT,
    deleted: bool = typer.Option(False, "--deleted", help="List deleted runs instead."),
    as_json: bool = AS_JSON,
) -> None:
    """List runs, newest first."""
    found = Client().service.search_runs(
        experiment, status=status, limit=limit, only_deleted=deleted
    )
    _print_runs(found, "deleted runs" if deleted else "runs", as_json)


@app.command("search")
def search(
    filter_text: str = typer.Argument(
        None, metavar="FILTER", help="e.g. \"metrics.auc > 0.8 and params.model = 'rf'\""
    ),
    experiment: str = EXPERIMENT,
    order_by: list[str] = typer.Option(
        None, "--order-by", "-o", help="e.g. 'metrics.auc desc'; repeatable."
    ),
    limit: int = LIMIT,
    as_json: bool = AS_JSON,
) -> None:
    """Search runs with a filter expression."""
    found = Client().search_runs(experiment, filter=filter_text, order_by=order_by, limit=limit)
    _print_runs(found, f"runs matching {filter_text}" if filter_text else "runs", as_json)


@app.command("show")
def show(run_id: str, as_json: bool = AS_JSON) -> None:
    """Show one run: its record, params, metrics, tags, artifacts and environment."""
    client = Client()
    run = client.get_run(run_id)
    artifacts = client.list_artifacts(run.id)
    points = client.service.metric_keys(run.id)
    environment = client.get_environment(run)
    inputs = cairn.data.inputs_of(run.id)
    if as_json:
        data = run.to_dict()
        data["inputs"] = [i.to_dict() for i in inputs]
        data["artifacts"] = [vars(a) for a in artifacts]
        data["metric_points"] = points
        data["environment"] = environment
        print_json(data)
        return
    info = table(f"run {run.id}", ["field", "value"])
    status = fmt_status(str(run.status)) + (" (process gone)" if process_gone(run) else "")
    dirty = " (uncommitted changes)" if run.git_dirty else ""
    for field, value in [
        ("experiment", run.experiment),
        ("name", run.name or ""),
        ("status", status),
        ("started", fmt_time(run.start_time)),
        ("ended", fmt_time(run.end_time)),
        ("duration", fmt_duration(run.duration_s)),
        ("user", run.creator),
        ("parent", run.parent_id or ""),
        ("source", run.source or ""),
        ("git commit", (run.git_commit or "") + dirty),
        ("host / pid", f"{run.host} / {run.pid}"),
        ("python", environment.get("python_version", "")),
        ("packages", str(len(environment.get("packages", {})))),
        ("notes", run.notes or ""),
    ]:
        info.add_row(field, value)
    console.print(info)
    if run.params:
        t = table("params", ["key", "value"])
        for k, v in sorted(run.params.items()):
            t.add_row(k, v)
        console.print(t)
    if run.metrics:
        t = table("metrics", ["key", "last value", "points"])
        for k, v in sorted(run.metrics.items()):
            t.add_row(k, fmt_number(v), str(points.get(k, 0)))
        console.print(t)
    if run.tags:
        t = table("tags", ["key", "value"])
        for k, v in sorted(run.tags.items()):
            t.add_row(k, v)
        console.print(t)
    if inputs:
        t = table("inputs", ["dataset version", "relation", "digest"])
        for i in inputs:
            t.add_row(i.version.ref, i.relation, i.version.digest[:16])
        console.print(t)
    if artifacts:
        t = table("artifacts", ["path", "size", "type", "sha256"])
        for a in artifacts:
            t.add_row(a.path, f"{a.size:,}", a.media_type, a.digest[:16])
        console.print(t)
    if run.error:
        console.print("[bold red]error[/]")
        console.print(run.error, markup=False, highlight=False, soft_wrap=True)


@app.command("compare")
def compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids."), as_json: bool = AS_JSON
) -> None:
    """Compare runs side by side: params that differ, and every metric with the best marked."""
    client = Client()
    found = [client.get_run(r) for r in run_ids]
    param_keys = sorted({k for r in found for k in r.params})
    metric_keys = sorted({k for r in found for k in r.metrics})
    if as_json:
        print_json(
            {
                "runs": [r.id for r in found],
                "params": {k: [r.params.get(k) for r in found] for k in param_keys},
                "metrics": {k: [r.metrics.get(k) for r in found] for k in metric_keys},
            }
        )
        return
    t = table("comparison", ["", *[f"{r.name or ''}\n{r.id[:12]}" for r in found]])
    for key in param_keys:
        values = [r.params.get(key, "") for r in found]
        style = "bold yellow" if len(set(values)) > 1 else "dim"
        t.add_row(f"[{style}]params.{key}[/]", *values)
    t.add_section()
    for key in metric_keys:
        values = [r.metrics.get(key) for r in found]
        present = [v for v in values if v is not None and v == v]
        best = (min if _LOWER_IS_BETTER.search(key) else max)(present) if present else None
        cells = [
            f"[bold green]{fmt_number(v)}[/]"
            if v is not None and v == best and len(present) > 1
            else fmt_number(v)
            for v in values
        ]
        t.add_row(f"metrics.{key}", *cells)
    console.print(t)
    console.print("[dim]params that differ in yellow; best value of each metric in green[/]")


@app.command("delete")
def delete(run_ids: list[str]) -> None:
    """Delete runs (they can be restored)."""
    client = Client()
    for run_id in run_ids:
        client.delete_run(run_id)
        console.print(f"deleted {run_id}")


@app.command("restore")
def restore(run_ids: list[str]) -> None:
    """Restore deleted runs."""
    client = Client()
    for run_id in run_ids:
        client.restore_run(run_id)
        console.print(f"restored {run_id}")


@app.command("kill")
def kill(run_id: str) -> None:
    """Mark a run that is still 'running' but whose process died as killed."""
    run = Client().kill_run(run_id)
    console.print(f"run {run.id} marked {run.status}")
