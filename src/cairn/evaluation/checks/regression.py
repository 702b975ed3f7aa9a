"""Regression tests against earlier versions: is the candidate worse than the champion, or
than the previous version, on the same evaluation rows, beyond what noise explains?

The difference of the metric (oriented so that positive means the candidate is better) gets a
paired bootstrap confidence interval: both models are scored on the same resamples. The check
fails when the whole interval lies below ``-tolerance``: the candidate is worse by more than
the tolerance with the given confidence. For accuracy, McNemar's exact test on the rows where
exactly one of the two models is right decides instead (one-sided, at ``(1 - confidence) / 2``,
the same level as the interval's upper end), together with the observed drop exceeding the
tolerance. No champion yet, or a candidate that is the champion, is ``skipped``, not passed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cairn.evaluation.bootstrap import interval
from cairn.evaluation.checks.base import Check, Outcome, fmt, is_number, require
from cairn.evaluation.entities import Verdict
from cairn.evaluation.metrics import Metric, Outcomes, default_metric, get_metric

ROLES = ("champion", "previous")
#: Precedence when comparisons disagree: one failure fails the check.
_ORDER = (Verdict.FAILED, Verdict.ERRORED, Verdict.PASSED, Verdict.SKIPPED)


class RegressionCheck(Check):
    kind = "regression"

    def __init__(
        self,
        *,
        metric: str | None = None,
        against: tuple[str, ...] | list[str] = ROLES,
        tolerance: float = 0.0,
        confidence: float = 0.95,
        resamples: int = 1000,
        threshold: float = 0.5,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.metric = metric
        self.against = tuple(against)
        self.tolerance = tolerance
        self.confidence = confidence
        self.resamples = resamples
        self.threshold = threshold

    def describe(self) -> str:
        return f"no regression in {self.metric or 'the main metric'} vs {', '.join(self.against)}"

    def validate(self, task: str) -> None:
        metric = self._metric(task)
        require(
            metric.resamplable and not (metric.name == "auc" and task == "multiclass"),
            "metric",
            metric.name,
            "a metric the bootstrap can resample (not ece, nor auc for multiclass)",
        )
        require(
            bool(self.against) and all(role in ROLES for role in self.against),
            "against",
            list(self.against),
            f"a list of {' and '.join(ROLES)}",
        )
        require(
            is_number(self.tolerance) and self.tolerance >= 0,
            "tolerance",
            self.tolerance,
            "a number >= 0",
        )
        require(
            is_number(self.confidence) and 0.5 <= self.confidence < 1,
            "confidence",
            self.confidence,
            "a level from 0.5 to below 1, e.g. 0.95",
        )
        require(
            isinstance(self.resamples, int) and 100 <= self.resamples <= 100_000,
            "resamples",
            self.resamples,
            "a whole number from 100 to 100000",
        )

    def _metric(self, task: str) -> Metric:
        return default_metric(task) if self.metric is None else get_metric(self.metric, task)

    def evaluate(self, ctx: Any) -> Outcome:
        metric = self._metric(ctx.task)
        candidate = ctx.outcomes.at(self.threshold)
        comparisons: dict[str, dict[str, Any]] = {}
        pending: list[tuple[str, Any, Outcomes]] = []
        for role in self.against:
            try:
                found = ctx.reference(role)
            except Exception as exc:  # noqa: BLE001 - this comparison errors, the others run
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                comparisons[role] = _result(
                    Verdict.ERRORED, f"{role}: could not predict: {message}"
                )
                continue
            if found is None:
                comparisons[role] = _result(Verdict.SKIPPED, f"no {role} version to compare with")
            elif found[0].id == ctx.version.id:
                comparisons[role] = _result(
                    Verdict.SKIPPED, f"{ctx.version.ref} is the {role} itself"
                )
            else:
                pending.append((role, found[0], found[1].at(self.threshold)))
        if pending:
            comparisons.update(self._compare(ctx, metric, candidate, pending))
        verdict = next(v for v in _ORDER if any(c["verdict"] == v for c in comparisons.values()))
        judged = [c["difference"] for c in comparisons.values() if "difference" in c]
        threshold = f"difference >= -{fmt(self.tolerance)} ({self.confidence:.0%} confidence)"
        return Outcome(
            verdict,
            _message(comparisons),
            min(judged) if judged else None,
            threshold,
            {"metric": metric.name, "comparisons": comparisons},
        )

    def _compare(
        self, ctx: Any, metric: Metric, candidate: Outcomes, pending: list
    ) -> dict[str, dict[str, Any]]:
        resampler = ctx.resampler(self.resamples)
        # the champion is often the previous version too: resample each version once
        distinct = {version.id: outcomes for _, version, outcomes in pending}
        models = [candidate, *distinct.values()]
        if metric.name == "auc":
            resampled = resampler.aucs(candidate.positive, [o.scores for o in models])
        else:
            sums = resampler.sums([metric.terms(o) for o in models])
            resampled = [metric.from_sums(s, ctx.n) for s in sums]
        by_version = dict(zip(distinct, resampled[1:], strict=True))
        value = metric.compute(candidate)
        found = {}
        for role, version, outcomes in pending:
            theirs = by_version[version.id]
            reference = metric.compute(outcomes)
            difference = metric.better(value, reference)
            low, high = interval(metric.better(resampled[0], theirs), self.confidence)
            entry = {
                "ref": version.ref,
                "candidate": value,
                "reference": reference,
                "difference": difference,
                "ci_low": low,
                "ci_high": high,
            }
            if metric.name == "accuracy":
                entry["p_value"] = _mcnemar(candidate.correct, outcomes.correct)
                worse = entry["p_value"] < (1 - self.confidence) / 2
                failed = worse and difference < -self.tolerance
                test = f"McNemar p={entry['p_value']:.3g}"
            else:
                failed = high < -self.tolerance
                test = f"{self.confidence:.0%} CI [{low:+.4f}, {high:+.4f}]"
            verdict = Verdict.FAILED if failed else Verdict.PASSED
            said = (
                f"{role} {version.ref}: {metric.name} {fmt(value)} vs {fmt(reference)}, "
                f"difference {difference:+.4f} (positive: better; {test})"
            )
            if failed:
                said += f": worse beyond the tolerance {fmt(self.tolerance)}"
            found[role] = {**_result(verdict, said), **entry}
        return found


def _message(comparisons: dict[str, dict[str, Any]]) -> str:
    """Each comparison's message; a version met twice (the champion is often the previous
    version too) is described once."""
    seen: dict[str, str] = {}
    parts = []
    for role, found in comparisons.items():
        ref = found.get("ref")
        if ref in seen:
            parts.append(f"{role}: {ref}, as for the {seen[ref]}")
            continue
        parts.append(found["message"])
        if ref is not None:
            seen[ref] = role
    return "; ".join(parts)


def _result(verdict: Verdict, message: str) -> dict[str, Any]:
    return {"verdict": verdict, "message": message}


def _mcnemar(candidate_right: np.ndarray, reference_right: np.ndarray) -> float:
    """One-sided exact McNemar p-value that the candidate is wrong more often than the
    reference, from the rows where exactly one of them is right."""
    from scipy.stats import binomtest

    only_reference = int(np.sum(~candidate_right & reference_right))
    only_candidate = int(np.sum(candidate_right & ~reference_right))
    discordant = only_reference + only_candidate
    if discordant == 0:
        return 1.0
    return float(binomtest(only_reference, discordant, 0.5, alternative="greater").pvalue)
