"""``cairn schedules`` and ``cairn scheduler``: pipelines on a cron, with missed times reported."""

from __future__ import annotations

import time

import typer

from cairn.cli.output import JSON_HELP, console, err_console, fmt_time, print_json, table
from cairn.cli.pipelines import parse_params
from cairn.pipelines.queue import JobQueue
from cairn.pipelines.queue_worker import QueueWorker
from cairn.pipelines.schedules import Schedules
from cairn.store import open_store

app = typer.Typer(help="Schedules: add, list, pause, resume, remove.", no_args_is_help=True)
AS_JSON = typer.Option(False, "--json", help=JSON_HELP)


def _schedules() -> Schedules:
    return Schedules(open_store())


@app.command("add")
def add(
    name: str,
    ref: str = typer.Argument(..., help="The pipeline, as module:function."),
    cron: str = typer.Option(..., help="When, in UTC, e.g. '0 3 * * *' for 03:00 every day."),
    param: list[str] = typer.Option(None, "--param", "-p", help="key=value; repeatable."),
    team: str = typer.Option("default"),
    priority: int = typer.Option(0),
) -> None:
    """Attach a cron expression to a pipeline and its parameters."""
    s = _schedules().add(name, ref, cron, parse_params(param), team=team, priority=priority)
    console.print(
        f"schedule {s.name}: {s.pipeline} at '{s.cron}', next {fmt_time(s.next_fire_at())}"
    )


@app.command("list")
def list_schedules(as_json: bool = AS_JSON) -> None:
    """List schedules, when each fires next and how many due times were missed."""
    found = _schedules().list()
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    t = table("schedules", ["name", "pipeline", "cron", "state", "last fired", "next", "missed"])
    for s in found:
        t.add_row(
            s.name,
            s.pipeline,
            s.cron,
            "paused" if s.paused else "active",
            fmt_time(s.last_fire_at),
            "" if s.paused else fmt_time(s.next_fire_at()),
            f"[yellow]{s.missed}[/]" if s.missed else "0",
        )
    console.print(t)


@app.command("pause")
def pause(name: str) -> None:
    """Stop a schedule from firing."""
    _schedules().pause(name)
    console.print(f"paused {name}")


@app.command("resume")
def resume(name: str) -> None:
    """Fire again from now on (times passed while paused are skipped)."""
    _schedules().resume(name)
    console.print(f"resumed {name}")


@app.command("remove")
def remove(name: str) -> None:
    """Delete a schedule and its history."""
    _schedules().remove(name)
    console.print(f"removed {name}")


def scheduler(
    interval: float = typer.Option(30.0, help="Seconds between looks at the schedules."),
    once: bool = typer.Option(False, "--once", help="Handle what is due now, then stop."),
    work: bool = typer.Option(True, "--work/--no-work", help="Also run the jobs it queues."),
) -> None:
    """Run what is due: queue a job per due schedule, report missed times, run the jobs."""
    schedules = _schedules()
    worker = QueueWorker(JobQueue(schedules.store)) if work else None
    try:
        while True:
            for fire in schedules.tick():
                if fire.status == "missed":
                    err_console.print(
                        f"[yellow]missed[/] {fire.schedule} at {fmt_time(fire.fire_at)}: the scheduler was not running"
                    )
                else:
                    console.print(
                        f"{fire.schedule}: due {fmt_time(fire.fire_at)}, queued job {fire.job_id[:12]}"
                    )
            if worker is not None:
                worker.step()
            if once:
                if worker is not None:
                    worker.run(poll_s=0.5, until_idle=True)
                return
            time.sleep(interval)
    finally:
        if worker is not None:
            worker.stop()
