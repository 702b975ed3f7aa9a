"""The scale-out executor: each step attempt is a Ray task, on a local Ray or a cluster.

``executor="ray"`` joins the Ray instance this process already started, else starts a local
one; ``CAIRN_EXECUTOR=ray://host:port`` (or ``executor="ray://host:port"``) connects to a
cluster. Ray is imported only when this executor is chosen (``pip install 'cairn[ray]'``).
Resource requests become ``num_cpus``, ``num_gpus`` and ``memory``; Ray's scheduler starts a
task when a node has them. Timeouts count from submission, since Ray does not say when a queued
task starts. Cancelling force-kills the task's worker process.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from typing import Any

from cairn.errors import ConfigError
from cairn.pipelines.executors.base import Executor, StepResult, StepTask, too_big
from cairn.pipelines.resources import Resources

#: environment variables a step needs on another machine (the rest of ours may not apply there)
_FORWARDED_PREFIXES = ("CAIRN_", "AWS_")


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(
            f"executor='ray' needs Ray, which is not installed ({exc}): pip install 'cairn[ray]'",
            field="executor",
            value="ray",
        ) from exc
    return ray


class RayExecutor(Executor):
    """Step attempts as Ray tasks; ``address`` is ``ray://host:port``, or None for local Ray."""

    name = "ray"
    shares_filesystem = False

    def __init__(self, address: str | None = None) -> None:
        ray = _ray()
        self.address = address
        if not ray.is_initialized() and address:
            ray.init(address=address)
        elif not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        from cairn.pipelines.executors.worker import execute

        self._ray = ray
        self._remote = ray.remote(max_retries=0)(execute)
        self._tasks: dict[str, tuple[Any, float, StepTask]] = {}  # task id -> (ref, start, task)

    def check(self, step: str, resources: Resources) -> None:
        total = self._ray.cluster_resources()
        where = f"the Ray cluster ({self.address or 'local'})"
        if resources.cpus > total.get("CPU", 0):
            raise too_big(step, "cpus", resources.cpus, total.get("CPU", 0), where)
        if resources.gpus > total.get("GPU", 0):
            raise too_big(step, "gpus", resources.gpus, total.get("GPU", 0), where)
        memory_mb = total.get("memory", 0) / (1 << 20)
        if (resources.memory_mb or 0) > memory_mb:
            raise too_big(step, "memory_mb", resources.memory_mb or 0, int(memory_mb), where)

    def submit(self, task: StepTask) -> None:
        env = {k: v for k, v in os.environ.items() if k.startswith(_FORWARDED_PREFIXES)}
        task = replace(task, env={**env, **task.env}, sys_path=tuple(sys.path))
        r = task.resources
        options: dict[str, Any] = {
            "num_cpus": r.cpus,
            "num_gpus": r.gpus,
            "name": f"cairn:{task.node}",
        }
        if r.memory_mb:
            options["memory"] = r.memory_mb << 20
        ref = self._remote.options(**options).remote(task)
        self._tasks[task.task_id] = (ref, time.monotonic(), task)

    def wait(self, timeout: float) -> list[StepResult]:
        if not self._tasks:
            time.sleep(max(timeout, 0))
            return []
        refs = [ref for ref, _, _ in self._tasks.values()]
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=max(timeout, 0))
        if ready:  # and whatever else ended meanwhile
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        done = set(ready)
        results = []
        for task_id, (ref, started, task) in list(self._tasks.items()):
            if ref not in done:
                continue
            del self._tasks[task_id]
            try:
                results.append(self._ray.get(ref))
            except Exception as exc:  # the worker died, or Ray failed the task
                results.append(
                    StepResult(
                        task_id,
                        None,
                        time.monotonic() - started,
                        error=f"Ray could not run step {task.node!r}: {exc}",
                    )
                )
        return results

    def started(self, task_id: str) -> float | None:
        entry = self._tasks.get(task_id)
        return None if entry is None else entry[1]

    def cancel(self, task_id: str) -> None:
        entry = self._tasks.pop(task_id, None)
        if entry is not None:
            self._ray.cancel(entry[0], force=True)

    def close(self) -> None:
        for task_id in list(self._tasks):
            self.cancel(task_id)
