"""A queue worker: runs queued jobs on this machine within its capacity.

Each started job runs in a process of its own (a new session, so cancelling it kills the
pipeline's step processes too). The job process records its own end; the worker records an
end only for a process that died without doing so, and kills jobs asked to cancel.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import traceback
from dataclasses import dataclass

from cairn.core import settings
from cairn.pipelines.queue import JobQueue, JobStatus
from cairn.pipelines.resources import NOTHING, Resources, machine_capacity
from cairn.store import open_store
from cairn.tracking.environment import host


@dataclass
class _Running:
    process: multiprocessing.Process
    resources: Resources


class QueueWorker:
    """Dispatches jobs that fit, watches them, kills cancelled ones, records crashed ones."""

    def __init__(self, queue: JobQueue | None = None, capacity: Resources | None = None) -> None:
        self.queue = queue or JobQueue(open_store())
        self.capacity = capacity or machine_capacity()
        self._running: dict[str, _Running] = {}
        self._context = multiprocessing.get_context("spawn")  # no inherited threads or sockets

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def free(self) -> Resources:
        used = NOTHING
        for job in self._running.values():
            used = used + job.resources
        return self.capacity - used

    def step(self) -> list[str]:
        """One round: reap finished jobs, kill cancelled ones, start what fits. Started ids."""
        self._reap()
        self._kill_cancelled()
        artifacts = settings().artifacts
        started = []
        for job in self.queue.dispatch(self.free(), host=host(), pid=os.getpid()):
            process = self._context.Process(
                target=_run_job,
                args=(job.id, self.queue.store.uri, artifacts),
                name=f"cairn-job-{job.id[:8]}",
            )
            process.start()
            self.queue.record_process(job.id, process.pid)
            self._running[job.id] = _Running(process, job.resources)
            started.append(job.id)
        return started

    def run(
        self, poll_s: float = 1.0, *, until_idle: bool = False, timeout_s: float | None = None
    ) -> None:
        """Loop until interrupted, or with ``until_idle`` until nothing runs and nothing started."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                started = self.step()
                if until_idle and not started and not self.busy:
                    return
                if deadline is not None and time.monotonic() > deadline:
                    return
                time.sleep(poll_s)
        finally:
            self.stop()

    def stop(self) -> None:
        """Kill jobs still running (the worker is going away) and record them as failed."""
        for job_id in list(self._running):
            self._kill(job_id)
            self.queue.finish(job_id, JobStatus.FAILED, error="its worker stopped")
        self._running.clear()

    def _reap(self) -> None:
        for job_id, running in list(self._running.items()):
            if running.process.is_alive():
                continue
            running.process.join()
            del self._running[job_id]
            code = running.process.exitcode
            # finish() keeps a verdict the job process recorded itself
            self.queue.finish(
                job_id, JobStatus.FAILED, error=f"job process exited with code {code}"
            )

    def _kill_cancelled(self) -> None:
        for job_id in list(self._running):
            if self.queue.get(job_id).status is JobStatus.CANCELLING:
                self._kill(job_id)
                del self._running[job_id]
                self.queue.finish(job_id, JobStatus.CANCELLED)

    def _kill(self, job_id: str) -> None:
        process = self._running[job_id].process
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(process.pid, signal.SIGKILL)  # the job and every process it started
        process.join(timeout=10)


def _run_job(job_id: str, uri: str, artifacts: str) -> None:
    """In the job's own process: run the pipeline and record how it ended."""
    os.setsid()  # a process group of its own, so cancelling reaches the step processes
    os.environ["CAIRN_URI"] = uri
    os.environ["CAIRN_ARTIFACTS"] = artifacts
    from cairn.pipelines import run as run_pipeline

    queue = JobQueue(open_store(uri))
    job = queue.get(job_id)
    try:
        result = run_pipeline(job.pipeline, params=job.params)
    except BaseException as exc:  # any failure ends the job as failed, with the traceback
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        queue.finish(job_id, JobStatus.FAILED, run_id=getattr(exc, "run_id", None), error=text)
        return
    status = JobStatus.FINISHED if str(result.status) == "finished" else JobStatus.FAILED
    queue.finish(job_id, status, run_id=result.run_id)
