"""What an evaluation records: check results, evaluations, policies and gate overrides.

Plain frozen dataclasses with no heavy imports, so reading records (the CLI, the gate) does
not load pandas, scikit-learn or matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """A check's outcome. ``errored``: it could not run, which never counts as passing;
    ``skipped``: there was nothing to judge (no champion yet, no sensitive attribute named)."""

    PASSED = "passed"
    FAILED = "failed"
    ERRORED = "errored"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: its value against its threshold, why, and the detail behind it."""

    name: str
    kind: str
    verdict: Verdict
    message: str
    value: float | None = None
    threshold: str | None = None
    blocking: bool = True
    detail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def blocks(self) -> bool:
        """Whether this result stops the gate: a blocking check that failed or errored."""
        return self.blocking and self.verdict in (Verdict.FAILED, Verdict.ERRORED)

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{**data, "verdict": Verdict(data["verdict"])})


@dataclass(frozen=True)
class Evaluation:
    """A suite run on a model version and a dataset version; ``passed`` when no blocking
    check failed or errored. ``compared_with``: role (champion, previous) -> ref and id."""

    id: str
    ref: str  # the model version, name/3
    version_id: str
    dataset: str  # the dataset version, name@2
    dataset_version_id: str
    suite_name: str
    suite_digest: str
    suite: dict[str, Any]
    passed: bool
    checks: list[CheckResult]
    compared_with: dict[str, dict[str, str]]
    row_count: int
    report_digest: str | None
    seconds: float
    created_at: datetime
    creator: str

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if c.blocks]

    def counts(self) -> dict[str, int]:
        """How many checks ended with each verdict."""
        return {str(v): sum(c.verdict is v for c in self.checks) for v in Verdict}

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "checks"}
        data["checks"] = [c.to_dict() for c in self.checks]
        data["created_at"] = self.created_at.isoformat()
        data["counts"] = self.counts()
        return data


@dataclass(frozen=True)
class Policy:
    """The suite a model's versions must pass before becoming champion or being deployed."""

    model: str
    suite_name: str
    suite_digest: str
    suite: dict[str, Any]
    updated_at: datetime
    updated_by: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True)
class Override:
    """A gate passed on someone's word: who, when, why, and what the gate found wrong."""

    id: str
    ref: str
    action: str
    reason: str
    problem: str
    evaluation_id: str | None
    created_at: datetime
    creator: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: containers recursively, numpy scalars as Python numbers,
    NaN and infinities as None, enums as their value."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, StrEnum):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
