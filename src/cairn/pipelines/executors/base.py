"""The executor seam: what the runner hands an executor, what it gets back, and the contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cairn.errors import InvalidInput
from cairn.pipelines.cache import StepOutputs
from cairn.pipelines.resources import Resources
from cairn.tracking.entities import Run


@dataclass(frozen=True)
class StepTask:
    """One attempt of one step, self-contained: a worker needs nothing else to run it.

    It names the code (``step_ref``, checked against ``code_hash``) and the stores (``uri``,
    ``artifacts``) instead of carrying live objects, so any process on any machine that can
    import the code and reach the stores can run it. ``arguments`` hold literal values and
    ``InputRef`` placeholders for upstream outputs, which the worker loads itself.
    """

    task_id: str
    node: str
    step_ref: str
    code_hash: str
    run: Run  # the step's tracked run, created by the runner; the worker makes it active
    arguments: dict[str, Any]
    outputs_needed: int  # the step must return a tuple of at least this many (0: any output)
    declared_outputs: int | None  # a -> tuple[A, B] annotation's count: exactly this many
    uri: str
    artifacts: str
    attempt: int
    resources: Resources
    log_path: str | None = None  # where to append the step's output; None: a temporary file
    env: dict[str, str] = field(default_factory=dict)  # set in the worker while the step runs
    env_complete: bool = False  # True: ``env`` is the whole environment, not an overlay
    cwd: str | None = None
    sys_path: tuple[str, ...] = ()  # entries the worker puts on sys.path if missing


@dataclass(frozen=True)
class StepResult:
    """How an attempt ended: its stored outputs, or the error (a traceback) that ended it."""

    task_id: str
    outputs: StepOutputs | None
    duration_s: float
    error: str | None = None
    retryable: bool = True  # False for failures a retry cannot change (an unstorable output)

    @property
    def ok(self) -> bool:
        return self.error is None


class Executor(ABC):
    """Runs step tasks somewhere and reports how each ended.

    Contract, which every executor meets and ``tests/pipelines/test_executors.py`` checks on
    each of them:

    - ``check(step, resources)`` raises ``InvalidInput`` naming the step when the executor can
      never give it what it asks for; the runner calls it for every step before a run starts.
    - ``submit(task)`` returns at once. The executor starts the task when the resources it asks
      for are free (the local executor counts cpus, gpus and memory; Ray's scheduler does it
      for Ray) and runs the step in a worker process, never in the caller's process.
    - ``wait(timeout)`` returns the results of tasks that ended since the last call, waiting up
      to ``timeout`` seconds for at least one. A step's exception, or a worker that died, comes
      back as a ``StepResult`` with ``error`` set; ``wait`` itself does not raise for them.
      Every submitted task that is not cancelled yields exactly one result.
    - ``started(task_id)`` is the ``time.monotonic()`` at which the task started running, or
      None while it waits for resources (the runner's timeouts count from it).
    - ``cancel(task_id)`` stops the task at once and kills the processes it runs in, children
      included; no result is reported for it. Unknown or finished ids are ignored.
    - ``close()`` cancels whatever is queued or running and releases the workers; afterwards
      nothing the executor started is left running. The executor can be used again after it.
    - Workers open the metadata and artifact stores from the task's URIs, write outputs to the
      artifact store themselves and return only digests, so large data never passes through
      the runner.

    Thread safety: one thread (the runner's) drives an executor; methods are not thread-safe.
    """

    #: the name it is registered under (``executor="local"``)
    name: ClassVar[str]
    #: whether workers see the runner's local files (a step's log is then readable after a kill)
    shares_filesystem: ClassVar[bool] = False

    @abstractmethod
    def check(self, step: str, resources: Resources) -> None:
        """Raise InvalidInput naming ``step`` if ``resources`` can never be met here."""

    @abstractmethod
    def submit(self, task: StepTask) -> None:
        """Queue ``task``; it starts when its resources are free."""

    @abstractmethod
    def wait(self, timeout: float) -> list[StepResult]:
        """Results of tasks that ended, waiting up to ``timeout`` seconds for one."""

    @abstractmethod
    def started(self, task_id: str) -> float | None:
        """When the task started running (monotonic seconds), or None while it is queued."""

    @abstractmethod
    def cancel(self, task_id: str) -> None:
        """Stop the task and every process it started; its result is never reported."""

    @abstractmethod
    def close(self) -> None:
        """Cancel everything and release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def too_big(step: str, what: str, asked: float, have: float, where: str) -> InvalidInput:
    """The error for a request no worker can ever meet."""
    return InvalidInput(
        f"step {step!r} asks for {what}={asked:g} but {where} has {have:g}",
        field=f"{step}.{what}",
        value=asked,
    )
