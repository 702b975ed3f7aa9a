"""The contract every check follows (as scikit-learn estimators do): the constructor only
stores its keyword parameters, under their own names; the work happens in ``evaluate``.

So a check can be written as a mapping (``to_dict``, ``from_dict``, what a suite's YAML holds),
compared and hashed. ``run`` never raises: a check that cannot run (an exception, a reference
model that cannot predict, a metric undefined on these labels) is reported ``errored`` with the
reason, never passed, and the rest of the suite still runs.
"""

from __future__ import annotations

import inspect
import time
from typing import TYPE_CHECKING, Any, ClassVar

from cairn.errors import CairnError, InvalidInput
from cairn.evaluation.entities import CheckResult, Verdict

if TYPE_CHECKING:
    from cairn.evaluation.context import EvaluationContext


class Outcome:
    """What ``Check.evaluate`` finds; ``run`` adds the check's name, kind and timing."""

    def __init__(
        self,
        verdict: Verdict,
        message: str,
        value: float | None = None,
        threshold: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.verdict = verdict
        self.message = message
        self.value = value
        self.threshold = threshold
        self.detail = detail or {}


class Check:
    """Base class: subclasses set ``kind`` and implement ``evaluate`` and ``describe``."""

    kind: ClassVar[str]

    def __init__(self, *, name: str | None = None, blocking: bool = True) -> None:
        self.name = name
        self.blocking = blocking

    # parameters ------------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        names: list[str] = []
        for klass in reversed(cls.__mro__):
            if "__init__" in vars(klass) and issubclass(klass, Check):
                for p in inspect.signature(klass.__init__).parameters.values():
                    if p.kind is p.KEYWORD_ONLY and p.name not in names:
                        names.append(p.name)
        return names

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def to_dict(self) -> dict[str, Any]:
        """``kind`` and every parameter not at its default, as plain data."""
        defaults = type(self)().get_params() if _constructible(type(self)) else {}
        params = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in self.get_params().items()
            if k not in defaults or defaults[k] != v
        }
        return {"kind": self.kind, **params}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_params() == self.get_params()

    def __hash__(self) -> int:
        return hash((self.kind, repr(sorted(self.get_params().items()))))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"{type(self).__name__}({shown})"

    @property
    def title(self) -> str:
        return self.name or self.describe()

    def describe(self) -> str:
        """A short default name, e.g. ``auc >= 0.7``."""
        return self.kind

    def validate(self, task: str) -> None:
        """Refuse parameters that make no sense for ``task`` (InvalidInput naming them)."""

    # running ---------------------------------------------------------------------------

    def evaluate(self, ctx: EvaluationContext) -> Outcome:
        raise NotImplementedError

    def run(self, ctx: EvaluationContext) -> CheckResult:
        """The check's result; an exception becomes an ``errored`` result saying why."""
        started = time.perf_counter()
        try:
            outcome = self.evaluate(ctx)
        except CairnError as exc:
            outcome = Outcome(Verdict.ERRORED, f"could not run: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - any failure is reported, never passed
            outcome = Outcome(Verdict.ERRORED, f"could not run: {type(exc).__name__}: {exc}")
        return CheckResult(
            name=self.title,
            kind=self.kind,
            verdict=outcome.verdict,
            message=outcome.message,
            value=outcome.value,
            threshold=outcome.threshold,
            blocking=self.blocking,
            detail=outcome.detail,
            seconds=round(time.perf_counter() - started, 4),
        )


def _constructible(cls: type[Check]) -> bool:
    try:
        cls()
    except (TypeError, InvalidInput):
        return False
    return True


def require(condition: bool, field: str, value: Any, expected: str) -> None:
    """InvalidInput naming ``field`` and ``value`` unless ``condition``."""
    if not condition:
        raise InvalidInput.for_field(field, value, expected)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def fmt(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.4g}"
