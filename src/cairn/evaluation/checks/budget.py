"""Budgets: latency per row (one-row requests) and per batch, and the model's stored size.

Latency is measured as a caller sees it, through ``LoadedModel.predict`` with its signature
check, on one thread (as a serving worker per core runs; an OpenMP model asked for one row on
a busy machine otherwise measures its threads waiting for each other): the median of
``repeat`` calls (fewer, but at least 3, when they take over half a second in all), after one
untimed warm-up call.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from cairn.evaluation.checks.base import Check, Outcome, fmt, is_number, require
from cairn.evaluation.entities import Verdict

MB = 1024 * 1024
MAX_SECONDS = 0.5  # per measurement: a slow model is measured on fewer calls


class BudgetCheck(Check):
    kind = "budget"

    def __init__(
        self,
        *,
        max_row_ms: float | None = None,
        max_batch_ms: float | None = None,
        batch_size: int = 1000,
        max_size_mb: float | None = None,
        repeat: int = 10,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.max_row_ms = max_row_ms
        self.max_batch_ms = max_batch_ms
        self.batch_size = batch_size
        self.max_size_mb = max_size_mb
        self.repeat = repeat

    def describe(self) -> str:
        return "budget: latency and size"

    def validate(self, task: str) -> None:
        bounds = ("max_row_ms", "max_batch_ms", "max_size_mb")
        require(any(getattr(self, b) is not None for b in bounds), "max_row_ms", None, "a bound")
        for field in bounds:
            value = getattr(self, field)
            require(value is None or (is_number(value) and value > 0), field, value, "a number > 0")
        for field in ("batch_size", "repeat"):
            value = getattr(self, field)
            require(isinstance(value, int) and value >= 1, field, value, "a whole number >= 1")

    def evaluate(self, ctx: Any) -> Outcome:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn

        with threadpool_limits(limits=1):
            return self._evaluate(ctx)

    def _evaluate(self, ctx: Any) -> Outcome:
        measured: dict[str, float] = {}
        if self.max_row_ms is not None:
            measured["row_ms"] = self._median_ms(ctx, ctx.frame.iloc[:1], self.repeat)
        if self.max_batch_ms is not None:
            batch = ctx.frame.iloc[: self.batch_size]
            measured["batch_ms"] = self._median_ms(ctx, batch, max(3, self.repeat // 3))
        if self.max_size_mb is not None:
            measured["size_mb"] = ctx.version.size / MB
        bounds = {
            "row_ms": self.max_row_ms,
            "batch_ms": self.max_batch_ms,
            "size_mb": self.max_size_mb,
        }
        over = [f"{k} {fmt(v)} > {fmt(bounds[k])}" for k, v in measured.items() if v > bounds[k]]
        threshold = ", ".join(f"{k} <= {fmt(bounds[k])}" for k in measured)
        detail = {"measured": measured, "batch_size": min(self.batch_size, ctx.n)}
        said = ", ".join(f"{k} {fmt(v)}" for k, v in measured.items())
        value = max(v / bounds[k] for k, v in measured.items())  # share of the budget used
        if over:
            return Outcome(
                Verdict.FAILED, "over budget: " + ", ".join(over), value, threshold, detail
            )
        return Outcome(Verdict.PASSED, f"{said} (within budget)", value, threshold, detail)

    @staticmethod
    def _median_ms(ctx: Any, frame: Any, repeat: int) -> float:
        """Median of ``repeat`` calls, or of those made within ``MAX_SECONDS`` (at least 3)."""
        ctx.model.predict(frame)  # warm-up
        samples: list[float] = []
        deadline = time.perf_counter() + MAX_SECONDS
        while len(samples) < repeat and (len(samples) < 3 or time.perf_counter() < deadline):
            started = time.perf_counter()
            ctx.model.predict(frame)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)
