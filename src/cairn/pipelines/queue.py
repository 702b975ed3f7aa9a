"""Shared compute: a job queue with per-team quotas and priorities (maturity Level 2).

Jobs wait in the store. ``JobQueue.dispatch`` starts, in one transaction, every queued job that
fits both its team's quota and the free capacity of the worker asking, highest priority first
(then oldest), and writes on every job left waiting why it waits. A job is never dropped: one
that can never fit says so and waits until the quota is raised or it is cancelled.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select, update

from cairn.core import new_id, now_ms, settings
from cairn.core.timeutil import from_ms
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.pipelines.resources import NOTHING, Resources
from cairn.store import Store
from cairn.store.schema import jobs, quotas
from cairn.tracking.validation import check_key


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"  # asked to stop; its worker kills it
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = (JobStatus.RUNNING.value, JobStatus.CANCELLING.value)
DONE = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Quota:
    """Limits of one team; None means no limit."""

    team: str
    max_jobs: int | None = None
    cpus: float | None = None
    gpus: int | None = None
    memory_mb: int | None = None

    def refusal(self, running: int, used: Resources, wanted: Resources) -> str | None:
        """Why a job needing ``wanted`` cannot start now under this quota, or None."""
        if self.max_jobs is not None and running + 1 > self.max_jobs:
            return f"team {self.team!r} at its quota of {self.max_jobs} concurrent jobs ({running} running)"
        for name, limit, in_use, need in (
            ("cpus", self.cpus, used.cpus, wanted.cpus),
            ("gpus", self.gpus, used.gpus, wanted.gpus),
            ("memory_mb", self.memory_mb, used.memory_mb, wanted.memory_mb),
        ):
            if limit is None or in_use + need <= limit:
                continue
            if need > limit:
                return (
                    f"needs {need:g} {name} but team {self.team!r} may use at most {limit:g} {name}: "
                    "it waits until the quota is raised"
                )
            return (
                f"team {self.team!r} uses {in_use:g} of its {limit:g} {name}; needs {need:g} more"
            )
        return None


@dataclass(frozen=True)
class Job:
    id: str
    team: str
    pipeline: str
    params: dict[str, Any]
    priority: int
    status: JobStatus
    resources: Resources
    submitted_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    creator: str
    run_id: str | None
    wait_reason: str | None
    error: str | None
    host: str | None
    pid: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team": self.team,
            "pipeline": self.pipeline,
            "params": self.params,
            "priority": self.priority,
            "status": str(self.status),
            "cpus": self.resources.cpus,
            "gpus": self.resources.gpus,
            "memory_mb": self.resources.memory_mb,
            "submitted_at": self.submitted_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "creator": self.creator,
            "run_id": self.run_id,
            "wait_reason": self.wait_reason,
            "error": self.error,
        }


class JobQueue:
    """Submitting, dispatching, finishing and cancelling jobs; setting team quotas."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # quotas ----------------------------------------------------------------------------

    def set_quota(
        self,
        team: str,
        *,
        max_jobs: int | None = None,
        cpus: float | None = None,
        gpus: int | None = None,
        memory_mb: int | None = None,
    ) -> Quota:
        check_key("team", team)
        for field, value in (
            ("max_jobs", max_jobs),
            ("cpus", cpus),
            ("gpus", gpus),
            ("memory_mb", memory_mb),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise InvalidInput.for_field(
                    field, value, "a number of 0 or more, or nothing for no limit"
                )
        row = {
            "team": team,
            "max_jobs": max_jobs,
            "cpus": cpus,
            "gpus": gpus,
            "memory_mb": memory_mb,
            "updated_at": now_ms(),
            "updated_by": settings().user,
        }
        with self.store.write() as conn:
            self.store.upsert(conn, quotas, [row], ["team"])
        return Quota(team, max_jobs, cpus, gpus, memory_mb)

    def quotas(self) -> dict[str, Quota]:
        with self.store.read() as conn:
            return _quotas(conn)

    # jobs ------------------------------------------------------------------------------

    def submit(
        self,
        pipeline: str,
        params: Mapping[str, Any] | None = None,
        *,
        team: str = "default",
        priority: int = 0,
        resources: Resources = Resources(),
    ) -> Job:
        """Queue a pipeline run; it starts when a worker has room and the team's quota allows."""
        row = new_job_row(pipeline, params, team=team, priority=priority, resources=resources)
        with self.store.write() as conn:
            conn.execute(jobs.insert(), row)
        return self.get(row["id"])

    def get(self, job_id: str) -> Job:
        with self.store.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
            if row is None and isinstance(job_id, str) and len(job_id) >= 6:
                found = (
                    conn.execute(select(jobs).where(jobs.c.id.like(job_id + "%")).limit(2))
                    .mappings()
                    .all()
                )
                row = found[0] if len(found) == 1 else None
        if row is None:
            raise NotFound.for_field("job", job_id)
        return _job(row)

    def list(
        self, *, status: str | None = None, team: str | None = None, limit: int = 100
    ) -> list[Job]:
        stmt = select(jobs).order_by(jobs.c.seq.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(jobs.c.status == _status(status).value)
        if team is not None:
            stmt = stmt.where(jobs.c.team == team)
        with self.store.read() as conn:
            return [_job(row) for row in conn.execute(stmt).mappings()]

    def cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one is marked for its worker to kill."""
        job = self.get(job_id)
        target = {
            JobStatus.QUEUED: JobStatus.CANCELLED,
            JobStatus.RUNNING: JobStatus.CANCELLING,
        }.get(job.status)
        if target is None:
            raise Conflict(
                f"job {job.id} is {job.status}; it cannot be cancelled",
                field="status",
                value=str(job.status),
            )
        values: dict[str, Any] = {"status": target.value}
        if target is JobStatus.CANCELLED:
            values.update(ended_at=now_ms(), wait_reason=None)
        with self.store.write() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job.id, jobs.c.status == job.status.value)
                .values(**values)
            )
        return self.get(job.id)

    def dispatch(self, free: Resources, *, host: str, pid: int) -> list[Job]:
        """Start the queued jobs that fit ``free`` and their quotas; say why the rest wait."""
        started: list[str] = []
        with self.store.write() as conn:
            limits = _quotas(conn)
            running = conn.execute(
                select(jobs.c.team, jobs.c.cpus, jobs.c.gpus, jobs.c.memory_mb).where(
                    jobs.c.status.in_(ACTIVE)
                )
            ).all()
            count: dict[str, int] = defaultdict(int)
            used: dict[str, Resources] = defaultdict(lambda: NOTHING)
            for team, cpus, gpus, memory in running:
                count[team] += 1
                used[team] = used[team] + Resources(cpus, gpus, memory)
            queued = (
                conn.execute(
                    select(jobs)
                    .where(jobs.c.status == JobStatus.QUEUED.value)
                    .order_by(jobs.c.priority.desc(), jobs.c.seq)
                )
                .mappings()
                .all()
            )
            for row in queued:
                wanted = Resources(row["cpus"], row["gpus"], row["memory_mb"])
                quota = limits.get(row["team"], Quota(row["team"]))
                reason = quota.refusal(count[row["team"]], used[row["team"]], wanted)
                if reason is None and not wanted.fits_in(free):
                    reason = (
                        f"no worker has room: needs {wanted.cpus:g} cpus, {wanted.gpus} gpus, "
                        f"{wanted.memory_mb} MB; free now {max(free.cpus, 0):g} cpus, {free.gpus} gpus"
                    )
                if reason is not None:
                    if reason != row["wait_reason"]:
                        conn.execute(
                            update(jobs).where(jobs.c.id == row["id"]).values(wait_reason=reason)
                        )
                    continue
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row["id"], jobs.c.status == JobStatus.QUEUED.value)
                    .values(
                        status=JobStatus.RUNNING.value,
                        started_at=now_ms(),
                        host=host,
                        pid=pid,
                        wait_reason=None,
                    )
                )
                started.append(row["id"])
                count[row["team"]] += 1
                used[row["team"]] = used[row["team"]] + wanted
                free = free - wanted
        return [self.get(job_id) for job_id in started]

    def record_process(self, job_id: str, pid: int) -> None:
        with self.store.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(pid=pid))

    def finish(
        self,
        job_id: str,
        status: JobStatus | str,
        *,
        run_id: str | None = None,
        error: str | None = None,
    ) -> Job:
        """Record a job's end; a job already ended keeps its first verdict."""
        status = _status(status)
        if status not in DONE:
            raise InvalidInput.for_field("status", str(status), "finished, failed or cancelled")
        values: dict[str, Any] = {"status": status.value, "ended_at": now_ms(), "error": error}
        if run_id is not None:
            values["run_id"] = run_id
        with self.store.write() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(ACTIVE)).values(**values)
            )
        return self.get(job_id)

    def attach_run(self, job_id: str, run_id: str) -> None:
        with self.store.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(run_id=run_id))


