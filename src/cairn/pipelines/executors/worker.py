"""What runs inside a worker process: one step attempt, from stored inputs to stored outputs.

Every executor runs ``execute``; the local executor's processes loop in ``serve``. The step's
tracked run is made the active run while the step runs (``cairn.active_run()`` returns it, and
``cairn.log_metric`` and friends log into it); its stdout and stderr, at the file-descriptor
level so that child processes and C extensions are caught too, go to ``logs/step.log`` (when
it wrote anything).
"""

from __future__ import annotations

import inspect
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from cairn.core.serialization import encode
from cairn.errors import InvalidInput, NotFound
from cairn.pipelines.cache import OutputRef, StepOutputs, load_outputs
from cairn.pipelines.executors.base import StepResult, StepTask
from cairn.pipelines.steps import Step, load_step
from cairn.tracking.fluent import attached_run
from cairn.tracking.service import TrackingService, format_exception, tracking_service

LOG_PATH = "logs/step.log"
_services_used: set[TrackingService] = set()  # their stores are closed when a worker stops


class UnstorableOutput(InvalidInput):
    """A step returned something that cannot be stored; retrying would not change it."""


def execute(task: StepTask) -> StepResult:
    """Run one attempt of a step; never raises: a failure is a result with the traceback."""
    started = time.perf_counter()
    with _environment(task):
        try:
            service = tracking_service(task.uri, task.artifacts)
            _services_used.add(service)
            step = _step(task)
            outputs = _run_tracked(service, step, task)
        except BaseException as exc:  # noqa: BLE001 - even SystemExit from a step is its failure
            return StepResult(
                task.task_id,
                None,
                time.perf_counter() - started,
                error=format_exception(_from_user_code(exc)),
                retryable=not isinstance(exc, UnstorableOutput),
            )
    return StepResult(task.task_id, outputs, time.perf_counter() - started)


def _from_user_code(exc: BaseException) -> BaseException:
    """``exc`` with this module's frames cut from the top of its traceback, when the error
    comes from the step's code: the traceback then starts where the user's code does."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return exc if tb is None else exc.with_traceback(tb)


def _step(task: StepTask) -> Step:
    try:
        step = load_step(task.step_ref)
    except NotFound:
        if task.step_ref.startswith("__main__:"):
            raise NotFound(
                f"step {task.node!r} is defined in the script being run (__main__), which this "
                "worker cannot import: only the local executor runs such steps; move them into "
                "an importable module",
                field="step",
                value=task.step_ref,
            ) from None
        raise
    if step.code_hash != task.code_hash:
        raise InvalidInput(
            f"step {task.node!r}: the source of {task.step_ref} changed while the pipeline ran",
            field="step",
            value=task.step_ref,
        )
    return step


def _run_tracked(service: TrackingService, step: Step, task: StepTask) -> StepOutputs:
    # The runner, not the worker, ends the step's run (it knows whether a retry follows),
    # recording its outputs and duration as it does.
    with attached_run(task.run, service) as run:
        log_file = task.log_path or _temp_log_path()
        try:
            arguments = load_outputs(task.arguments, service.artifacts)
            bound = inspect.BoundArguments(step.signature, arguments)
            with _captured_output(log_file, task.attempt):
                value = step.fn(*bound.args, **bound.kwargs)
            return _store_outputs(service, task, value)
        finally:
            try:
                if os.path.exists(log_file) and os.path.getsize(log_file):
                    service.log_artifact(run.id, log_file, LOG_PATH)
            finally:
                if task.log_path is None:
                    with suppress(OSError):
                        os.unlink(log_file)


def _store_outputs(service: TrackingService, task: StepTask, value: Any) -> StepOutputs:
    """Store each output's blob; their references. The runner records them as artifacts of
    the step's run when it ends it (``StepOutputs.artifact_rows``)."""
    multi = isinstance(value, tuple) and not hasattr(value, "_fields")
    values = value if multi else (value,)
    wanted = task.declared_outputs
    if wanted is not None and (not multi or len(values) != wanted):
        got = f"a tuple of {len(values)}" if multi else f"one {type(value).__qualname__}"
        raise UnstorableOutput(
            f"step {task.node!r} declares {wanted} outputs (-> tuple[...]) but returned {got}",
            field=task.node,
            value=type(value).__qualname__,
        )
    if task.outputs_needed and (not multi or len(values) < task.outputs_needed):
        got = f"{len(values)} outputs" if multi else f"one {type(value).__qualname__}"
        raise UnstorableOutput(
            f"step {task.node!r} returned {got}; the pipeline reads output "
            f"{task.outputs_needed - 1}: return a tuple",
            field=task.node,
            value=type(value).__qualname__,
        )
    refs = []
    for index, item in enumerate(values):
        try:
            encoded = encode(item)
        except InvalidInput as exc:
            which = f"output {index}" if multi else "its output"
            raise UnstorableOutput(
                f"step {task.node!r}: {which} of type {type(item).__qualname__} cannot be "
                f"stored ({exc.message})",
                field=task.node,
                value=type(item).__qualname__,
            ) from exc
        digest = service.artifacts.put_bytes(encoded.data)
        refs.append(OutputRef(digest, encoded.media_type, len(encoded.data)))
    return StepOutputs(tuple(refs), multi)


# the worker's surroundings -----------------------------------------------------------------


@contextmanager
def _environment(task: StepTask) -> Iterator[None]:
    """The task's environment variables, working folder and sys.path, restored afterwards."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    if task.env_complete:
        os.environ.clear()
    os.environ.update(task.env)
    for entry in reversed(task.sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    if task.cwd:
        with suppress(OSError):
            os.chdir(task.cwd)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        with suppress(OSError):
            os.chdir(saved_cwd)


@contextmanager
def _captured_output(path: str, attempt: int) -> Iterator[None]:
    """Send file descriptors 1 and 2 (and so print, logging, subprocesses) to ``path``."""
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "ab") as log:
        if attempt > 1:
            log.write(f"\n--- attempt {attempt} ---\n".encode())
            log.flush()
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _temp_log_path() -> str:
    fd, path = tempfile.mkstemp(prefix="cairn-step-", suffix=".log")
    os.close(fd)
    return path


# the local executor's worker processes -----------------------------------------------------


def serve(conn: Any) -> None:
    """Main loop of a local worker process: run each task received, send back its result.

    Messages: a ``StepTask`` to run, or None to stop. The process leads a process group of its own, so that
    killing the group stops the step and everything it started. While a task runs, a watchdog
    thread kills the group if the runner goes away (the connection reaches end of file), so
    no step outlives its pipeline.
    """
    os.setsid()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = None
        if message is None:
            for service in _services_used:
                service.store.close()
            os._exit(0)  # nothing is left to flush: skip the interpreter's slow teardown
        with _watchdog(conn):
            result = execute(message)
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            os._exit(0)


@contextmanager
def _watchdog(conn: Any) -> Iterator[None]:
    from multiprocessing.connection import wait

    stop_read, stop_write = os.pipe()

    def watch() -> None:
        ready = wait([conn, stop_read])
        if conn in ready:  # the runner sends nothing while a task runs: it is gone
            os.killpg(os.getpgid(0), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="cairn-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        os.write(stop_write, b"x")
        thread.join()
        os.close(stop_read)
        os.close(stop_write)
