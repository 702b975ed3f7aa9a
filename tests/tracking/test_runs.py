"""Experiment tracking through the SDK, on every metadata store backend."""

from __future__ import annotations

import math
import platform

import numpy as np
import pytest

import cairn
from cairn.errors import Conflict, FilterSyntaxError, InvalidInput, NotFound
from cairn.tracking import RunStatus
from cairn.tracking import buffer as metric_buffer

pytestmark = pytest.mark.usefixtures("use_store")


def test_run_records_params_metrics_tags_notes_and_capture():
    with cairn.start_run(
        experiment="credit", name="lr", params={"C": 0.5, "model": "logreg"}
    ) as run:
        run.log_params({"penalty": "l2"})
        run.set_tags({"team": "risk"})
        run.set_notes("baseline")
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metrics({"auc": 0.81, "f1": 0.6})
    stored = cairn.Client().get_run(run.id)
    assert stored.status is RunStatus.FINISHED
    assert stored.end_time is not None and stored.end_time >= stored.start_time
    assert stored.params == {"C": "0.5", "model": "logreg", "penalty": "l2"}
    assert stored.tags == {"team": "risk"}
    assert stored.notes == "baseline"
    assert stored.metrics == {"loss": 0.2, "auc": 0.81, "f1": 0.6}
    assert stored.experiment == "credit" and stored.name == "lr"
    environment = cairn.Client().get_environment(stored)
    assert environment["python_version"] == platform.python_version()
    assert "sqlalchemy" in environment["packages"]
    assert stored.pid is not None and stored.host


def test_exception_fails_run_with_traceback_and_reraises():
    with pytest.raises(ZeroDivisionError), cairn.start_run(experiment="credit") as run:
        run.log_metric("before", 1.0)
        1 / 0  # noqa: B018
    stored = cairn.Client().get_run(run.id)
    assert stored.status is RunStatus.FAILED
    assert "ZeroDivisionError" in stored.error
    assert stored.metrics == {"before": 1.0}  # buffered points were flushed despite the failure


def test_param_relogged_with_other_value_raises_and_same_value_is_fine():
    with cairn.start_run(experiment="credit", params={"lr": 0.1}) as run:
        run.log_param("lr", 0.1)
        with pytest.raises(Conflict) as caught:
            run.log_param("lr", 0.2)
        assert (
            "'lr'" in str(caught.value)
            and "0.1" in str(caught.value)
            and "0.2" in str(caught.value)
        )
        assert caught.value.field == "params.lr"
    assert cairn.Client().get_run(run.id).params == {"lr": "0.1"}


@pytest.mark.parametrize("bad", ["0.9", None, [1.0], True, 1 + 2j])
def test_non_numeric_metric_value_is_refused_naming_key_and_value(bad):
    with cairn.start_run(experiment="credit") as run, pytest.raises(InvalidInput) as caught:
        run.log_metric("auc", bad)
    assert "auc" in str(caught.value) and repr(bad) in str(caught.value)


@pytest.mark.parametrize("key", ["", "a" * 300, "bad\nkey", "semi;colon", 42])
def test_bad_metric_key_is_refused(key):
    with cairn.start_run(experiment="credit") as run, pytest.raises(InvalidInput) as caught:
        run.log_metric(key, 1.0)
    assert caught.value.value == key


def test_nan_and_infinity_are_stored_as_such():
    with cairn.start_run(experiment="credit") as run:
        run.log_metric("x", float("nan"), step=0)
        run.log_metric("x", float("inf"), step=1)
        run.log_metric("x", float("-inf"), step=2)
        run.log_metric("y", np.float32("nan"))
    history = cairn.Client().get_metric_history(run.id, "x")
    assert math.isnan(history[0].value)
    assert history[1].value == math.inf and history[2].value == -math.inf
    assert math.isnan(cairn.Client().get_run(run.id).metrics["y"])


def test_steps_default_to_the_next_step_of_each_key():
    with cairn.start_run(experiment="credit") as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.5)
    history = cairn.Client().get_metric_history(run.id, "loss")
    assert list(history.steps) == [0, 1, 2]
    assert list(history.values) == [3.0, 2.0, 1.0]
    assert len(cairn.Client().get_metric_history(run.id, "acc")) == 1


def test_latest_metric_is_the_highest_step_not_the_last_logged():
    with cairn.start_run(experiment="credit") as run:
        run.log_metric("loss", 0.1, step=10)
        run.log_metric("loss", 0.9, step=2)  # a late point for an earlier step
    assert cairn.Client().get_run(run.id).metrics["loss"] == 0.1


def test_many_points_cross_the_buffer_and_all_arrive():
    n = metric_buffer.FLUSH_POINTS * 2 + 123
    with cairn.start_run(experiment="credit") as run:
        for step in range(n):
            run.log_metric("loss", step * 0.5, step=step)
    history = cairn.Client().get_metric_history(run.id, "loss")
    assert len(history) == n
    assert history.values[-1] == (n - 1) * 0.5
    frame = history.to_pandas()
    assert list(frame.columns) == ["step", "value", "timestamp"] and len(frame) == n


