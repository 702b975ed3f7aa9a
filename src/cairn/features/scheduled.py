"""Materialization on a cron, through the pipeline schedules and job queue (as monitors are):
``schedule_materialization`` adds a schedule of the built-in ``materialize`` pipeline, whose one
step materializes the views incrementally from their watermarks. ``cairn scheduler`` queues and
runs it like any pipeline, and ``cairn schedules`` lists, pauses and removes it.
"""

from __future__ import annotations

from typing import Any

from cairn.errors import InvalidInput
from cairn.pipelines import pipeline, step
from cairn.pipelines.schedules import Schedule, Schedules
from cairn.store import Store, open_store

#: The pipeline a materialization schedule runs.
MATERIALIZE_PIPELINE = "cairn.features.scheduled:materialize_views"


@step(cache=False)  # a cached result would skip the write: every fire must read new rows
def write_online(views: list[str] | None) -> list[dict[str, Any]]:
    """Materialize ``views`` (all when None) from their watermarks up to now."""
    from cairn.features import materialize

    return [done.to_dict() for done in materialize(views)]


@pipeline(name="materialize")
def materialize_views(views: list[str] | None = None) -> Any:
    """``cairn.features.materialize(views)`` as a pipeline, so a schedule can run it."""
    return write_online(views)


def schedule_materialization(
    cron: str,
    views: list[str] | None = None,
    *,
    name: str | None = None,
    team: str = "default",
    priority: int = 0,
    store: Store | None = None,
) -> Schedule:
    """Materialize ``views`` (all applied views when None) at every ``cron`` time (UTC); the
    schedule is named ``materialize`` or ``materialize-VIEW-...`` unless ``name`` is given.
    The views are checked now, so that a mistake does not wait for the first fire."""
    from cairn.features import feature_store

    if views is not None and (
        isinstance(views, str) or not all(isinstance(v, str) and v for v in views)
    ):
        raise InvalidInput.for_field("views", views, "a list of view names (or nothing: all)")
    store_of_features = feature_store()
    if not views and not store_of_features.list("feature_view"):
        raise InvalidInput.for_field("views", views, "applied feature views: none is applied")
    store_of_features.applied_views(list(views) if views else None)  # names a bad one
    default = "materialize" + "".join(f"-{v.split(':')[0]}" for v in views or [])
    return Schedules(store or open_store()).add(
        name or default,
        MATERIALIZE_PIPELINE,
        cron,
        {"views": list(views) if views else None},
        team=team,
        priority=priority,
    )
