"""Micro-batching: concurrent requests to one model are checked and predicted together.

Requests queue while the model predicts the previous batch in its own thread; the next batch is
whatever queued meanwhile (up to ``max_rows``) and, after a batch of several requests, what
arrives within a moment more (``MicroBatcher._gather``), so a busy server amortises the per-call
cost of pandas and scikit-learn over many requests and a lone client never waits. A request
whose rows fail the signature check is answered alone with its problem; the rest of the batch
goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from cairn.errors import CairnError
from cairn.registry import LoadedModel
from cairn.registry.signature import InputProblem, check_rows
from cairn.serving.payload import Payload

log = logging.getLogger(__name__)
_IDLE_TURN = 0.00005  # a turn of the event loop that did nothing takes well under 50 µs


class ModelFailed(CairnError):
    """The model raised while predicting rows that passed the signature check."""

    http_status = 500


@dataclass(frozen=True)
class Outcome:
    """What one request gets: predictions (and probabilities), or the error that stopped it."""

    model: LoadedModel
    predictions: list[Any] | None = None
    probabilities: list[list[float]] | None = None
    error: CairnError | None = None
    problem: InputProblem | None = None


def predict_batch(
    model: LoadedModel, payloads: list[Payload], fill: Callable[[Any], Any] | None = None
) -> list[Outcome]:
    """One outcome per payload, in order; each payload's rows checked, good ones predicted.
    ``fill`` completes the rows first (with features from the online store)."""
    names = model.signature.columns
    outcomes: list[Outcome | None] = [None] * len(payloads)
    whole: list[int] = []
    completed = _filled(fill, payloads) if fill is not None else payloads
    for i, payload in enumerate(completed):
        if isinstance(payload, CairnError):
            outcomes[i] = Outcome(model, error=payload)
            continue
        missing = next((name for name in names if name not in payload.columns), None)
        if missing is None:
            whole.append(i)
        else:
            problem = InputProblem(missing, "a value", "nothing: the column is missing")
            outcomes[i] = Outcome(model, error=problem.error(), problem=problem)
    if whole:
        for i, outcome in zip(
            whole, _check_and_predict(model, [completed[i] for i in whole]), strict=True
        ):
            outcomes[i] = outcome
    return outcomes  # type: ignore[return-value]


def _filled(fill: Callable[[Any], Any], payloads: list[Payload]) -> list[Payload | CairnError]:
    """The payloads completed by ``fill``, all in one call; if it refuses the batch, each payload
    alone, so that a request without its entity ids fails only itself."""
    names = list(dict.fromkeys(name for p in payloads for name in p.columns))
    columns = {
        name: list(chain.from_iterable(p.columns.get(name, [None] * p.rows) for p in payloads))
        for name in names
    }
    try:
        frame = fill(pd.DataFrame(columns))
    except CairnError as exc:
        if len(payloads) == 1:
            return [exc]
        return list(chain.from_iterable(_filled(fill, [p]) for p in payloads))
    values = {name: frame[name].to_numpy(dtype=object, na_value=None) for name in frame.columns}
    out: list[Payload | CairnError] = []
    start = 0
    for payload in payloads:
        end = start + payload.rows
        out.append(Payload({n: v[start:end].tolist() for n, v in values.items()}, payload.rows))
        start = end
    return out


def _check_and_predict(model: LoadedModel, payloads: list[Payload]) -> list[Outcome]:
    signature = model.signature
    columns = {
        name: list(chain.from_iterable(p.columns[name] for p in payloads))
        for name in signature.columns
    }
    checked, problems = check_rows(signature, columns)
    ends = np.cumsum([p.rows for p in payloads])
    starts = ends - [p.rows for p in payloads]
    refused: dict[int, InputProblem] = {}
    for problem in problems:
        i = int(np.searchsorted(ends, problem.row, side="right"))
        if i not in refused:  # the first bad row of a request names it, counted from its start
            refused[i] = replace(problem, row=problem.row - int(starts[i]))
    kept = [i for i in range(len(payloads)) if i not in refused]
    if refused:  # predict only the rows of the requests that passed
        rows = np.concatenate([np.arange(starts[i], ends[i]) for i in kept]) if kept else []
        checked = checked.iloc[rows]
    results = _predict_rows(model, checked, [payloads[i].rows for i in kept])
    outcomes = dict(zip(kept, results, strict=True))
    for i, problem in refused.items():
        outcomes[i] = Outcome(model, error=problem.error(), problem=problem)
    return [outcomes[i] for i in range(len(payloads))]


def _predict_rows(model: LoadedModel, frame: pd.DataFrame, sizes: list[int]) -> list[Outcome]:
    """Predict the checked rows of several requests at once; if the model fails on the batch,
    each request alone, so that one request the model cannot take fails only itself."""
    if not sizes:
        return []
    try:
        predictions, probabilities = model.predict_checked(frame)
    except Exception as exc:
        if len(sizes) > 1:
            bounds = np.cumsum([0, *sizes])
            return list(
                chain.from_iterable(
                    _predict_rows(model, frame.iloc[a:b], [b - a])
                    for a, b in zip(bounds[:-1], bounds[1:], strict=True)
                )
            )
        log.exception("%s/%s failed to predict", model.name, model.version)
        error = ModelFailed(
            f"{model.name}/{model.version} failed to predict: {type(exc).__name__}: {exc}",
            field="model",
            value=f"{model.name}/{model.version}",
        )
        return [Outcome(model, error=error)]
    outcomes, start = [], 0
    for size in sizes:
        end = start + size
        proba = None if probabilities is None else probabilities[start:end].tolist()
        outcomes.append(Outcome(model, predictions[start:end].tolist(), proba))
        start = end
    return outcomes


class MicroBatcher:
    """Queues requests for one served model and predicts them in batches, in one thread."""

    def __init__(
        self,
        served: Any,
        max_rows: int = 8192,
        model_threads: int = 1,
        max_wait: float = 0.002,
        max_gap: float = 0.0003,
    ) -> None:
        self.served = served
        self.max_rows = max_rows
        self.max_wait = max_wait
        self.max_gap = max_gap
        self._queue: asyncio.Queue[tuple[Payload, asyncio.Future[Outcome]]] = asyncio.Queue()
        # OpenMP and BLAS pools sized for big batches make every small prediction wait on
        # thread hand-offs (gradient boosting on a busy machine: 5x slower for one row); the
        # OpenMP limit is per thread, so it is set in the thread that predicts
        self._thread = ThreadPoolExecutor(
            1,
            thread_name_prefix=f"predict-{served.name}",
            initializer=threadpool_limits,
            initargs=(model_threads,),
        )
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, payload: Payload) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((payload, future))
        return await future

    async def stop(self) -> None:
        """Answer what is queued, then stop."""
        await self._queue.join()
        if self._task is not None:
            self._task.cancel()
        self._thread.shutdown(wait=True)

    async def _gather(self, concurrent: bool) -> list[tuple[Payload, asyncio.Future[Outcome]]]:
        """The next batch: what is queued and, when the last batch held several requests, what
        arrives until the event loop has been idle for ``max_gap`` (``max_wait`` at most).
        Under steady concurrent load the clients just answered are sending again: waiting for
        them predicts one batch per round instead of two half batches, each paying the model's
        fixed cost per call. A lone client never waits. The loop is polled, not timed out on:
        answering the last batch can hold it longer than the gap, and that is not idleness."""
        batch = [await self._queue.get()]
        rows = batch[0][0].rows
        last_busy = time.perf_counter()
        deadline = last_busy + self.max_wait
        while rows < self.max_rows:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                rows += batch[-1][0].rows
                last_busy = time.perf_counter()
                continue
            if not concurrent:
                break
            before = time.perf_counter()
            await asyncio.sleep(0)  # one turn of the loop: it reads sockets, answers, parses
            now = time.perf_counter()
            if now - before > _IDLE_TURN:
                last_busy = now
            if now - last_busy > self.max_gap or now > deadline:
                break
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        concurrent = False
        while True:
            batch = await self._gather(concurrent)
            concurrent = len(batch) > 1
            model = self.served.current  # one version for the whole batch
            payloads = [payload for payload, _ in batch]
            fill = self.served.fill if getattr(self.served, "features", None) else None
            try:
                outcomes = await loop.run_in_executor(
                    self._thread, predict_batch, model, payloads, fill
                )
            except Exception as exc:  # never let the batching loop die
                log.exception("prediction batch failed")
                error = ModelFailed(f"prediction failed: {type(exc).__name__}: {exc}")
                outcomes = [Outcome(model, error=error)] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():  # the client may have gone away
                    future.set_result(outcome)
                self._queue.task_done()
