"""Automated evaluation suites and the promotion gate (Level 2).

``evaluate(ref, data)`` runs a suite of checks — metric thresholds, regression tests against
the champion and the previous version, fairness, slices, robustness, budgets and the data
against the training schema — on a model version and an evaluation dataset version, and stores
an ``Evaluation`` with every check's value, threshold, verdict and detail, an HTML report and
lineage. A model with a policy (``set_policy``) becomes champion, or is deployed
(``require_passing_evaluation``), only with a passing evaluation on its policy's suite, or with
an override reason, which is recorded.

The record types and the gate load nothing heavy; the rest is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from cairn.evaluation.entities import CheckResult, Evaluation, Override, Policy, Verdict
from cairn.evaluation.gate import (
    GateFailed,
    clear_policy,
    get_policy,
    overrides_of,
    require_passing_evaluation,
    set_policy,
)

_LAZY = {
    "Suite": "cairn.evaluation.suite",
    "load_suite": "cairn.evaluation.suite",
    "EvaluationService": "cairn.evaluation.service",
    "evaluation_service": "cairn.evaluation.service",
    "TEMPLATES": "cairn.evaluation.templates",
    "template_for": "cairn.evaluation.templates",
    "binary_classification": "cairn.evaluation.templates",
    "multiclass_classification": "cairn.evaluation.templates",
    "regression": "cairn.evaluation.templates",
    "checks": "cairn.evaluation.checks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = importlib.import_module(module)
    return loaded if name == "checks" else getattr(loaded, name)


def evaluate(model: Any, data: Any, **options: Any) -> Evaluation:
    """Run a suite on a model version (``name/3``) with evaluation ``data``; see
    ``EvaluationService.evaluate`` for ``suite``, ``label``, ``sensitive``, ``dataset_name``."""
    from cairn.evaluation.service import evaluation_service

    return evaluation_service().evaluate(model, data, **options)


def get_evaluation(evaluation_id: str) -> Evaluation:
    from cairn.evaluation.service import evaluation_service

    return evaluation_service().get(evaluation_id)


def list_evaluations(model: str) -> list[Evaluation]:
    """Evaluations of a version (``name/3``) or of a model's every version, newest first."""
    from cairn.evaluation.service import evaluation_service

    return evaluation_service().list(model)


def report_html(evaluation_id: str) -> str:
    from cairn.evaluation.service import evaluation_service

    return evaluation_service().report(evaluation_id)


__all__ = [
    "TEMPLATES",
    "CheckResult",
    "Evaluation",
    "EvaluationService",
    "GateFailed",
    "Override",
    "Policy",
    "Suite",
    "Verdict",
    "binary_classification",
    "checks",
    "clear_policy",
    "evaluate",
    "evaluation_service",
    "get_evaluation",
    "get_policy",
    "list_evaluations",
    "load_suite",
    "multiclass_classification",
    "overrides_of",
    "regression",
    "report_html",
    "require_passing_evaluation",
    "set_policy",
    "template_for",
]
