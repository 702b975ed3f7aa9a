"""Tracking across processes: concurrent writers, normal exit, a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import cairn
from cairn.tracking import RunStatus

pytestmark = pytest.mark.usefixtures("use_store")


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def test_four_processes_logging_at_once_lose_nothing():
    code = """
        import cairn
        with cairn.start_run(experiment="concurrent") as run:
            for step in range(10_000):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
                if step % 2500 == 0:
                    run.flush()  # interleave writes with the other processes
        print(run.id)
    """
    procs = [_python(code) for _ in range(4)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    client = cairn.Client()
    runs = client.search_runs("concurrent")
    assert len(runs) == 4
    for run in runs:
        assert run.status is RunStatus.FINISHED
        assert len(client.get_metric_history(run.id, "loss")) == 10_000


def test_normal_exit_flushes_and_closes_a_run_left_open():
    code = """
        import cairn
        run = cairn.start_run(experiment="exit")
        for step in range(5000):
            run.log_metric("loss", float(step), step=step)
        print(run.id)
    """
    proc = _python(code)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    run = cairn.Client().get_run(out.strip())
    assert run.status is RunStatus.FINISHED
    assert len(cairn.Client().get_metric_history(run.id, "loss")) == 5000


def test_killed_process_leaves_a_running_run_that_can_be_marked_killed():
    code = """
        import sys, time, cairn
        run = cairn.start_run(experiment="doomed")
        run.log_metric("loss", 1.0)
        run.flush()
        print(run.id, flush=True)
        time.sleep(600)
    """
    proc = _python(code)
    run_id = proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    client = cairn.Client()
    run = client.get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.pid == proc.pid
    from cairn.cli.runs import process_gone

    assert process_gone(run)
    assert client.kill_run(run_id).status is RunStatus.KILLED
    assert client.get_metric_history(run_id, "loss")[0].value == 1.0


def test_runs_list_shows_a_dead_process_run_as_running(tmp_path):
    code = """
        import time, cairn
        run = cairn.start_run(experiment="doomed")
        print(run.id, flush=True)
        time.sleep(600)
    """
    proc = _python(code)
    run_id = proc.stdout.readline().strip()
    proc.kill()
    proc.wait(timeout=30)
    time.sleep(0.1)
    listed = subprocess.run(
        [sys.executable, "-m", "cairn", "runs", "list", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    import json

    [entry] = [r for r in json.loads(listed.stdout) if r["id"] == run_id]
    assert entry["status"] == "running"
    killed = subprocess.run(
        [sys.executable, "-m", "cairn", "runs", "kill", run_id[:12]],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert killed.returncode == 0, killed.stderr
    assert "killed" in killed.stdout
