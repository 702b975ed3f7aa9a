"""Data: the evaluation set checked against the training data's schema (pandera, through
``cairn.data.validate``): each column the model reads, the label and the sensitive attributes
keep their training type, their nullability and, for categorical and few-valued columns, their
values. Ranges are checked only with ``ranges: true``: a large evaluation set naturally holds
values beyond a smaller training set's minimum and maximum.

The training schema is inferred from the dataset version the model was trained on (its
lineage); a model with none recorded is checked against its signature (nullability and
categories) instead, and the result says so.
"""

from __future__ import annotations

from typing import Any

from cairn.evaluation.checks.base import Check, Outcome, require
from cairn.evaluation.entities import Verdict

MAX_SHOWN = 5


class DataCheck(Check):
    kind = "data"

    def __init__(
        self,
        *,
        ranges: bool = False,
        columns: tuple[str, ...] | list[str] | None = None,
        name: str | None = None,
        blocking: bool = True,
    ) -> None:
        super().__init__(name=name, blocking=blocking)
        self.ranges = ranges
        self.columns = None if columns is None else tuple(columns)

    def describe(self) -> str:
        return "data: evaluation set matches the training schema"

    def validate(self, task: str) -> None:
        require(isinstance(self.ranges, bool), "ranges", self.ranges, "true or false")

    def evaluate(self, ctx: Any) -> Outcome:
        from cairn.data import ColumnRule, Schema, validate

        rules, source = training_rules(ctx)
        wanted = self.columns or (*ctx.version.signature.columns, ctx.label, *ctx.sensitive)
        chosen = {}
        for column in dict.fromkeys(wanted):
            rule = rules.get(column)
            if rule is not None:
                chosen[column] = ColumnRule(
                    type=rule.type,
                    nullable=rule.nullable,
                    allowed=rule.allowed,
                    min=rule.min if self.ranges else None,
                    max=rule.max if self.ranges else None,
                )
        report = validate(ctx.frame, Schema(chosen, strict=False))
        detail = {
            "source": source,
            "columns": list(chosen),
            "violations": [v.to_dict() for v in report.violations],
        }
        count = len(report.violations)
        if count:
            shown = "; ".join(str(v) for v in report.violations[:MAX_SHOWN])
            more = f" (and {count - MAX_SHOWN} more)" if count > MAX_SHOWN else ""
            return Outcome(
                Verdict.FAILED,
                f"{count} violation(s) of the training schema ({source}): {shown}{more}",
                float(count),
                "no violation",
                detail,
            )
        return Outcome(
            Verdict.PASSED,
            f"{len(chosen)} columns match the training schema ({source})",
            0.0,
            "no violation",
            detail,
        )


def training_rules(ctx: Any) -> tuple[dict[str, Any], str]:
    """Column rules of the model's training data, and where they come from."""
    from cairn.data import ColumnRule, Kind, infer_schema

    for item in ctx.training_datasets():
        if item.kind is Kind.TABLE:
            return dict(infer_schema(item).columns), f"training data {item.ref}"
    rules = {
        spec.name: ColumnRule(
            nullable=spec.nullable,
            allowed=None if spec.categories is None else tuple(spec.categories),
        )
        for spec in ctx.version.signature.inputs
    }
    return rules, f"the signature of {ctx.version.ref}: no training data recorded"
