"""Running pipelines: a tracked run per pipeline run, a child run per step, steps in parallel.

``run`` traces the pipeline, records a run (experiment = pipeline name; params; tags with the
reference, the code hash, the exact params as JSON; the DAG as ``pipeline/graph.json``) and
drives the executor: a step whose inputs are ready is looked up in the step cache, and runs
only on a miss; failed attempts are retried with exponential backoff; an attempt over its
timeout is killed. When a step fails for good, every other running step is killed and the run
ends ``failed`` with the step's traceback. ``resume`` runs a failed run again, reusing the
outputs its finished steps recorded; ``rerun`` runs the same reference with the same params.

Tags of a pipeline run: ``cairn.pipeline`` (name), ``cairn.pipeline.ref``,
``cairn.pipeline.code_hash``, ``cairn.pipeline.params``, ``cairn.pipeline.cache``,
``cairn.pipeline.executor``, ``cairn.pipeline.outputs``, and ``cairn.pipeline.rerun_of`` or
``cairn.pipeline.resumed_from``. Of a step run: ``cairn.step``, ``cairn.step.ref``,
``cairn.step.code_hash``, ``cairn.step.cache_key``, ``cairn.cache`` (hit, miss or off),
``cairn.cache.run`` (for a hit: the run that computed the outputs), ``cairn.step.outputs``.
"""

from __future__ import annotations

import heapq
import json
import os
import shutil
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cairn.core import now_ms
from cairn.errors import Conflict, InvalidInput, NotFound
from cairn.pipelines.cache import InputRef, StepCache, StepOutputs, cache_key, load_outputs
from cairn.pipelines.executors import Executor, get_executor
from cairn.pipelines.executors.base import StepResult, StepTask
from cairn.pipelines.executors.worker import LOG_PATH
from cairn.pipelines.graph import Graph, StepOutput, substitute
from cairn.pipelines.steps import Pipeline, load_pipeline
from cairn.tracking.entities import Run, RunStatus
from cairn.tracking.service import TrackingService, format_exception, tracking_service

GRAPH_PATH = "pipeline/graph.json"
PIPELINE_TAG = "cairn.pipeline"
REF_TAG = "cairn.pipeline.ref"
CODE_TAG = "cairn.pipeline.code_hash"
PARAMS_TAG = "cairn.pipeline.params"
CACHE_TAG = "cairn.pipeline.cache"
EXECUTOR_TAG = "cairn.pipeline.executor"
PIPELINE_OUTPUTS_TAG = "cairn.pipeline.outputs"
RERUN_TAG = "cairn.pipeline.rerun_of"
RESUME_TAG = "cairn.pipeline.resumed_from"
STEP_TAG = "cairn.step"
KEY_TAG = "cairn.step.cache_key"
OUTPUTS_TAG = "cairn.step.outputs"
HIT_TAG = "cairn.cache"
HIT_RUN_TAG = "cairn.cache.run"

POLL_S = 0.25  # longest wait before timeouts and retries are looked at again
_SHORT_PARAM = 500  # longer values are recorded as their type only (the JSON tag keeps them)


class PipelineFailed(Conflict):
    """The run did not finish, so it has no outputs."""


class CodeChangedWarning(UserWarning):
    """A rerun or resume runs code that differs from what the recorded run ran."""


@dataclass(frozen=True)
class StepEvent:
    """Progress of a run, for displays: a step started, finished, was cached, failed, …"""

    kind: str  # started, finished, cached, retrying, failed, cancelled
    node: str
    run_id: str | None
    attempt: int
    total: int  # steps in the pipeline
    message: str = ""


@dataclass(frozen=True)
class StepRecord:
    """One step of a recorded pipeline run."""

    node: str
    step: str
    run_id: str | None  # None: the step never started
    status: str  # finished, failed, killed, running, or "not run"
    cache: str | None  # hit, miss or off
    duration_s: float | None
    outputs: StepOutputs | None
    cache_key: str | None
    error: str | None


