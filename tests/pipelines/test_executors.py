"""One suite, every executor: the same pipelines run unchanged on local processes and on Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sample_pipelines as sp

import cairn
from cairn.errors import ConfigError, InvalidInput
from cairn.pipelines import get_executor, run
from cairn.pipelines.executors.local import LocalExecutor
from cairn.tracking import RunStatus

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def ray_instance():
    """A local Ray with 2 cpus for the session; skipped (failed in CI) when it cannot start."""
    problem = None
    try:
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - whatever stops Ray means: not available
        problem = f"Ray cannot start here: {exc!r}"
    if problem is not None:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: the backend must be available)")
        pytest.skip(problem)
    yield ray
    ray.shutdown()


@pytest.fixture(params=["local", "ray"])
def executor(request) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_instance")
    return request.param


@pytest.fixture
def trail(tmp_path) -> str:
    return str(tmp_path / "trail")


def test_the_same_pipeline_gives_the_same_outputs_in_worker_processes(executor, trail):
    result = sp.training.run(params={"trail": trail, "n": 40}, executor=executor)

    assert result.status is RunStatus.FINISHED, result.error
    assert result.outputs["score"] == pytest.approx(1.0)
    assert result.outputs["model"].coef_ == pytest.approx([2.0])
    assert result.outputs["summary"] == {"rows": 40, "mean_x": 19.5}
    assert {e["pid"] for e in sp.executions(trail)}.isdisjoint({os.getpid()})
    assert cairn.Client().get_run(result.run_id).tags["cairn.pipeline.executor"] == executor
    load = next(s for s in result.steps if s.node == "load")
    assert "loading 40 rows" in cairn.Client().load_artifact(load.run_id, "logs/step.log").decode()

    again = sp.training.run(params={"trail": trail, "n": 40}, executor=executor)
    assert {s.cache for s in again.steps} == {"hit", "off"}  # one cache, whatever ran it


def test_a_failing_step_cancels_its_running_sibling(executor, trail):
    result = sp.failing.run(params={"trail": trail}, executor=executor)

    assert result.status is RunStatus.FAILED and "boom: the data is bad" in result.error
    assert {s.node: s.status for s in result.steps}["slow_sibling"] == "killed"
    assert sp.wait_gone(sp.noted_pids(trail, "sibling"), within=15) == []


def test_a_step_over_its_timeout_fails_on_every_executor(executor, trail):
    result = sp.stuck_pipeline.run(params={"trail": trail}, executor=executor)
    assert result.status is RunStatus.FAILED and "timed out after 1 s" in result.error
    assert sp.wait_gone(sp.noted_pids(trail, "stuck"), within=15) == []


def test_a_request_no_worker_can_meet_is_refused_naming_the_step(executor):
    with pytest.raises(InvalidInput) as caught:
        run(sp.too_big, executor=executor)
    assert "'huge'" in caught.value.message and "cpus=64" in caught.value.message


def test_the_local_executor_hands_each_gpu_step_its_own_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    result = run(sp.uses_a_gpu, executor=LocalExecutor(max_cpus=2))
    assert result.outputs == {"gpu_env": "3"}
    with pytest.raises(InvalidInput, match="gpus=1"):
        run(sp.uses_a_gpu, executor=LocalExecutor(max_cpus=2, max_gpus=0))
    with pytest.raises(InvalidInput, match="memory_mb=64"):
        run(sp.uses_a_gpu, executor=LocalExecutor(max_cpus=2, max_memory_mb=32))


def test_executors_are_chosen_by_name_setting_or_instance(monkeypatch):
    assert get_executor().name == "local"
    custom = LocalExecutor(max_cpus=1)
    assert get_executor(custom) is custom
    with pytest.raises(InvalidInput, match="'spark'"):
        get_executor("spark")
    monkeypatch.setenv("CAIRN_EXECUTOR", "spark")
    with pytest.raises(ConfigError, match="CAIRN_EXECUTOR"):
        get_executor()


def test_steps_die_with_a_runner_that_is_killed(trail):
    """A job queue cancels a run by killing its process: its steps must not outlive it."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(sp.__file__).parent)!r}); "
        f"import sample_pipelines as sp; sp.sleeping.run(params={{'trail': {trail!r}}})"
    )
    runner = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not sp.executions(trail, "sibling") and time.monotonic() < deadline:
            assert runner.poll() is None, "the runner ended early"
            time.sleep(0.05)
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
    assert sp.wait_gone(sp.noted_pids(trail, "sibling"), within=10) == []
