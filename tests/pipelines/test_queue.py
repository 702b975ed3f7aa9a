"""The job queue: quotas, priorities, capacity, reasons for waiting, cancellation."""

from __future__ import annotations

import pytest

from cairn.errors import Conflict, InvalidInput
from cairn.pipelines.queue import JobQueue, JobStatus
from cairn.pipelines.resources import Resources
from cairn.store import open_store

pytestmark = pytest.mark.usefixtures("use_store")
BIG = Resources(cpus=64, gpus=8, memory_mb=1_000_000)


@pytest.fixture
def queue() -> JobQueue:
    return JobQueue(open_store())


def dispatch(queue: JobQueue, free: Resources = BIG) -> list[str]:
    return [job.id for job in queue.dispatch(free, host="test", pid=1)]


def test_priority_order_then_submission_order(queue):
    low = queue.submit("m:p", team="a", priority=0)
    high = queue.submit("m:p", team="a", priority=5)
    low2 = queue.submit("m:p", team="a", priority=0)
    started = dispatch(queue, Resources(cpus=2, gpus=0, memory_mb=0))
    assert started == [high.id, low.id]
    assert queue.get(low2.id).status is JobStatus.QUEUED
    assert "no worker has room" in queue.get(low2.id).wait_reason


def test_concurrent_job_quota_holds_the_rest_and_says_why(queue):
    queue.set_quota("risk", max_jobs=2)
    ids = [queue.submit("m:p", team="risk").id for _ in range(4)]
    assert dispatch(queue) == ids[:2]
    for job_id in ids[2:]:
        job = queue.get(job_id)
        assert job.status is JobStatus.QUEUED
        assert "quota of 2 concurrent jobs" in job.wait_reason
    queue.finish(ids[0], "finished")
    assert dispatch(queue) == [ids[2]]


def test_one_team_at_quota_does_not_block_another(queue):
    queue.set_quota("risk", max_jobs=1)
    risk = [queue.submit("m:p", team="risk", priority=9).id for _ in range(2)]
    growth = queue.submit("m:p", team="growth", priority=0).id
    assert dispatch(queue) == [risk[0], growth]


def test_cpu_and_gpu_quotas(queue):
    queue.set_quota("vision", cpus=4, gpus=1)
    a = queue.submit("m:p", team="vision", resources=Resources(cpus=3, gpus=1)).id
    b = queue.submit("m:p", team="vision", resources=Resources(cpus=2, gpus=0)).id
    c = queue.submit("m:p", team="vision", resources=Resources(cpus=1, gpus=0)).id
    assert dispatch(queue) == [a, c]
    assert "uses 3 of its 4 cpus; needs 2 more" in queue.get(b).wait_reason


def test_job_bigger_than_its_quota_waits_and_says_so_never_dropped(queue):
    queue.set_quota("small", cpus=2)
    job = queue.submit("m:p", team="small", resources=Resources(cpus=8))
    assert dispatch(queue) == []
    waiting = queue.get(job.id)
    assert waiting.status is JobStatus.QUEUED
    assert "at most 2 cpus" in waiting.wait_reason and "quota is raised" in waiting.wait_reason
    queue.set_quota("small", cpus=8)
    assert dispatch(queue) == [job.id]


def test_cancel_queued_and_running(queue):
    queued = queue.submit("m:p")
    running = queue.submit("m:p")
    dispatch(queue, Resources(cpus=1, gpus=0, memory_mb=0))  # starts the first only
    assert queue.cancel(queued.id).status is JobStatus.CANCELLING  # it was started first
    assert queue.cancel(running.id).status is JobStatus.CANCELLED
    with pytest.raises(Conflict):
        queue.cancel(running.id)
    assert queue.finish(queued.id, "cancelled").status is JobStatus.CANCELLED
    # an ended job keeps its verdict
    assert queue.finish(queued.id, "finished").status is JobStatus.CANCELLED


def test_two_dispatchers_never_start_a_job_twice(queue, store_uri):
    jobs = [queue.submit("m:p").id for _ in range(6)]
    other = JobQueue(open_store(store_uri))
    first = dispatch(queue, Resources(cpus=3, gpus=0, memory_mb=0))
    second = dispatch(other, Resources(cpus=10, gpus=0, memory_mb=0))
    assert sorted(first + second) == sorted(jobs)
    assert not set(first) & set(second)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pipeline": "no_colon"}, "pipeline"),
        ({"pipeline": "m:p", "priority": "high"}, "priority"),
        ({"pipeline": "m:p", "team": "bad team!"}, "team"),
        ({"pipeline": "m:p", "resources": Resources(cpus=0)}, "cpus"),
        ({"pipeline": "m:p", "params": {"x": object()}}, "params"),
    ],
)
def test_bad_submissions_name_the_field(queue, kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        queue.submit(**kwargs)
    assert caught.value.field == field
    assert queue.list() == []


def test_bad_quota_names_the_field(queue):
    with pytest.raises(InvalidInput) as caught:
        queue.set_quota("risk", cpus=-1)
    assert caught.value.field == "cpus"
