"""What every check of one evaluation shares: the data, the labels, the model's predictions
(computed once), the versions to compare with and their predictions (computed when a check
first asks), and the bootstrap resamples.

Building a context is where bad input is refused, naming the column: a label column that is
missing, has missing values or holds classes the model does not know; a sensitive attribute
that is not in the data; model inputs that are missing or of the wrong type (the signature
check).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cairn.errors import InvalidInput
from cairn.evaluation.bootstrap import Resampler
from cairn.evaluation.metrics import Outcomes
from cairn.registry import LoadedModel, ModelVersion, RegistryService, Signature, registry_service
from cairn.registry.signature import check_input

#: Column names taken as a regressor's label when none is given.
REGRESSION_LABELS = ("target", "label", "y")


def task_of(signature: Signature) -> str:
    """binary, multiclass or regression, from what the model predicts."""
    if signature.classes is None:
        return "regression"
    return "binary" if len(signature.classes) == 2 else "multiclass"


class EvaluationContext:
    """The evaluation data and predictions of one model version, shared by the checks."""

    def __init__(
        self,
        *,
        version: ModelVersion,
        model: LoadedModel,
        frame: pd.DataFrame,
        label: str | None = None,
        sensitive: Sequence[str] = (),
        references: dict[str, ModelVersion | None] | None = None,
        registry: RegistryService | None = None,
        seed: int = 0,
    ) -> None:
        self.version = version
        self.model = model
        self.frame = frame
        self.task = task_of(version.signature)
        self.classes = (
            None if version.signature.classes is None else tuple(version.signature.classes)
        )
        self.label = label_column(frame, label, version.signature)
        self.sensitive = tuple(sensitive)
        for column in self.sensitive:
            require_column(frame, column, "sensitive", "sensitive attribute")
        self.y = labels(frame, self.label, self.classes)
        self.inputs = check_input(version.signature, frame)
        scores = predict(model.model, self.inputs, self.task)
        self.outcomes = Outcomes(self.task, self.y, scores, self.classes)
        self.references = references or {}
        self.registry = registry
        self._reference_outcomes: dict[str, Outcomes] = {}
        self.seed = seed

    @property
    def n(self) -> int:
        return len(self.frame)

    def resampler(self, resamples: int) -> Resampler:
        return Resampler(self.n, resamples, self.seed)

    def reference(self, role: str) -> tuple[ModelVersion, Outcomes] | None:
        """The version playing ``role`` (champion, previous) and its predictions on this data,
        or None when there is no such version. Raises when it cannot predict on this data."""
        version = self.references.get(role)
        if version is None:
            return None
        if version.id not in self._reference_outcomes:
            loaded = (self.registry or registry_service()).load(version.ref)
            if task_of(version.signature) != self.task:
                raise InvalidInput(
                    f"{version.ref} is a {task_of(version.signature)} model and "
                    f"{self.version.ref} a {self.task} one: they cannot be compared",
                    field=role,
                    value=version.ref,
                )
            scores = predict(loaded.model, check_input(version.signature, self.frame), self.task)
            if self.task == "multiclass" and tuple(version.signature.classes) != self.classes:
                raise InvalidInput(
                    f"{version.ref} predicts classes {version.signature.classes}, "
                    f"{self.version.ref} {list(self.classes)}",
                    field=role,
                    value=version.ref,
                )
            self._reference_outcomes[version.id] = Outcomes(self.task, self.y, scores, self.classes)
        return version, self._reference_outcomes[version.id]

    def compared(self) -> list[tuple[str, ModelVersion, Outcomes]]:
        """The references whose predictions a check has computed (each version once)."""
        found, seen = [], set()
        for role, version in self.references.items():
            if version is None or version.id in seen:
                continue
            if version.id in self._reference_outcomes:
                seen.add(version.id)
                found.append((role, version, self._reference_outcomes[version.id]))
        return found

    def training_datasets(self) -> list[Any]:
        """The dataset versions the model was trained on (its lineage), oldest first."""
        from cairn.data import get_version

        view = (self.registry or registry_service()).lineage(self.version.ref)
        return [get_version(item["ref"]) for item in view["datasets"]]


def predict(model: Any, inputs: pd.DataFrame, task: str) -> np.ndarray:
    """Positive-class probability (binary), class probabilities (multiclass) or predictions;
    a classifier without ``predict_proba`` gives certain (0 or 1) probabilities."""
    if task == "regression":
        return np.asarray(model.predict(inputs), dtype=float)
    if callable(getattr(model, "predict_proba", None)):
        proba = np.asarray(model.predict_proba(inputs), dtype=float)
    else:
        predicted = np.asarray(model.predict(inputs))
        proba = (predicted[:, None] == np.asarray(model.classes_)[None, :]).astype(float)
    return proba[:, 1] if task == "binary" else proba


def require_column(frame: pd.DataFrame, column: Any, field: str, what: str) -> None:
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20]))
        raise InvalidInput(
            f"{what} {column!r} is not a column of the evaluation data (columns: {shown})",
            field=field,
            value=column,
        )


def label_column(frame: pd.DataFrame, label: str | None, signature: Signature) -> str:
    """``label``, or the one column that can be the label: for a classifier, the only column
    outside the model's inputs whose values are all among its classes."""
    if label is not None:
        require_column(frame, label, "label", "label column")
        return label
    others = [c for c in frame.columns if c not in set(signature.columns)]
    if signature.classes is None:
        found = [c for c in others if str(c).lower() in REGRESSION_LABELS]
    else:
        known = set(signature.classes)
        found = []
        for column in others:
            values = pd.unique(frame[column].dropna())
            if len(values) <= len(known) and set(values.tolist()) <= known:
                found.append(column)
    if len(found) != 1:
        why = "several columns could be" if found else "no column is recognisably"
        raise InvalidInput(
            f"{why} the label ({', '.join(map(str, found)) or 'none'}): name the label column "
            "(label=... or --label)",
            field="label",
            value=None,
        )
    return found[0]


def labels(frame: pd.DataFrame, label: str, classes: tuple[Any, ...] | None) -> np.ndarray:
    """The label column as an array; InvalidInput naming it when labels are missing or unknown."""
    column = frame[label]
    missing = int(column.isna().sum())
    if missing:
        raise InvalidInput(
            f"label column {label!r} has {missing:,} missing value(s): every evaluation row "
            "needs its label",
            field=label,
            value=None,
        )
    values = column.to_numpy()
    if classes is None:
        if column.dtype.kind not in "iufb":
            raise InvalidInput(
                f"label column {label!r} has type {column.dtype}: a regressor's labels are numbers",
                field=label,
                value=str(column.dtype),
            )
        return values.astype(float)
    known = set(classes)
    unknown = [v for v in pd.unique(column).tolist() if v not in known]
    if unknown:
        raise InvalidInput(
            f"label column {label!r} holds {unknown[:5]}, which the model does not predict "
            f"(its classes: {list(classes)})",
            field=label,
            value=unknown[0],
        )
    return values
