"""The kinds of check a suite is built from, by the name a suite's YAML gives them."""

from __future__ import annotations

from typing import Any

from cairn.errors import InvalidInput
from cairn.evaluation.checks.base import Check, Outcome
from cairn.evaluation.checks.budget import BudgetCheck
from cairn.evaluation.checks.data import DataCheck
from cairn.evaluation.checks.fairness import FairnessCheck
from cairn.evaluation.checks.metric import MetricCheck
from cairn.evaluation.checks.regression import RegressionCheck
from cairn.evaluation.checks.robustness import RobustnessCheck
from cairn.evaluation.checks.slices import SliceCheck

CHECKS: dict[str, type[Check]] = {
    c.kind: c
    for c in (
        MetricCheck,
        RegressionCheck,
        FairnessCheck,
        SliceCheck,
        RobustnessCheck,
        BudgetCheck,
        DataCheck,
    )
}


def check_from_dict(data: Any, where: str = "check") -> Check:
    """The check a mapping describes (``kind`` and parameters); InvalidInput naming the key."""
    if not isinstance(data, dict):
        raise InvalidInput.for_field(where, data, "a mapping with a 'kind' and its parameters")
    kind = data.get("kind")
    cls = CHECKS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidInput.for_field(f"{where}.kind", kind, f"one of {', '.join(CHECKS)}")
    params = {k: v for k, v in data.items() if k != "kind"}
    known = cls._param_names()
    for key in params:
        if key not in known:
            raise InvalidInput.for_field(
                f"{where}.{key}", params[key], f"a parameter of a {kind} check: {', '.join(known)}"
            )
    return cls(**params)


__all__ = [
    "CHECKS",
    "BudgetCheck",
    "Check",
    "DataCheck",
    "FairnessCheck",
    "MetricCheck",
    "Outcome",
    "RegressionCheck",
    "RobustnessCheck",
    "SliceCheck",
    "check_from_dict",
]