@dataclass
class PipelineRun:
    """A pipeline run as recorded: status, params, steps and (when it finished) outputs."""

    run_id: str
    pipeline: str
    ref: str
    experiment: str
    status: RunStatus
    params: dict[str, Any] | None  # None when they were not JSON values (no rerun possible)
    code_hash: str
    cache: bool
    error: str | None
    steps: list[StepRecord]
    output_refs: dict[str, StepOutputs]
    service: TrackingService = field(repr=False)
    _outputs: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def outputs(self) -> dict[str, Any]:
        """The pipeline's outputs by name, loaded from the artifact store (once)."""
        self.raise_for_status()
        if self._outputs is None:
            refs = {name: InputRef(outputs) for name, outputs in self.output_refs.items()}
            self._outputs = load_outputs(refs, self.service.artifacts)
        return self._outputs

    def raise_for_status(self) -> None:
        """Raise PipelineFailed, with the error that ended the run, unless it finished."""
        if self.status is not RunStatus.FINISHED:
            raise PipelineFailed(
                f"pipeline run {self.run_id} {self.status}"
                + (f":\n{self.error}" if self.error else ""),
                field="status",
                value=str(self.status),
            )


# the public functions ----------------------------------------------------------------------


def run(
    pipeline: str | Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    executor: str | Executor | None = None,
    cache: bool = True,
    experiment: str | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
) -> PipelineRun:
    """Run a pipeline and wait for it; the recorded run, finished or failed.

    ``pipeline`` is a ``@cairn.pipeline`` function or a reference ``module:function`` (or
    ``path/to/file.py:function``). ``params`` override the function's defaults. ``executor``
    is ``"local"`` (default), ``"ray"``, ``"ray://host:port"`` or an ``Executor``; None means
    ``CAIRN_EXECUTOR``, else local. ``cache=False`` runs every step even when a cached result
    exists (results are still stored for later runs). ``experiment`` defaults to the pipeline's
    name; ``on_event`` is called as steps start and end.

    A step that fails does not raise here: the returned run has ``status`` failed and its
    ``error``; its ``outputs`` raise PipelineFailed. Bad input (an unknown reference or param,
    a step asking for more than the executor has) raises before anything is recorded.
    This signature is stable: schedules and the job queue call it.
    """
    target = pipeline if isinstance(pipeline, Pipeline) else load_pipeline(pipeline)
    graph = target.build(params)
    return _execute(graph, executor, cache=cache, experiment=experiment, on_event=on_event)


def rerun(
    run_id: str,
    *,
    executor: str | Executor | None = None,
    cache: bool | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
) -> PipelineRun:
    """Run a recorded run's pipeline reference again with the same params.

    ``cache`` defaults to what the recorded run used. Warns (CodeChangedWarning) when the code
    hash differs from the recorded one.
    """
    before = get_run(run_id)
    graph = _rebuild(before)
    return _execute(
        graph,
        executor,
        cache=before.cache if cache is None else cache,
        experiment=before.experiment,
        on_event=on_event,
        tags={RERUN_TAG: before.run_id},
    )


def resume(
    run_id: str,
    *,
    executor: str | Executor | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
) -> PipelineRun:
    """Run a failed (or killed) run again as a new run, from the steps that did not finish.

    A step that finished in the old run, and whose code, arguments and inputs are unchanged,
    is not run again: its recorded outputs are reused, even when it has ``cache=False``.
    """
    before = get_run(run_id)
    if before.status not in (RunStatus.FAILED, RunStatus.KILLED):
        raise Conflict(
            f"pipeline run {before.run_id} is {before.status}: only a failed or killed run can "
            "be resumed (use rerun to run it again)",
            field="status",
            value=str(before.status),
        )
    reusable = {
        s.node: (s.cache_key, s.outputs, s.run_id)
        for s in before.steps
        if s.status == RunStatus.FINISHED and s.outputs is not None and s.cache_key
    }
    graph = _rebuild(before)
    return _execute(
        graph,
        executor,
        cache=before.cache,
        experiment=before.experiment,
        on_event=on_event,
        tags={RESUME_TAG: before.run_id},
        reusable=reusable,
    )


