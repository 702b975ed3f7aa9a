"""Monitors on a cron, through the pipeline schedules and job queue rather than a scheduler of
their own: ``schedule_monitor`` adds a schedule of the built-in ``monitor`` pipeline, whose one
step is ``run_monitor``. ``cairn scheduler`` queues and runs it like any pipeline, and
``cairn schedules`` lists, pauses and removes it.
"""

from __future__ import annotations

from typing import Any

from cairn.errors import NotFound
from cairn.monitoring.monitor import run_monitor
from cairn.monitoring.reference import get_reference
from cairn.monitoring.windows import check_last, parse_span
from cairn.pipelines import pipeline, step
from cairn.pipelines.schedules import FIRE_TIME, Schedule, Schedules
from cairn.registry.service import registry_service
from cairn.store import Store, open_store

#: The pipeline a monitor schedule runs.
MONITOR_PIPELINE = "cairn.monitoring.scheduled:monitor"


@step(cache=False)  # a cached result would skip the check: every fire must read the log anew
def check_window(
    model: str, window: str | None, last: int | None, end: int | None
) -> dict[str, Any]:
    """One monitor run; what it found is the step's output, for the pipeline run's record."""
    done = run_monitor(model, window=window, last=last, end=end)
    return {
        "monitor_run": done.id,
        "status": done.status,
        "rows": done.rows,
        "alerts": [f"{alert.rule} {alert.status}" for alert in done.alerts],
    }


@pipeline(name="monitor")
def monitor(
    model: str, window: str | None = "1d", last: int | None = None, end: int | None = None
) -> Any:
    """``run_monitor(model, window=..., last=..., end=...)`` as a pipeline, so a schedule can
    run it; a schedule gives ``end`` its fire time."""
    return check_window(model, window, last, end)


def schedule_monitor(
    model: str,
    cron: str,
    *,
    window: str | None = "1d",
    last: int | None = None,
    name: str | None = None,
    team: str = "default",
    priority: int = 0,
    store: Store | None = None,
) -> Schedule:
    """Run the monitor of ``model`` at every ``cron`` time (UTC) on the window up to that time
    (however late the job runs), or its ``last`` n rows up to then; the schedule is named
    ``monitor-MODEL`` unless ``name`` is given. Checked now, so that a mistake does not wait
    for the first fire: ``model`` needs a reference."""
    store = store or open_store()
    registry_service(store.uri).get_model(model)  # NotFound naming the model
    try:
        get_reference(model, store=store)
    except NotFound:
        raise NotFound(
            f"model {model!r} has no monitoring reference to be checked against: set one first "
            f"(cairn monitor reference {model}/VERSION)",
            field="model",
            value=model,
        ) from None
    if last is not None:
        check_last(last)
        window = None  # run_monitor reads the last rows and ignores a window
    else:
        parse_span(window)  # type: ignore[arg-type] - None is refused, naming window
    params = {"model": model, "window": window, "last": last, "end": FIRE_TIME}
    return Schedules(store).add(
        name or f"monitor-{model}", MONITOR_PIPELINE, cron, params, team=team, priority=priority
    )