def new_job_row(
    pipeline: str,
    params: Mapping[str, Any] | None = None,
    *,
    team: str = "default",
    priority: int = 0,
    resources: Resources = Resources(),
) -> dict[str, Any]:
    """The checked row of a new queued job, for callers that insert it in their own transaction."""
    check_key("team", team)
    if not isinstance(pipeline, str) or ":" not in pipeline:
        raise InvalidInput.for_field("pipeline", pipeline, "a reference module:function")
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidInput.for_field("priority", priority, "an integer (higher runs first)")
    Resources.request(resources.cpus, resources.gpus, resources.memory_mb or None)  # checks it
    try:
        params_json = json.dumps(dict(params or {}), sort_keys=True)
    except TypeError as exc:
        raise InvalidInput(
            f"job params must be JSON values: {exc}", field="params", value=params
        ) from exc
    row = {
        "id": new_id(),
        "team": team,
        "pipeline": pipeline,
        "params": params_json,
        "priority": priority,
        "status": JobStatus.QUEUED.value,
        "cpus": float(resources.cpus),
        "gpus": int(resources.gpus),
        "memory_mb": int(resources.memory_mb),
        "submitted_at": now_ms(),
        "seq": time.time_ns(),
        "creator": settings().user,
        "wait_reason": "waiting for a worker",
    }
    return row


def _quotas(conn: Connection) -> dict[str, Quota]:
    return {
        row["team"]: Quota(row["team"], row["max_jobs"], row["cpus"], row["gpus"], row["memory_mb"])
        for row in conn.execute(select(quotas)).mappings()
    }


def _status(value: JobStatus | str) -> JobStatus:
    try:
        return JobStatus(str(value).lower())
    except ValueError:
        raise InvalidInput.for_field(
            "status", value, ", ".join(s.value for s in JobStatus)
        ) from None


def _job(row: Mapping[str, Any]) -> Job:
    return Job(
        id=row["id"],
        team=row["team"],
        pipeline=row["pipeline"],
        params=json.loads(row["params"]),
        priority=row["priority"],
        status=JobStatus(row["status"]),
        resources=Resources(row["cpus"], row["gpus"], row["memory_mb"]),
        submitted_at=from_ms(row["submitted_at"]),
        started_at=from_ms(row["started_at"]),
        ended_at=from_ms(row["ended_at"]),
        creator=row["creator"],
        run_id=row["run_id"],
        wait_reason=row["wait_reason"],
        error=row["error"],
        host=row["host"],
        pid=row["pid"],
    )
