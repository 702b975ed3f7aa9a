"""Queued jobs run for real: a worker runs pipelines, kills cancelled ones, the scheduler fires."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sample_pipelines import executions, wait_gone

import cairn
from cairn.pipelines.queue import JobQueue, JobStatus
from cairn.pipelines.queue_worker import QueueWorker
from cairn.pipelines.resources import Resources
from cairn.pipelines.schedules import Schedules
from cairn.store import open_store

pytestmark = pytest.mark.usefixtures("use_store")


def wait_for(predicate, within: float = 60.0, poll: float = 0.2):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def test_worker_runs_a_queued_pipeline_and_records_its_run(tmp_path):
    queue = JobQueue(open_store())
    trail = str(tmp_path / "trail")
    job = queue.submit("sample_pipelines:training", {"n": 50, "trail": trail}, team="risk")
    QueueWorker(queue, Resources(2, 0, 0)).run(poll_s=0.2, until_idle=True, timeout_s=120)
    done = queue.get(job.id)
    assert done.status is JobStatus.FINISHED, done.error
    run = cairn.Client().get_run(done.run_id)
    assert run.status.value == "finished"
    assert run.params["n"] == "50"
    assert {e["step"] for e in executions(trail)} >= {"load", "fit", "score"}


def test_quota_holds_the_second_job_until_the_first_ends(tmp_path):
    queue = JobQueue(open_store())
    queue.set_quota("risk", max_jobs=1)
    trail = str(tmp_path / "trail")
    first = queue.submit("sample_pipelines:two_naps", {"seconds": 0.5, "trail": trail}, team="risk")
    second = queue.submit(
        "sample_pipelines:two_naps", {"seconds": 0.5, "trail": trail}, team="risk"
    )
    worker = QueueWorker(queue, Resources(2, 0, 0))
    assert worker.step() == [first.id]
    assert "quota of 1 concurrent jobs" in queue.get(second.id).wait_reason
    worker.run(poll_s=0.2, until_idle=True, timeout_s=120)
    a, b = queue.get(first.id), queue.get(second.id)
    assert a.status is b.status is JobStatus.FINISHED
    assert b.started_at >= a.ended_at


def test_cancelling_a_running_job_kills_it_and_its_steps(tmp_path):
    queue = JobQueue(open_store())
    trail = str(tmp_path / "trail")
    job = queue.submit("sample_pipelines:two_naps", {"seconds": 60, "trail": trail})
    worker = QueueWorker(queue, Resources(2, 0, 0))
    worker.step()
    assert wait_for(lambda: len(executions(trail)) == 2)  # both steps are sleeping
    pids = [e["pid"] for e in executions(trail)]
    queue.cancel(job.id)
    worker.step()
    assert queue.get(job.id).status is JobStatus.CANCELLED
    assert wait_gone(pids, within=15) == []
    assert not worker.busy


def test_scheduler_once_queues_and_runs_what_is_due(tmp_path):
    schedules = Schedules(open_store())
    trail = str(tmp_path / "trail")
    schedule = schedules.add(
        "nightly", "sample_pipelines:two_naps", "* * * * *", {"seconds": 0.1, "trail": trail}
    )
    fires = schedules.tick(schedule.next_fire_at() + timedelta(minutes=2, seconds=1))
    assert [f.status for f in fires] == ["missed", "missed", "submitted"]
    done = subprocess.run(
        [sys.executable, "-m", "cairn", "jobs", "work", "--until-idle", "--poll", "0.2"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    job = JobQueue(open_store()).get(fires[-1].job_id)
    assert job.status is JobStatus.FINISHED, job.error
    listed = subprocess.run(
        [sys.executable, "-m", "cairn", "schedules", "list", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    import json

    [entry] = json.loads(listed.stdout)
    assert entry["missed"] == 2