def get_run(run_id: str) -> PipelineRun:
    """A recorded pipeline run (a unique prefix of its id is enough)."""
    service = tracking_service()
    record = service.get_run(run_id)
    ref = record.tags.get(REF_TAG)
    if ref is None:
        raise InvalidInput(
            f"run {record.id} is not a pipeline run (it has no tag {REF_TAG})",
            field="run_id",
            value=run_id,
        )
    try:
        graph = service.load_artifact(record.id, GRAPH_PATH)
    except NotFound:
        graph = {"nodes": []}
    children = {
        child.name: child
        for child in service.search_runs(filter=f"parent_id = '{record.id}'", limit=None)
    }
    steps = [
        _step_record(node["id"], node["step"], children.get(node["id"])) for node in graph["nodes"]
    ]
    outputs_json = json.loads(record.tags.get(PIPELINE_OUTPUTS_TAG, "{}"))
    params_json = record.tags.get(PARAMS_TAG)
    return PipelineRun(
        run_id=record.id,
        pipeline=record.tags.get(PIPELINE_TAG, record.name or ""),
        ref=ref,
        experiment=record.experiment,
        status=record.status,
        params=None if params_json is None else json.loads(params_json),
        code_hash=record.tags.get(CODE_TAG, ""),
        cache=record.tags.get(CACHE_TAG, "true") == "true",
        error=record.error,
        steps=steps,
        output_refs={
            name: StepOutputs.from_json(json.dumps(data)) for name, data in outputs_json.items()
        },
        service=service,
    )


def _step_record(node: str, step: str, run: Run | None) -> StepRecord:
    if run is None:
        return StepRecord(node, step, None, "not run", None, None, None, None, None)
    outputs = run.tags.get(OUTPUTS_TAG)
    return StepRecord(
        node=node,
        step=step,
        run_id=run.id,
        status=str(run.status),
        cache=run.tags.get(HIT_TAG),
        duration_s=run.metrics.get("duration_s", run.duration_s),
        outputs=None if outputs is None else StepOutputs.from_json(outputs),
        cache_key=run.tags.get(KEY_TAG),
        error=run.error,
    )


def _rebuild(before: PipelineRun) -> Graph:
    """The recorded run's pipeline, traced again with its params; warns if its code changed."""
    if before.params is None:
        raise InvalidInput(
            f"pipeline run {before.run_id} cannot be run again: its params were not JSON "
            "values, so they were not recorded exactly",
            field="params",
            value=before.run_id,
        )
    graph = load_pipeline(before.ref).build(before.params)
    if graph.code_hash != before.code_hash:
        warnings.warn(
            f"the code of pipeline {before.pipeline!r} changed since run {before.run_id[:12]}: "
            f"code hash {graph.code_hash[:12]}, recorded {before.code_hash[:12]}",
            CodeChangedWarning,
            stacklevel=3,
        )
    return graph


# one run ---------------------------------------------------------------------------------


def _execute(
    graph: Graph,
    executor: str | Executor | None,
    *,
    cache: bool,
    experiment: str | None,
    on_event: Callable[[StepEvent], None] | None,
    tags: Mapping[str, str] | None = None,
    reusable: Mapping[str, tuple[str, StepOutputs, str | None]] | None = None,
) -> PipelineRun:
    runner = get_executor(executor)
    for node in graph.nodes.values():
        runner.check(node.id, node.step.resources)
    service = tracking_service()
    pipeline = graph.pipeline
    run_tags = {
        PIPELINE_TAG: pipeline.name,
        REF_TAG: pipeline.ref,
        CODE_TAG: graph.code_hash,
        CACHE_TAG: "true" if cache else "false",
        EXECUTOR_TAG: runner.name,
        **(tags or {}),
    }
    exact = _json_or_none(graph.params)
    if exact is not None:
        run_tags[PARAMS_TAG] = exact
    record = service.create_run(
        experiment or pipeline.name,
        name=pipeline.name,
        params=_loggable(graph.params),
        tags=run_tags,
    )
    log_dir = tempfile.mkdtemp(prefix="cairn-pipeline-") if runner.shares_filesystem else None
    try:
        service.log_object(record.id, graph.to_dict(), GRAPH_PATH)
        _Scheduler(
            graph,
            service,
            runner,
            record,
            cache=cache,
            reusable=reusable or {},
            on_event=on_event,
            log_dir=log_dir,
        ).drive()
    finally:
        runner.close()
        if log_dir is not None:
            shutil.rmtree(log_dir, ignore_errors=True)
    return get_run(record.id)


