"""``cairn jobs`` and ``cairn quotas``: the shared job queue and the teams' limits."""

from __future__ import annotations

import typer

from cairn.cli.output import JSON_HELP, console, fmt_status, fmt_time, print_json, table
from cairn.cli.pipelines import parse_params
from cairn.pipelines.queue import JobQueue, Quota
from cairn.pipelines.queue_worker import QueueWorker
from cairn.pipelines.resources import Resources
from cairn.store import open_store

app = typer.Typer(
    help="The shared job queue: submit, list, show, cancel, work.", no_args_is_help=True
)
quotas_app = typer.Typer(
    help="Team quotas: concurrent jobs, cpus, gpus, memory.", no_args_is_help=True
)
AS_JSON = typer.Option(False, "--json", help=JSON_HELP)


def _queue() -> JobQueue:
    return JobQueue(open_store())


@app.command("submit")
def submit(
    ref: str = typer.Argument(..., help="The pipeline, as module:function."),
    param: list[str] = typer.Option(None, "--param", "-p", help="key=value; repeatable."),
    team: str = typer.Option("default", help="The team whose quota the job counts against."),
    priority: int = typer.Option(0, help="Higher starts first."),
    cpus: float = typer.Option(1.0),
    gpus: int = typer.Option(0),
    memory_mb: int = typer.Option(0, "--memory-mb"),
    as_json: bool = AS_JSON,
) -> None:
    """Queue a pipeline run."""
    job = _queue().submit(
        ref,
        parse_params(param),
        team=team,
        priority=priority,
        resources=Resources(cpus, gpus, memory_mb),
    )
    if as_json:
        print_json(job.to_dict())
    else:
        console.print(f"queued job {job.id[:12]} ({ref}) for team {team}, priority {priority}")


@app.command("list")
def list_jobs(
    status: str = typer.Option(None, help="queued, running, finished, failed, cancelled."),
    team: str = typer.Option(None),
    limit: int = typer.Option(50, "--limit", "-n"),
    as_json: bool = AS_JSON,
) -> None:
    """List jobs, newest first, with why each waiting job waits."""
    found = _queue().list(status=status, team=team, limit=limit)
    if as_json:
        print_json([j.to_dict() for j in found])
        return
    t = table(
        "jobs",
        ["job", "team", "pipeline", "prio", "status", "submitted", "run", "waiting because"],
        wrap=("waiting because",),
    )
    for j in found:
        t.add_row(
            j.id[:12],
            j.team,
            j.pipeline,
            str(j.priority),
            fmt_status(str(j.status)),
            fmt_time(j.submitted_at)[5:],
            (j.run_id or "")[:12],
            j.wait_reason or "",
        )
    console.print(t)


@app.command("show")
def show(job_id: str, as_json: bool = AS_JSON) -> None:
    """Show one job."""
    job = _queue().get(job_id)
    if as_json:
        print_json(job.to_dict())
        return
    t = table(f"job {job.id}", ["field", "value"], wrap=("value",))
    for key, value in job.to_dict().items():
        t.add_row(key, "" if value is None else str(value))
    console.print(t)


@app.command("cancel")
def cancel(job_id: str) -> None:
    """Cancel a job: a queued one at once, a running one is killed by its worker."""
    job = _queue().cancel(job_id)
    console.print(f"job {job.id[:12]} {job.status}")


@app.command("work")
def work(
    until_idle: bool = typer.Option(
        False, "--until-idle", help="Stop when nothing runs or can start."
    ),
    poll: float = typer.Option(1.0, help="Seconds between looks at the queue."),
    cpus: float = typer.Option(None, help="Capacity to offer (default: this machine's cpus)."),
) -> None:
    """Run queued jobs on this machine, within its capacity and the teams' quotas."""
    worker = QueueWorker(_queue())
    if cpus is not None:
        worker.capacity = Resources(cpus, worker.capacity.gpus, worker.capacity.memory_mb)
    console.print(f"worker offering {worker.capacity.cpus:g} cpus; Ctrl-C to stop")
    worker.run(poll, until_idle=until_idle)


@quotas_app.command("set")
def set_quota(
    team: str,
    max_jobs: int = typer.Option(None, "--max-jobs", help="Concurrent jobs."),
    cpus: float = typer.Option(None),
    gpus: int = typer.Option(None),
    memory_mb: int = typer.Option(None, "--memory-mb"),
) -> None:
    """Set a team's limits (an option left out means no limit)."""
    quota = _queue().set_quota(team, max_jobs=max_jobs, cpus=cpus, gpus=gpus, memory_mb=memory_mb)
    console.print(f"quota of {team}: {_describe(quota)}")


@quotas_app.command("show")
def show_quotas(as_json: bool = AS_JSON) -> None:
    """Show every team's limits."""
    found = _queue().quotas()
    if as_json:
        print_json({team: vars(q) for team, q in found.items()})
        return
    t = table("quotas", ["team", "limits"])
    for team, quota in sorted(found.items()):
        t.add_row(team, _describe(quota))
    console.print(t)


def _describe(quota: Quota) -> str:
    parts = [
        f"{value:g} {name}"
        for name, value in (
            ("jobs", quota.max_jobs),
            ("cpus", quota.cpus),
            ("gpus", quota.gpus),
            ("MB", quota.memory_mb),
        )
        if value is not None
    ]
    return ", ".join(parts) or "no limits"
