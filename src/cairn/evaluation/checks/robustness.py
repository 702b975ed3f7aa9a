"""Robustness: do predictions stay put under small changes to the input?

On a sample of ``rows`` rows: every numeric input gets Gaussian noise of ``noise`` times its
standard deviation; then, one input column at a time, ``missing_rate`` of the rows lose their
value. Stability is the share of affected rows whose predicted class is unchanged (for a
regressor: whose prediction moves by less than a tenth of the labels' standard deviation).
Noise must barely move decisions (``min_stability``); a missing value is a bigger loss, most of
all in a strong feature, so it has its own, lower bound (``min_missing_stability``). A model
that raises on missing values fails, naming the column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cairn.evaluation.checks.base import Check, Outcome, fmt, is_number, require
from cairn.evaluation.context import predict
from cairn.evaluation.entities import Verdict

REGRESSION_TOLERANCE = 0.1  # of the labels' standard deviation


class RobustnessCheck(Check):
    kind = "robustness"

    def __init__(
        self,
        *,
        noise: float = 0.05,
        missing_rate: float = 0.1,
        min_stability: float = 0.95,
        min_missing_stability: float = 0.8,
        rows: int = 2000,
        threshold: float = 0.5,
        seed: int = 0,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.noise = noise
        self.missing_rate = missing_rate
        self.min_stability = min_stability
        self.min_missing_stability = min_missing_stability
        self.rows = rows
        self.threshold = threshold
        self.seed = seed

    def describe(self) -> str:
        return (
            f"robustness: stability >= {self.min_stability} under noise, "
            f">= {self.min_missing_stability} with missing values"
        )

    def validate(self, task: str) -> None:
        for field in ("noise", "missing_rate", "min_stability", "min_missing_stability"):
            value = getattr(self, field)
            require(is_number(value) and 0 <= value <= 1, field, value, "a number from 0 to 1")
        require(
            isinstance(self.rows, int) and self.rows >= 10,
            "rows",
            self.rows,
            "a whole number >= 10",
        )

    def evaluate(self, ctx: Any) -> Outcome:
        # threadpoolctl comes with scikit-learn: one thread per call is faster for the many
        # small predictions below, and spares a busy machine's other processes
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self._evaluate(ctx)

    def _evaluate(self, ctx: Any) -> Outcome:
        rng = np.random.default_rng(self.seed)
        picked = rng.choice(ctx.n, size=min(self.rows, ctx.n), replace=False)
        sample = ctx.inputs.iloc[picked]
        model = ctx.model.model
        before = self._decisions(model, sample, ctx)
        numeric = [c for c in sample.columns if sample[c].dtype.kind in "iuf"]
        noisy = sample.copy()
        for column in numeric:
            values = sample[column].to_numpy(dtype=float)
            scale = np.nanstd(values) * self.noise
            noisy[column] = values + rng.normal(0.0, scale if scale > 0 else 0.0, len(values))
        stability = {"noise": self._stability(before, self._decisions(model, noisy, ctx), ctx)}
        failures: list[str] = []
        affected = rng.random(len(sample)) < self.missing_rate
        for column in sample.columns if affected.any() else ():
            holed = sample.copy()
            holed[column] = sample[column].mask(affected)
            try:
                after = self._decisions(model, holed, ctx)
            except Exception as exc:  # noqa: BLE001 - the model's failure is the finding
                failures.append(
                    f"the model cannot predict with missing values in {column!r}: "
                    f"{type(exc).__name__}: {str(exc)[:200]}"
                )
                continue
            stability[f"missing {column}"] = self._stability(before[affected], after[affected], ctx)
        worst_case = min(stability, key=stability.get)
        worst = stability[worst_case]
        detail = {"stability": stability, "rows": len(sample), "noise": self.noise}
        threshold = (
            f">= {fmt(self.min_stability)} (noise), "
            f">= {fmt(self.min_missing_stability)} (missing values)"
        )
        unstable = {
            k: v
            for k, v in stability.items()
            if v < (self.min_stability if k == "noise" else self.min_missing_stability)
        }
        if failures or unstable:
            ranked = sorted(unstable.items(), key=lambda item: item[1])
            shown = ", ".join(f"{k} {fmt(v)}" for k, v in ranked)
            message = "; ".join(failures + ([f"unstable: {shown}"] if unstable else []))
            return Outcome(Verdict.FAILED, message, worst, threshold, detail)
        return Outcome(
            Verdict.PASSED,
            f"stability {fmt(stability['noise'])} under noise; {fmt(worst)} at worst "
            f"({worst_case}) on {len(sample):,} rows",
            worst,
            threshold,
            detail,
        )

    def _decisions(self, model: Any, frame: pd.DataFrame, ctx: Any) -> np.ndarray:
        scores = predict(model, frame, ctx.task)
        if ctx.task == "binary":
            return scores >= self.threshold
        if ctx.task == "multiclass":
            return np.argmax(scores, axis=1)
        return scores

    def _stability(self, before: np.ndarray, after: np.ndarray, ctx: Any) -> float:
        if not len(before):
            return 1.0
        if ctx.task == "regression":
            tolerance = REGRESSION_TOLERANCE * float(np.std(ctx.y))
            return float(np.mean(np.abs(after - before) <= tolerance))
        return float(np.mean(before == after))
