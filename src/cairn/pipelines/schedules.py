"""Schedules: a cron expression attached to a pipeline and its parameters.

``Schedules.tick(now)`` submits a job for each schedule that came due since it last fired.
When the scheduler was down across several due times, the latest is run and the earlier ones
are recorded as missed (``cairn schedules list`` shows them), never silently dropped.
Times are UTC. A param whose value is ``FIRE_TIME`` is given, in each job, the time the
schedule fired (ms since the epoch): a pipeline that reads a window of time ends it there, not
whenever a worker gets to the job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from sqlalchemy import func, select, update

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.pipelines.queue import new_job_row
from cairn.store import Store
from cairn.store.schema import jobs, schedule_fires, schedules
from cairn.tracking.validation import check_key

MAX_CATCH_UP = 10_000  # due times looked at per tick, so a years-old schedule cannot hang it
FIRE_TIME = "@fire_time"  # a param value: replaced by the fire time in each job (see above)


@dataclass(frozen=True)
class Schedule:
    id: str
    name: str
    pipeline: str
    cron: str
    params: dict[str, Any]
    team: str
    priority: int
    paused: bool
    last_fire_at: datetime | None
    created_at: datetime
    creator: str
    missed: int = 0

    def next_fire_at(self, after: datetime | None = None) -> datetime:
        start = after or self.last_fire_at or self.created_at
        return croniter(self.cron, start).get_next(datetime)

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        for key in ("last_fire_at", "created_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["next_fire_at"] = None if self.paused else self.next_fire_at().isoformat()
        return data


@dataclass(frozen=True)
class Fire:
    schedule: str
    fire_at: datetime
    status: str  # submitted, missed
    job_id: str | None


class Schedules:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        name: str,
        pipeline: str,
        cron: str,
        params: Mapping[str, Any] | None = None,
        *,
        team: str = "default",
        priority: int = 0,
    ) -> Schedule:
        check_key("schedule name", name)
        if not isinstance(cron, str) or not croniter.is_valid(cron):
            raise InvalidInput.for_field("cron", cron, "a cron expression such as '0 3 * * *'")
        job = new_job_row(
            pipeline, params, team=team, priority=priority
        )  # checks them as a job would
        row = {
            "id": new_id(),
            "name": name,
            "pipeline": pipeline,
            "cron": cron,
            "params": job["params"],
            "team": team,
            "priority": priority,
            "paused": False,
            "last_fire_at": None,
            "created_at": now_ms(),
            "creator": settings().user,
        }
        with self.store.write() as conn:
            if conn.execute(select(schedules.c.id).where(schedules.c.name == name)).first():
                raise Conflict(f"schedule {name!r} exists already", field="name", value=name)
            conn.execute(schedules.insert(), row)
        return self.get(name)

    def get(self, name: str) -> Schedule:
        for schedule in self.list():
            if schedule.name == name or schedule.id == name:
                return schedule
        raise NotFound.for_field("schedule", name)

    def list(self) -> list[Schedule]:
        with self.store.read() as conn:
            missed = dict(
                conn.execute(
                    select(schedule_fires.c.schedule_id, func.count())
                    .where(schedule_fires.c.status == "missed")
                    .group_by(schedule_fires.c.schedule_id)
                ).all()
            )
            rows = conn.execute(select(schedules).order_by(schedules.c.name)).mappings().all()
        return [_schedule(row, missed.get(row["id"], 0)) for row in rows]

    def pause(self, name: str) -> Schedule:
        return self._set_paused(name, True)

    def resume(self, name: str) -> Schedule:
        """Resume; due times that passed while paused are skipped on purpose, not missed."""
        return self._set_paused(name, False)

    def _set_paused(self, name: str, paused: bool) -> Schedule:
        schedule = self.get(name)
        values: dict[str, Any] = {"paused": paused}
        if not paused:
            values["last_fire_at"] = now_ms()
        with self.store.write() as conn:
            conn.execute(update(schedules).where(schedules.c.id == schedule.id).values(**values))
        return self.get(schedule.id)

    def remove(self, name: str) -> None:
        schedule = self.get(name)
        with self.store.write() as conn:
            conn.execute(schedule_fires.delete().where(schedule_fires.c.schedule_id == schedule.id))
            conn.execute(schedules.delete().where(schedules.c.id == schedule.id))

    def fires(self, name: str, limit: int = 50) -> list[Fire]:
        schedule = self.get(name)
        with self.store.read() as conn:
            rows = conn.execute(
                select(schedule_fires)
                .where(schedule_fires.c.schedule_id == schedule.id)
                .order_by(schedule_fires.c.fire_at.desc())
                .limit(limit)
            ).mappings()
            return [
                Fire(schedule.name, from_ms(r["fire_at"]), r["status"], r["job_id"]) for r in rows
            ]

    def tick(self, now: datetime | None = None) -> list[Fire]:
        """Submit what is due at ``now``; record earlier due times since the last tick as missed."""
        now = now or datetime.now(UTC)
        handled: list[Fire] = []
        for schedule in self.list():
            if schedule.paused:
                continue
            due = _due_times(schedule, now)
            if not due:
                continue
            *missed, latest = due
            params = {k: _ms(latest) if v == FIRE_TIME else v for k, v in schedule.params.items()}
            job = new_job_row(
                schedule.pipeline, params, team=schedule.team, priority=schedule.priority
            )
            fires = [Fire(schedule.name, t, "missed", None) for t in missed]
            fires.append(Fire(schedule.name, latest, "submitted", job["id"]))
            previous = None if schedule.last_fire_at is None else _ms(schedule.last_fire_at)
            with self.store.write() as conn:
                # Compare and set: of two schedulers ticking at once, one handles these times.
                claimed = conn.execute(
                    update(schedules)
                    .where(
                        schedules.c.id == schedule.id,
                        schedules.c.last_fire_at.is_(None)
                        if previous is None
                        else schedules.c.last_fire_at == previous,
                    )
                    .values(last_fire_at=_ms(latest))
                ).rowcount
                if not claimed:
                    continue
                conn.execute(jobs.insert(), job)
                conn.execute(
                    schedule_fires.insert(),
                    [
                        {
                            "schedule_id": schedule.id,
                            "fire_at": _ms(f.fire_at),
                            "status": f.status,
                            "job_id": f.job_id,
                            "noted_at": now_ms(),
                            "detail": "the scheduler was not running then"
                            if f.status == "missed"
                            else None,
                        }
                        for f in fires
                    ],
                )
            handled.extend(fires)
        return handled


def _due_times(schedule: Schedule, now: datetime) -> list[datetime]:
    times: list[datetime] = []
    cursor = croniter(schedule.cron, schedule.last_fire_at or schedule.created_at)
    while len(times) < MAX_CATCH_UP:
        nxt = cursor.get_next(datetime)
        if nxt > now:
            break
        times.append(nxt)
    return times


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _schedule(row: Mapping[str, Any], missed: int) -> Schedule:
    return Schedule(
        id=row["id"],
        name=row["name"],
        pipeline=row["pipeline"],
        cron=row["cron"],
        params=json.loads(row["params"]),
        team=row["team"],
        priority=row["priority"],
        paused=bool(row["paused"]),
        last_fire_at=from_ms(row["last_fire_at"]),
        created_at=from_ms(row["created_at"]),
        creator=row["creator"],
        missed=missed,
    )
