"""Monitors on a cron: a schedule of the built-in monitor pipeline, queued by the scheduler and
run by a real queue worker, stores a monitor run and raises the alerts of the model's rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitoring_harness import log_traffic

import cairn.pipelines
from cairn.core import now_ms
from cairn.datasets import make_credit_applications
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.monitoring import add_rule, list_alerts, list_runs, schedule_monitor, set_reference
from cairn.pipelines.queue import JobQueue, JobStatus
from cairn.pipelines.queue_worker import QueueWorker
from cairn.pipelines.resources import Resources
from cairn.pipelines.schedules import FIRE_TIME, Schedules
from cairn.store import open_store


@pytest.mark.slow  # two jobs, each in a process of its own with a step process: ~10 s a backend
def test_each_fire_of_a_monitor_schedule_runs_the_monitor(credit_model, receiver):
    set_reference("credit-risk/1")
    add_rule("credit-risk", "drifting", "drift.share", ">=", 0.5, webhook=receiver.url)
    log_traffic(credit_model, make_credit_applications(800, seed=5, drift=1.0), end=now_ms())
    added = schedule_monitor("credit-risk", "0 * * * *", window="1d")
    schedules = Schedules(open_store())
    assert schedules.list() == [added] and added.name == "monitor-credit-risk"

    queue = JobQueue(open_store())
    first = added.next_fire_at()
    # Two fires, run one after the other: the second would be a cache hit if the step cached.
    for due in (first, first + timedelta(hours=1)):
        [fire] = schedules.tick(due + timedelta(seconds=1))
        assert fire.status == "submitted"
        QueueWorker(queue, Resources(1, 0, 0)).run(poll_s=0.1, until_idle=True, timeout_s=120)
        job = queue.get(fire.job_id)
        assert job.status is JobStatus.FINISHED, job.error

    runs = list_runs("credit-risk")
    assert [(r.status, r.rows) for r in runs] == [("drift", 800)] * 2
    # each window ends when its schedule fired, not when the job ran (newest first)
    assert [r.window_end for r in runs] == [first + timedelta(hours=1), first]
    [alert] = list_alerts("credit-risk")  # one episode, however many fires see it
    assert alert.status == "firing" and alert.run_id == runs[-1].id
    assert [body["alert"]["id"] for body in receiver.received] == [alert.id]
    output = cairn.pipelines.get_run(job.run_id).outputs["check_window"]
    assert output["monitor_run"] == runs[0].id and output["status"] == "drift"


@pytest.mark.parametrize(
    ("model", "options", "error", "field"),
    [
        ("no-such-model", {}, NotFound, "model"),
        ("credit-risk", {"cron": "every hour"}, InvalidInput, "cron"),
        ("credit-risk", {"window": "a while"}, InvalidInput, "window"),
        ("credit-risk", {"window": None}, InvalidInput, "window"),
        ("credit-risk", {"last": 0}, InvalidInput, "last"),
    ],
)
def test_bad_monitor_schedules_name_the_field(credit_model, model, options, error, field):
    set_reference("credit-risk/1")
    arguments = {"cron": "0 * * * *", **options}
    with pytest.raises(error) as caught:
        schedule_monitor(model, arguments.pop("cron"), **arguments)
    assert caught.value.field == field
    assert Schedules(open_store()).list() == []


def test_a_model_without_a_reference_and_a_taken_name_are_refused(credit_model):
    with pytest.raises(NotFound, match="cairn monitor reference credit-risk/VERSION"):
        schedule_monitor("credit-risk", "0 * * * *")
    set_reference("credit-risk/1")
    schedule_monitor("credit-risk", "0 * * * *", last=500)
    with pytest.raises(Conflict):
        schedule_monitor("credit-risk", "30 * * * *")
    added = schedule_monitor("credit-risk", "30 * * * *", name="half-past")
    assert added.params == {"model": "credit-risk", "window": "1d", "last": None, "end": FIRE_TIME}
