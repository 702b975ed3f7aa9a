"""Schedules: due times submit jobs, missed ones are recorded, pause and bad cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.pipelines.queue import JobQueue
from cairn.pipelines.schedules import FIRE_TIME, Schedules
from cairn.store import open_store

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def schedules() -> Schedules:
    return Schedules(open_store())


def test_due_schedule_submits_one_job_with_its_params(schedules):
    s = schedules.add(
        "nightly", "pkg.mod:training", "0 3 * * *", {"lr": 0.1}, team="risk", priority=2
    )
    assert schedules.tick(s.created_at + timedelta(minutes=1)) == []  # nothing due yet
    due = s.next_fire_at()
    fires = schedules.tick(due + timedelta(seconds=5))
    assert [(f.status, f.fire_at) for f in fires] == [("submitted", due)]
    job = JobQueue(open_store()).get(fires[0].job_id)
    assert (job.pipeline, job.params, job.team, job.priority) == (
        "pkg.mod:training",
        {"lr": 0.1},
        "risk",
        2,
    )
    assert schedules.tick(due + timedelta(seconds=10)) == []  # the same due time is not run twice


def test_a_fire_time_param_is_given_the_time_the_schedule_fired(schedules):
    s = schedules.add("windowed", "m:p", "*/15 * * * *", {"end": FIRE_TIME, "tag": "x"})
    due = s.next_fire_at()
    [fire] = schedules.tick(due + timedelta(minutes=7))  # the job is submitted late
    job = JobQueue(open_store()).get(fire.job_id)
    assert job.params == {"end": int(due.timestamp() * 1000), "tag": "x"}
    assert schedules.get("windowed").params["end"] == FIRE_TIME  # kept for the next fire
    [later] = schedules.tick(due + timedelta(minutes=16))
    assert JobQueue(open_store()).get(later.job_id).params["end"] == int(
        (due + timedelta(minutes=15)).timestamp() * 1000
    )


def test_times_missed_while_down_are_recorded_and_only_the_latest_runs(schedules):
    s = schedules.add("hourly", "m:p", "0 * * * *")
    first = s.next_fire_at()
    fires = schedules.tick(first + timedelta(hours=4, minutes=30))
    assert [f.status for f in fires] == ["missed"] * 4 + ["submitted"]
    assert fires[-1].fire_at == first + timedelta(hours=4)
    assert schedules.get("hourly").missed == 4
    assert len(JobQueue(open_store()).list()) == 1
    assert [f.status for f in schedules.fires("hourly")][:2] == ["submitted", "missed"]


def test_paused_schedule_does_not_fire_and_resume_skips_the_pause(schedules):
    schedules.add("often", "m:p", "* * * * *")
    schedules.pause("often")
    later = datetime.now(UTC) + timedelta(minutes=10)
    assert schedules.tick(later) == []
    resumed = schedules.resume("often")
    assert not resumed.paused
    # Tick just after the first minute boundary following the resume: a fixed offset from
    # now could straddle two boundaries and rightly report one as missed.
    fires = schedules.tick(resumed.next_fire_at() + timedelta(seconds=1))
    assert [f.status for f in fires] == ["submitted"]  # the paused minutes are not "missed"


def test_two_schedulers_ticking_at_once_submit_once(schedules, store_uri):
    s = schedules.add("race", "m:p", "*/5 * * * *")
    other = Schedules(open_store(store_uri))
    when = s.next_fire_at() + timedelta(seconds=1)
    assert len(schedules.tick(when)) + len(other.tick(when)) == 1
    assert len(JobQueue(open_store()).list()) == 1


@pytest.mark.parametrize("cron", ["61 * * * *", "every day", "", "* * *"])
def test_malformed_cron_is_refused_when_added(schedules, cron):
    with pytest.raises(InvalidInput) as caught:
        schedules.add("bad", "m:p", cron)
    assert caught.value.field == "cron" and caught.value.value == cron
    assert schedules.list() == []


def test_duplicate_and_unknown_names(schedules):
    schedules.add("a", "m:p", "0 * * * *")
    with pytest.raises(Conflict):
        schedules.add("a", "m:p", "0 * * * *")
    with pytest.raises(NotFound):
        schedules.pause("nope")
    schedules.remove("a")
    assert schedules.list() == []
