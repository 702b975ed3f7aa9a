"""When steps fail, hang or are interrupted: retries, timeouts, cancellation, resume."""

from __future__ import annotations

import _thread
import threading
import time
from pathlib import Path

import pytest
import sample_pipelines as sp

import cairn
from cairn.errors import Conflict, InvalidInput
from cairn.pipelines import resume, run
from cairn.pipelines.executors.local import LocalExecutor
from cairn.tracking import RunStatus

pytestmark = pytest.mark.usefixtures("use_store")


@pytest.fixture
def trail(tmp_path) -> str:
    return str(tmp_path / "trail")


def test_a_failing_step_fails_the_run_with_its_traceback_and_kills_its_sibling(trail):
    started = time.monotonic()
    result = sp.failing.run(params={"trail": trail})
    elapsed = time.monotonic() - started

    assert result.status is RunStatus.FAILED
    assert "step 'boom' failed" in result.error
    assert 'raise ValueError("boom: the data is bad")' in result.error  # the step's own frame
    assert elapsed < 10, "the 30 s sibling was waited for"
    steps = {s.node: s for s in result.steps}
    assert steps["boom"].status == "failed" and "ValueError" in steps["boom"].error
    assert steps["slow_sibling"].status == "killed"
    assert "step 'boom' failed" in steps["slow_sibling"].error
    assert steps["join"].status == "not run" and steps["join"].run_id is None
    assert sp.wait_gone(sp.noted_pids(trail, "sibling")) == []  # the step and its child process


def test_a_step_over_its_timeout_is_killed_with_its_children_and_fails(trail):
    started = time.monotonic()
    result = sp.stuck_pipeline.run(params={"trail": trail})

    assert time.monotonic() - started < 8
    assert result.status is RunStatus.FAILED
    assert "timed out after 1 s" in result.error
    assert sp.wait_gone(sp.noted_pids(trail, "stuck")) == []
    step_run = result.steps[0].run_id
    log = cairn.Client().load_artifact(step_run, "logs/step.log").decode()
    assert "stuck sleeping" in log  # what it wrote before it was killed is kept


def test_a_failed_attempt_is_retried_with_exponential_backoff(trail):
    result = sp.flaky_pipeline.run(params={"trail": trail, "succeed_on": 3})
    assert result.status is RunStatus.FINISHED
    assert result.outputs == {"flaky": 3}
    times = [e["at"] for e in sp.executions(trail, "flaky")]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2  # backoff 0.1 s, doubled
    log = cairn.Client().load_artifact(result.steps[0].run_id, "logs/step.log").decode()
    assert "--- attempt 3 ---" in log and "attempt 3" in log


def test_a_step_that_fails_every_attempt_fails_the_run_after_its_retries(trail):
    result = sp.flaky_pipeline.run(params={"trail": trail, "succeed_on": 99})
    assert result.status is RunStatus.FAILED
    assert len(sp.executions(trail, "flaky")) == 3  # retries=2
    assert "after 3 attempts" in result.error and "flaky failure on attempt 3" in result.error


def test_a_worker_process_that_dies_fails_the_attempt_and_is_replaced(trail):
    result = sp.dying.run(params={"trail": trail})
    assert result.status is RunStatus.FAILED
    assert "the worker process running step 'dies' exited (3)" in result.error
    assert "after 2 attempts" in result.error
    assert len({e["pid"] for e in sp.executions(trail, "dies")}) == 2  # a new worker each time


def test_resume_reruns_from_the_failed_step_reusing_what_finished(trail, tmp_path):
    gate = tmp_path / "gate"
    failed = sp.gated.run(params={"trail": trail, "gate": str(gate)})
    assert failed.status is RunStatus.FAILED and "gate" in failed.error
    gate.touch()

    resumed = resume(failed.run_id[:12])

    assert resumed.status is RunStatus.FINISHED and resumed.outputs == {"third": 60}
    ran = [e["step"] for e in sp.executions(trail)]
    assert ran == ["first", "second", "third", "third"]  # second has cache=False: reused anyway
    before = {s.node: s.run_id for s in failed.steps}
    for step in resumed.steps[:2]:
        record = cairn.Client().get_run(step.run_id)
        assert record.tags["cairn.cache"] == "hit"
        assert record.tags["cairn.cache.run"] == before[step.node]
    tags = cairn.Client().get_run(resumed.run_id).tags
    assert tags["cairn.pipeline.resumed_from"] == failed.run_id
    with pytest.raises(Conflict, match="only a failed or killed run"):
        resume(resumed.run_id)


def test_independent_steps_run_in_parallel(trail):
    result = sp.two_naps.run(params={"seconds": 1.0, "trail": trail})
    assert result.status is RunStatus.FINISHED
    starts = [e["at"] for e in sp.executions(trail) if e["phase"] == "start"]
    ends = [e["at"] for e in sp.executions(trail) if e["phase"] == "end"]
    assert len(starts) == 2
    assert max(starts) < min(ends)  # the second began while the first was still sleeping


def test_a_step_starts_only_when_the_cpus_it_asks_for_are_free(trail):
    result = run(sp.two_greedy_naps, {"seconds": 0.5, "trail": trail}, executor=LocalExecutor(2))
    assert result.status is RunStatus.FINISHED
    by_label = {e["step"]: e["at"] for e in sp.executions(trail)}
    first, second = sorted(["a", "b"], key=by_label.get)
    assert by_label[second] >= by_label[f"{first}-end"]  # cpus=2 each on 2 cpus: one at a time


def test_a_request_bigger_than_the_machine_is_refused_before_anything_runs():
    with pytest.raises(InvalidInput) as caught:
        run(sp.too_big, executor=LocalExecutor(max_cpus=4))
    assert "'huge'" in caught.value.message and "cpus=64" in caught.value.message
    assert len(cairn.Client().search_runs()) == 0


def test_ctrl_c_kills_the_running_steps_and_marks_the_run_killed(trail):
    def interrupt_once_the_step_runs() -> None:
        deadline = time.monotonic() + 30
        while not sp.executions(trail, "sibling") and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_once_the_step_runs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        sp.sleeping.run(params={"trail": trail})

    assert sp.wait_gone(sp.noted_pids(trail, "sibling")) == []
    (record,) = cairn.Client().search_runs(filter="name = 'sleeping'")
    assert record.status is RunStatus.KILLED
    (step,) = cairn.Client().search_runs(filter=f"parent_id = '{record.id}'")
    assert step.status is RunStatus.KILLED
    assert Path(trail).is_dir()
