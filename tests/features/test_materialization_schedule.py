"""Materialization on a cron: a schedule of the built-in materialize pipeline, queued by the
scheduler and run by a real queue worker, writes what arrived since the last fire."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

import cairn.features
import cairn.pipelines
from cairn.errors import InvalidInput, NotFound
from cairn.features import Entity, FeatureView, ParquetSource, schedule_materialization
from cairn.pipelines.queue import JobQueue, JobStatus
from cairn.pipelines.queue_worker import QueueWorker
from cairn.pipelines.resources import Resources
from cairn.pipelines.schedules import Schedules
from cairn.store import open_store

COLUMNS = ["applicant_id", "event_time", "arrived", "income"]


def ago(minutes: float) -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None) - pd.Timedelta(minutes=minutes)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "incomes.parquet"
    rows = [(1, ago(600), ago(600), 50_000.0), (2, ago(300), ago(300), 30_000.0)]
    pd.DataFrame(rows, columns=COLUMNS).to_parquet(path)
    cairn.features.apply(
        FeatureView(
            name="incomes",
            entities=[Entity("applicant", join_keys="applicant_id")],
            source=ParquetSource(path),
            features={"income": "float64"},
            timestamp="event_time",
            created="arrived",
        )
    )
    return path


def run_due(schedules: Schedules, due) -> str:
    """Tick just after ``due`` and run the queued job as the worker does; the job's run id."""
    [fire] = schedules.tick(due + timedelta(seconds=1))
    queue = JobQueue(open_store())
    QueueWorker(queue, Resources(1, 0, 0)).run(poll_s=0.1, until_idle=True, timeout_s=120)
    job = queue.get(fire.job_id)
    assert job.status is JobStatus.FINISHED, job.error
    return job.run_id


def online_incomes() -> list:
    cairn.features.feature_store().close()
    cairn.features._stores.clear()  # the worker wrote from another process: read afresh
    found = cairn.features.get_online_features({"applicant_id": [1, 2]}, ["incomes:income"])
    return found.to_dict()["income"]


def test_each_fire_materializes_what_arrived_since_the_last(source):
    added = schedule_materialization("*/15 * * * *", ["incomes"])
    assert added.name == "materialize-incomes" and added.params == {"views": ["incomes"]}
    schedules = Schedules(open_store())
    first = added.next_fire_at()
    run_id = run_due(schedules, first)
    [done] = cairn.pipelines.get_run(run_id).outputs["write_online"]
    assert (done["view"], done["rows"]) == ("incomes", 2)
    assert online_incomes() == [50_000.0, 30_000.0]

    late = pd.DataFrame([(2, ago(200), ago(0), 31_000.0)], columns=COLUMNS)
    pd.concat([pd.read_parquet(source), late]).to_parquet(source)
    run_id = run_due(schedules, first + timedelta(minutes=15))
    [done] = cairn.pipelines.get_run(run_id).outputs["write_online"]
    assert done["rows"] == 1  # incremental: only the row that arrived since
    assert online_incomes() == [50_000.0, 31_000.0]


@pytest.mark.parametrize(
    ("views", "cron", "error", "field"),
    [
        (["no-such-view"], "0 * * * *", NotFound, "feature view"),
        ("incomes", "0 * * * *", InvalidInput, "views"),
        (["incomes"], "every hour", InvalidInput, "cron"),
    ],
)
def test_bad_materialization_schedules_name_the_field(source, views, cron, error, field):
    with pytest.raises(error) as caught:
        schedule_materialization(cron, views)
    assert caught.value.field == field
    assert Schedules(open_store()).list() == []


def test_nothing_applied_is_refused():
    with pytest.raises(InvalidInput) as caught:
        schedule_materialization("0 * * * *")
    assert caught.value.field == "views"
