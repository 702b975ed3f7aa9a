"""The embedded executor: steps run in worker processes on this machine.

Workers are started on demand from a ``forkserver`` (a clean process that has imported cairn
and the first pipeline's module once, so a new worker is ready in milliseconds and inherits
neither the runner's threads nor its database connections) and reused for the next step, so a
chain of steps pays for one process start, not one per step. The workers of a run stop when it
ends. A task starts only when the cpus, gpus and memory it asks for are free; each running task
holds its worker, and cancelling a task kills that worker's whole process group.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, replace
from multiprocessing.connection import wait as wait_for
from typing import Any

from cairn.pipelines.executors.base import Executor, StepResult, StepTask, too_big
from cairn.pipelines.resources import Resources, machine_memory_mb

_WORKER_MODULE = "cairn.pipelines.executors.worker"
_WARM_MODULE = "cairn.pipelines.executors.warm"  # the serializers the step module will need
_STOP_WAIT_S = 1.0


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` lists them (none when unset)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]


_forkserver_started = False


def _start_forkserver(context: Any, step_module: str) -> None:
    """Start this process's forkserver, once, with cairn, the first step's module and the
    serializers it will need imported.

    Every worker forked from it, in this run and later ones, then starts with them loaded.
    Python 3.11's forkserver does not take its parent's ``sys.path``, so it gets it through
    ``PYTHONPATH`` for the moment it starts (the step's module may live on a path added at
    run time).
    """
    global _forkserver_started
    if _forkserver_started:
        return
    from multiprocessing import forkserver

    main_file = getattr(sys.modules["__main__"], "__file__", None)
    main = ["__main__"] if main_file and os.path.isfile(main_file) else []  # not <stdin>
    context.set_forkserver_preload([*main, _WORKER_MODULE, step_module, _WARM_MODULE])
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [saved or ""])
    try:
        forkserver.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    _forkserver_started = True


@dataclass
class _Worker:
    process: Any  # multiprocessing Process
    conn: Any  # our end of its pipe
    task: StepTask | None = None
    started_at: float | None = None
    gpu_ids: tuple[str, ...] = ()


class LocalExecutor(Executor):
    """Worker processes on this machine, within ``max_cpus``, ``max_gpus`` and ``max_memory_mb``.

    Defaults: ``os.cpu_count()`` cpus, the GPUs ``CUDA_VISIBLE_DEVICES`` lists (a step gets
    its own ones in that variable), the machine's physical memory. Memory is reserved, not
    enforced: a step that uses more than it asked for is not stopped.
    """

    name = "local"
    shares_filesystem = True

    def __init__(
        self,
        max_cpus: float | None = None,
        max_gpus: int | None = None,
        max_memory_mb: int | None = None,
    ) -> None:
        self.max_cpus = float(max_cpus or os.cpu_count() or 1)
        ids = visible_gpus()
        self.max_gpus = len(ids) if max_gpus is None else max_gpus
        self.max_memory_mb = machine_memory_mb() if max_memory_mb is None else max_memory_mb
        self._gpu_ids = (ids + [str(i) for i in range(len(ids), self.max_gpus)])[: self.max_gpus]
        self._context = multiprocessing.get_context("forkserver")
        self._queue: deque[StepTask] = deque()
        self._workers: list[_Worker] = []
        self._free_gpus: list[str] = list(self._gpu_ids)

    # the contract ------------------------------------------------------------------------

    def check(self, step: str, resources: Resources) -> None:
        where = "the local executor"
        if resources.cpus > self.max_cpus:
            raise too_big(step, "cpus", resources.cpus, self.max_cpus, f"{where} (max_cpus)")
        if resources.gpus > self.max_gpus:
            raise too_big(step, "gpus", resources.gpus, self.max_gpus, f"{where} (max_gpus)")
        memory = resources.memory_mb or 0
        if memory > self.max_memory_mb:
            raise too_big(step, "memory_mb", memory, self.max_memory_mb, f"{where} (max_memory_mb)")

    def submit(self, task: StepTask) -> None:
        environ = {**os.environ, **task.env}
        self._queue.append(replace(task, env=environ, env_complete=True, cwd=os.getcwd()))
        self._dispatch()

    def wait(self, timeout: float) -> list[StepResult]:
        self._dispatch()
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            time.sleep(max(timeout, 0))
            return []
        waitables = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait_for(waitables, max(timeout, 0)))
        results = []
        for worker in busy:
            if worker.conn in ready:
                results.append(self._receive(worker))
            elif worker.process.sentinel in ready:
                results.append(self._died(worker))
        self._dispatch()
        return results

    def started(self, task_id: str) -> float | None:
        worker = self._running(task_id)
        return None if worker is None else worker.started_at

    def cancel(self, task_id: str) -> None:
        for task in list(self._queue):
            if task.task_id == task_id:
                self._queue.remove(task)
                return
        worker = self._running(task_id)
        if worker is not None:
            self._release(worker)
            self._kill(worker)

    def close(self) -> None:
        self._queue.clear()
        for worker in list(self._workers):
            if worker.task is None:
                with suppress(OSError):
                    worker.conn.send(None)  # an idle worker stops on its own
        deadline = time.monotonic() + _STOP_WAIT_S
        for worker in list(self._workers):
            if worker.task is None:
                worker.process.join(max(deadline - time.monotonic(), 0))
            self._release(worker)
            self._kill(worker)

    # workers -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start every queued task whose resources are free, first come first served."""
        for task in list(self._queue):
            if not self._fits(task.resources):
                continue
            self._queue.remove(task)
            worker = self._idle_worker() or self._spawn(task.step_ref.rpartition(":")[0])
            gpus = tuple(self._free_gpus[: task.resources.gpus])
            del self._free_gpus[: task.resources.gpus]
            if gpus:
                task = replace(task, env={**task.env, "CUDA_VISIBLE_DEVICES": ",".join(gpus)})
            worker.task, worker.started_at, worker.gpu_ids = task, time.monotonic(), gpus
            with suppress(OSError):  # died before it took the task: the next wait() reports it
                worker.conn.send(task)

    def _fits(self, wanted: Resources) -> bool:
        running = [w.task.resources for w in self._workers if w.task is not None]
        cpus = sum(r.cpus for r in running) + wanted.cpus
        memory = sum(r.memory_mb or 0 for r in running) + (wanted.memory_mb or 0)
        return (
            cpus <= self.max_cpus + 1e-9
            and wanted.gpus <= len(self._free_gpus)
            and memory <= self.max_memory_mb
        )

    def _spawn(self, step_module: str) -> _Worker:
        from cairn.pipelines.executors.worker import serve

        _start_forkserver(self._context, step_module)
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=serve, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        return worker

    def _idle_worker(self) -> _Worker | None:
        return next((w for w in self._workers if w.task is None), None)

    def _running(self, task_id: str) -> _Worker | None:
        return next(
            (w for w in self._workers if w.task is not None and w.task.task_id == task_id), None
        )

    def _receive(self, worker: _Worker) -> StepResult:
        try:
            result = worker.conn.recv()
        except (EOFError, OSError):
            return self._died(worker)
        self._release(worker)
        return result

    def _died(self, worker: _Worker) -> StepResult:
        task, started = worker.task, worker.started_at or time.monotonic()
        assert task is not None
        worker.process.join(1)  # it is gone or going: learn how it ended
        code = worker.process.exitcode
        self._release(worker)
        self._kill(worker)
        how = (
            f"was killed by signal {-code}" if code is not None and code < 0 else f"exited ({code})"
        )
        return StepResult(
            task.task_id,
            None,
            time.monotonic() - started,
            error=f"the worker process running step {task.node!r} {how}",
        )

    def _release(self, worker: _Worker) -> None:
        """The worker's task no longer holds resources."""
        self._free_gpus.extend(worker.gpu_ids)
        worker.task, worker.started_at, worker.gpu_ids = None, None, ()

    def _kill(self, worker: _Worker) -> None:
        """Kill the worker's process group (the step and whatever it started) and forget it."""
        pid = worker.process.pid
        if pid is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)  # not yet its own group leader
        worker.process.join(5)
        with suppress(OSError):
            worker.conn.close()
        with suppress(ValueError):
            worker.process.close()
        if worker in self._workers:
            self._workers.remove(worker)