def test_background_thread_flushes_without_the_run_ending(monkeypatch):
    monkeypatch.setattr(metric_buffer, "FLUSH_INTERVAL_S", 0.1)
    import time

    run = cairn.start_run(experiment="credit")
    time.sleep(1.2)  # let the flusher pick up the new interval
    run.log_metric("loss", 0.5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not len(
        cairn.Client().get_metric_history(run.id, "loss")
    ):
        time.sleep(0.05)
    assert len(cairn.Client().get_metric_history(run.id, "loss")) == 1
    assert cairn.Client().get_run(run.id).status is RunStatus.RUNNING
    run.end()


def test_nested_runs_become_children_of_the_active_run():
    with cairn.start_run(experiment="credit", name="parent") as parent:
        with cairn.start_run(name="child") as child:
            cairn.log_metric("fold_auc", 0.8)
            assert cairn.active_run() is child
        assert cairn.active_run() is parent
    assert cairn.active_run() is None
    stored = cairn.Client().get_run(child.id)
    assert stored.parent_id == parent.id
    assert stored.experiment == "credit"  # inherited from the parent
    assert stored.metrics == {"fold_auc": 0.8}


def test_module_shortcuts_need_an_active_run():
    with pytest.raises(cairn.tracking.NoActiveRun):
        cairn.log_metric("x", 1.0)


def test_unknown_ids_and_experiments_raise_not_found():
    client = cairn.Client()
    with pytest.raises(NotFound) as caught:
        client.get_run("0123456789abcdef0123456789abcdef")
    assert caught.value.value == "0123456789abcdef0123456789abcdef"
    with pytest.raises(NotFound):
        client.search_runs("no-such-experiment")
    with pytest.raises(NotFound):
        client.get_metric_history("ffffffffffff", "loss")


def test_run_found_by_unique_prefix():
    with cairn.start_run(experiment="credit") as run:
        pass
    assert cairn.Client().get_run(run.id[:12]).id == run.id


def _populate(n=12):
    ids = []
    for i in range(n):
        model = ["rf", "gbm", "logreg"][i % 3]
        with cairn.start_run(
            experiment="credit", name=f"run{i}", params={"model": model, "depth": i}
        ) as run:
            run.log_metric("auc", 0.70 + i * 0.01)
            run.set_tags({"team": "risk" if i % 2 else "growth"})
        ids.append(run.id)
    return ids


def test_search_filters_orders_and_limits():
    ids = _populate()
    client = cairn.Client()
    found = client.search_runs(
        "credit",
        filter="metrics.auc > 0.745 and params.model = 'rf' and tags.team = 'risk'",
        order_by=["metrics.auc desc"],
    )
    # rf runs are i = 0, 3, 6, 9; risk = odd i; auc > 0.745 means i >= 5: only run9
    assert [r.id for r in found] == [ids[9]]
    top3 = client.search_runs("credit", order_by="metrics.auc desc", limit=3)
    assert [r.id for r in top3] == [ids[11], ids[10], ids[9]]
    frame = top3.to_pandas()
    assert list(frame["metrics.auc"].round(2)) == [0.81, 0.8, 0.79]
    assert set(frame["params.model"]) <= {"rf", "gbm", "logreg"}


def test_malformed_filter_points_at_the_token():
    _populate(1)
    with pytest.raises(FilterSyntaxError) as caught:
        cairn.Client().search_runs(filter="metrics.auc >> 0.9")
    assert "^" in str(caught.value)


def test_delete_hides_a_run_and_restore_brings_it_back():
    ids = _populate(3)
    client = cairn.Client()
    client.delete_run(ids[1])
    assert ids[1] not in [r.id for r in client.search_runs("credit")]
    assert ids[1] in [r.id for r in client.search_runs("credit", include_deleted=True)]
    assert client.get_run(ids[1]).deleted
    client.restore_run(ids[1])
    assert ids[1] in [r.id for r in client.search_runs("credit")]


def test_kill_only_a_running_run():
    run = cairn.start_run(experiment="credit")
    client = cairn.Client()
    assert client.kill_run(run.id).status is RunStatus.KILLED
    with pytest.raises(Conflict):
        client.kill_run(run.id)
    run.end()  # the process ending normally later does not overwrite the verdict
    assert client.get_run(run.id).status is RunStatus.KILLED


def test_log_batch_writes_every_point_and_checks_values():
    with cairn.start_run(experiment="credit") as run:
        pass
    client = cairn.Client()
    client.log_batch(
        run.id, metrics=[("loss", 1.0 / (s + 1), s, 1_700_000_000_000 + s) for s in range(5000)]
    )
    assert len(client.get_metric_history(run.id, "loss")) == 5000
    with pytest.raises(InvalidInput):
        client.log_batch(run.id, metrics=[("loss", "high", 1, 0)])
    assert len(client.get_metric_history(run.id, "loss")) == 5000  # the bad batch wrote nothing


def test_attached_run_is_active_for_the_block_and_left_open_for_its_owner():
    service = cairn.tracking.tracking_service()
    owned = service.create_run("credit", name="owned elsewhere")
    with cairn.tracking.attached_run(owned, service) as run:
        assert cairn.active_run() is run
        cairn.log_metric("loss", 0.5)
    assert cairn.active_run() is None
    stored = cairn.Client().get_run(owned.id)
    assert stored.metrics == {"loss": 0.5}  # written when the block left
    assert stored.status is RunStatus.RUNNING  # the owner ends it, not the block
    from cairn.tracking.run import _open_runs

    assert owned.id not in _open_runs  # nor the exit handler of this process