class _StepFailed(Exception):
    def __init__(self, node: str, error: str) -> None:
        super().__init__(node)
        self.node = node
        self.error = error


class _Records:
    """Writes nothing downstream waits for (a finished step's end and cache entry), made in
    order on a thread of their own while the next steps start; ``settle`` waits for them."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="cairn-records")
        self._pending: list[Future[Any]] = []

    def later(self, write: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._pending.append(self._thread.submit(write, *args, **kwargs))

    def settle(self) -> None:
        """Wait for every write; raise the first that failed."""
        pending, self._pending = self._pending, []
        for write in pending:
            write.result()

    def close(self) -> None:
        self._thread.shutdown(wait=True)


class _Scheduler:
    """Drives one pipeline run: starts ready steps, collects results, retries, times out."""

    def __init__(
        self,
        graph: Graph,
        service: TrackingService,
        executor: Executor,
        record: Run,
        *,
        cache: bool,
        reusable: Mapping[str, tuple[str, StepOutputs, str | None]],
        on_event: Callable[[StepEvent], None] | None,
        log_dir: str | None,
    ) -> None:
        self.graph = graph
        self.service = service
        self.executor = executor
        self.record = record
        self.use_cache = cache
        self.reusable = reusable
        self.on_event = on_event
        self.log_dir = log_dir
        self.step_cache = StepCache(service.store, service.artifacts)
        self.readers = graph.downstream()
        self.waiting = {n.id: set(n.upstream) for n in graph.nodes.values()}
        self.ready = deque(node_id for node_id, up in self.waiting.items() if not up)
        self.outputs: dict[str, StepOutputs] = {}
        self.runs: dict[str, Run] = {}  # node -> its step run, while it has not ended
        self.keys: dict[str, str] = {}
        self.arguments: dict[str, dict[str, Any]] = {}
        self.attempts: dict[str, int] = {}
        self.running: dict[str, StepTask] = {}  # task id -> task
        self.retries: list[tuple[float, str]] = []  # heap of (due, node)
        self.records = _Records()
        self.worker_env = {
            "CAIRN_URI": service.store.uri,
            "CAIRN_ARTIFACTS": service.artifacts.location,
        }

    def drive(self) -> None:
        """Run every step; end the pipeline run finished, failed or (on Ctrl-C) killed."""
        try:
            self._drive()
        except _StepFailed as failed:
            self._cancel_all(f"cancelled: step {failed.node!r} failed")
            self.records.settle()
            self.service.end_run(self.record.id, RunStatus.FAILED, failed.error)
            return
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            self._cancel_all(
                "cancelled: the pipeline run was "
                + ("interrupted" if interrupted else "stopped by an error")
            )
            try:
                self.records.settle()
            finally:
                status = RunStatus.KILLED if interrupted else RunStatus.FAILED
                self.service.end_run(self.record.id, status, format_exception(exc))
            raise
        finally:
            self.records.close()
        outputs = {
            name: json.loads(self.outputs[h.node].pick(h.index).to_json())
            for name, h in self.graph.outputs.items()
        }
        self.service.set_tags(self.record.id, {PIPELINE_OUTPUTS_TAG: json.dumps(outputs)})
        self.service.end_run(self.record.id, RunStatus.FINISHED)

    def _drive(self) -> None:
        while len(self.outputs) < len(self.graph.nodes):
            while self.ready:
                self._begin(self.ready.popleft())
            if len(self.outputs) == len(self.graph.nodes):
                break
            if not self.running and not self.retries:  # cannot happen in a DAG: never hang
                raise RuntimeError(f"steps {sorted(self.waiting)} wait on nothing running")
            self._submit_due_retries()
            for result in self.executor.wait(self._wait_time()):
                self._on_result(result)
            self._enforce_timeouts()
        self.records.settle()

    # starting steps --------------------------------------------------------------------

    def _begin(self, node_id: str) -> None:
        """Start a step whose inputs are ready: from the cache, or by submitting it."""
        node = self.graph.nodes[node_id]
        arguments = substitute(
            node.arguments, StepOutput, lambda h: InputRef(self.outputs[h.node].pick(h.index))
        )
        key = cache_key(node.step.code_hash, arguments)
        found, cache_state = self._lookup(node_id, key)
        tags = {
            STEP_TAG: node_id,
            "cairn.step.ref": node.step.ref,
            "cairn.step.code_hash": node.step.code_hash,
            KEY_TAG: key,
            HIT_TAG: cache_state,
        }
        if found is not None:
            tags[OUTPUTS_TAG] = found[0].to_json()
            if found[1]:
                tags[HIT_RUN_TAG] = found[1]
        step_run = self.service.create_run(
            self.record.experiment,
            name=node_id,
            params=_loggable(_literal_arguments(node.arguments)),
            tags=tags,
            parent_id=self.record.id,
        )
        if found is not None:
            self.records.later(
                self.service.end_run, step_run.id, final_artifacts=found[0].artifact_rows()
            )
            self._emit("cached", node_id, step_run.id, 0)
            self._done(node_id, found[0])
            return
        self.runs[node_id] = step_run
        self.keys[node_id] = key
        self.arguments[node_id] = arguments
        self._submit(node_id)

    def _lookup(self, node_id: str, key: str) -> tuple[tuple[StepOutputs, str | None] | None, str]:
        """(outputs to reuse and the run that made them, or None; the cache state tag)."""
        reusable = self.reusable.get(node_id)
        if reusable is not None and reusable[0] == key:
            return (reusable[1], reusable[2]), "hit"
        if not (self.use_cache and self.graph.nodes[node_id].step.cache):
            return None, "off"
        found = self.step_cache.get(key)
        return found, "hit" if found is not None else "miss"

    def _submit(self, node_id: str) -> None:
        node = self.graph.nodes[node_id]
        attempt = self.attempts[node_id] = self.attempts.get(node_id, 0) + 1
        task = StepTask(
            task_id=f"{node_id}#{attempt}",
            node=node_id,
            step_ref=node.step.ref,
            code_hash=node.step.code_hash,
            run=self.runs[node_id],
            arguments=self.arguments[node_id],
            outputs_needed=node.outputs_needed,
            declared_outputs=node.step.declared_outputs,
            uri=self.worker_env["CAIRN_URI"],
            artifacts=self.worker_env["CAIRN_ARTIFACTS"],
            attempt=attempt,
            resources=node.step.resources,
            log_path=None if self.log_dir is None else os.path.join(self.log_dir, f"{node_id}.log"),
            env=dict(self.worker_env),
        )
        self.running[task.task_id] = task
        self.executor.submit(task)
        self._emit("started", node_id, task.run.id, attempt)

    def _submit_due_retries(self) -> None:
        now = time.monotonic()
        while self.retries and self.retries[0][0] <= now:
            _, node_id = heapq.heappop(self.retries)
            self._submit(node_id)

    # results ---------------------------------------------------------------------------

    def _on_result(self, result: StepResult) -> None:
        task = self.running.pop(result.task_id, None)
        if task is None:  # cancelled meanwhile
            return
        if not result.ok:
            self._attempt_failed(task, result.error or "failed", retryable=result.retryable)
            return
        assert result.outputs is not None
        node = self.graph.nodes[task.node]
        if node.step.cache:
            key, pipeline = self.keys[task.node], self.graph.pipeline.name
            self.records.later(
                self.step_cache.put, key, pipeline, task.node, result.outputs, task.run.id
            )
        duration = ("duration_s", result.duration_s, 0, now_ms())
        outputs = {OUTPUTS_TAG: result.outputs.to_json()}
        self.records.later(
            self.service.end_run,
            task.run.id,
            final_metrics=[duration],
            final_tags=outputs,
            final_artifacts=result.outputs.artifact_rows(),
        )
        del self.runs[task.node]
        self._emit("finished", task.node, task.run.id, task.attempt, f"{result.duration_s:.2f} s")
        self._done(task.node, result.outputs)

    def _done(self, node_id: str, outputs: StepOutputs) -> None:
        self.outputs[node_id] = outputs
        for reader in self.readers[node_id]:
            self.waiting[reader].discard(node_id)
            if not self.waiting[reader]:
                self.ready.append(reader)

    def _attempt_failed(self, task: StepTask, error: str, *, retryable: bool) -> None:
        step = self.graph.nodes[task.node].step
        if retryable and task.attempt <= step.retries:
            delay = step.retry_backoff * 2 ** (task.attempt - 1)
            heapq.heappush(self.retries, (time.monotonic() + delay, task.node))
            self._emit("retrying", task.node, task.run.id, task.attempt, _last_line(error))
            return
        tries = f" after {task.attempt} attempts" if task.attempt > 1 else ""
        message = f"step {task.node!r} failed{tries}:\n{error}"
        self.service.end_run(task.run.id, RunStatus.FAILED, error)
        del self.runs[task.node]
        self._emit("failed", task.node, task.run.id, task.attempt, _last_line(error))
        raise _StepFailed(task.node, message)

    def _enforce_timeouts(self) -> None:
        now = time.monotonic()
        for task in list(self.running.values()):
            timeout = self.graph.nodes[task.node].step.timeout
            started = self.executor.started(task.task_id)
            if timeout is None or started is None or now - started <= timeout:
                continue
            self.executor.cancel(task.task_id)
            del self.running[task.task_id]
            self._keep_log(task)
            error = f"step {task.node!r} timed out after {timeout:g} s and was killed"
            self._attempt_failed(task, error, retryable=True)

    def _cancel_all(self, reason: str) -> None:
        """Kill every running step and end the runs of steps that had not ended."""
        for task in list(self.running.values()):
            self.executor.cancel(task.task_id)
            self._keep_log(task)
        self.running.clear()
        self.retries.clear()
        for node_id, step_run in list(self.runs.items()):
            self.service.end_run(step_run.id, RunStatus.KILLED, reason)
            self._emit("cancelled", node_id, step_run.id, self.attempts.get(node_id, 0), reason)
        self.runs.clear()

    def _keep_log(self, task: StepTask) -> None:
        """Store what a killed step had written (the worker could not)."""
        if task.log_path and os.path.exists(task.log_path):
            self.service.log_artifact(task.run.id, task.log_path, LOG_PATH)

    def _wait_time(self) -> float:
        due = [self.retries[0][0]] if self.retries else []
        for task in self.running.values():
            timeout = self.graph.nodes[task.node].step.timeout
            started = self.executor.started(task.task_id)
            if timeout is not None and started is not None:
                due.append(started + timeout)
        if not due:
            return POLL_S
        return min(max(min(due) - time.monotonic(), 0.0), POLL_S)

    def _emit(
        self, kind: str, node: str, run_id: str | None, attempt: int, message: str = ""
    ) -> None:
        if self.on_event is not None:
            self.on_event(StepEvent(kind, node, run_id, attempt, len(self.graph.nodes), message))


# helpers -----------------------------------------------------------------------------------


def _literal_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments that are values, not step outputs."""
    from cairn.pipelines.graph import handles_in

    return {k: v for k, v in arguments.items() if not handles_in(v)}


def _loggable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as run params: scalars as they are, short JSON as JSON, the rest by type."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or isinstance(value, bool | int | float | str):
            text = value
        else:
            text = _json_or_none(value) or f"<{type(value).__qualname__}>"
        if isinstance(text, str) and len(text) > _SHORT_PARAM:
            text = f"<{type(value).__qualname__}, {len(text)} characters>"
        out[key] = text
    return out


def _json_or_none(value: Any) -> str | None:
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return None
    return text if len(text) <= 8000 else None


def _last_line(error: str) -> str:
    lines = [line for line in error.strip().splitlines() if line.strip()]
    return lines[-1] if lines else error
