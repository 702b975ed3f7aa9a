"""Suites: named lists of checks, written in code or in YAML.

```yaml
name: credit-risk-standard
label: defaulted            # optional: the label column (inferred for classifiers)
sensitive: [age_band, sex]  # attributes fairness checks judge by default
checks:
  - {kind: metric, metric: auc, min: 0.75}
  - {kind: metric, metric: log_loss, max: baseline}
  - {kind: regression, metric: auc, against: [champion, previous], tolerance: 0.005}
  - {kind: fairness, max_demographic_parity_difference: 0.1}
```

A suite's ``digest`` (SHA-256 of its canonical JSON) is what a model's policy pins: the gate
accepts only an evaluation on exactly that suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from cairn.errors import InvalidInput, NotFound
from cairn.evaluation.checks import Check, check_from_dict
from cairn.evaluation.entities import CheckResult

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_KEYS = ("name", "description", "label", "sensitive", "checks")


class Suite:
    """Checks run together on one model version and one evaluation set."""

    def __init__(
        self,
        name: str,
        checks: Sequence[Check],
        *,
        label: str | None = None,
        sensitive: Sequence[str] = (),
        description: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise InvalidInput.for_field(
                "suite.name", name, "1 to 128 letters, digits, '.', '_' or '-'"
            )
        if isinstance(sensitive, str) or not all(isinstance(s, str) for s in sensitive):
            raise InvalidInput.for_field("suite.sensitive", sensitive, "a list of column names")
        if not checks:
            raise InvalidInput.for_field("suite.checks", [], "at least one check")
        self.name = name
        self.checks = list(checks)
        self.label = label
        self.sensitive = tuple(sensitive)
        self.description = description

    def __repr__(self) -> str:
        return f"Suite({self.name!r}, {len(self.checks)} checks)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Suite) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(self.digest)

    # plain data ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.description:
            data["description"] = self.description
        if self.label is not None:
            data["label"] = self.label
        data["sensitive"] = list(self.sensitive)
        data["checks"] = [c.to_dict() for c in self.checks]
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "suite") -> Suite:
        if not isinstance(data, dict):
            raise InvalidInput.for_field(where, data, f"a mapping with keys {', '.join(_KEYS)}")
        for key in data:
            if key not in _KEYS:
                raise InvalidInput.for_field(
                    f"{where}.{key}", data[key], f"one of {', '.join(_KEYS)}"
                )
        checks = data.get("checks")
        if not isinstance(checks, list):
            raise InvalidInput.for_field(f"{where}.checks", checks, "a list of checks")
        return cls(
            data.get("name"),
            [check_from_dict(c, f"{where}.checks[{i}]") for i, c in enumerate(checks)],
            label=data.get("label"),
            sensitive=data.get("sensitive") or (),
            description=data.get("description"),
        )

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Suite:
        source = Path(path)
        try:
            data = yaml.safe_load(source.read_text())
        except FileNotFoundError:
            raise NotFound.for_field("suite file", str(source)) from None
        except yaml.YAMLError as exc:
            raise InvalidInput(
                f"suite file {str(source)!r} is not valid YAML: {exc}",
                field="suite",
                value=str(source),
            ) from exc
        return cls.from_dict(data, where=source.name)

    def to_yaml(self, path: str | os.PathLike | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, width=100)
        if path is not None:
            Path(path).write_text(text)
        return text

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_options(
        self, *, label: str | None = None, sensitive: Sequence[str] | None = None
    ) -> Suite:
        """This suite with another label column or other sensitive attributes."""
        return Suite(
            self.name,
            self.checks,
            label=self.label if label is None else label,
            sensitive=self.sensitive if sensitive is None else tuple(sensitive),
            description=self.description,
        )

    # running ---------------------------------------------------------------------------

    def validate(self, task: str) -> None:
        """InvalidInput naming ``checks[i].<parameter>`` for a check unfit for ``task``."""
        for i, check in enumerate(self.checks):
            try:
                check.validate(task)
            except InvalidInput as exc:
                raise InvalidInput(
                    f"suite {self.name!r}, check {i} ({check.kind}): {exc.message}",
                    field=f"checks[{i}].{exc.field}",
                    value=exc.value,
                ) from exc

    def run(self, ctx: Any) -> list[CheckResult]:
        """Every check's result, in order; a check that cannot run is ``errored``."""
        return [check.run(ctx) for check in self.checks]


def load_suite(suite: Suite | str | os.PathLike, task: str | None = None) -> Suite:
    """A suite from an object, a template name (``binary-classification``, ...) or a YAML path."""
    from cairn.evaluation.templates import TEMPLATES

    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, str) and suite in TEMPLATES:
        return TEMPLATES[suite]()
    if isinstance(suite, str | os.PathLike) and Path(suite).suffix in (".yaml", ".yml", ".json"):
        return Suite.from_yaml(suite)
    raise InvalidInput.for_field(
        "suite", suite, f"a Suite, a YAML file or a template: {', '.join(TEMPLATES)}"
    )
