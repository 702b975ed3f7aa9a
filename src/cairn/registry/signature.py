"""Model signatures: the columns a model takes and what it predicts, and the check at predict.

Inferred at registration from the input example and the model. At predict time ``check_input``
refuses a frame with a missing column, a value of the wrong type, an unknown category or a null
where none was seen, naming the field, what was expected and what came; it hands the model a
frame with the columns in training order and categoricals with their training categories.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cairn.errors import InvalidInput

#: Column types a signature knows; each accepts the pandas kinds listed.
_ACCEPTS = {
    "integer": "iu",
    "float": "iuf",
    "boolean": "b",
    "string": "OSU",
    "category": "OSU",
    "datetime": "M",
}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str  # one of _ACCEPTS
    nullable: bool = False
    categories: list[Any] | None = None  # the known categories of a categorical column


@dataclass(frozen=True)
class Signature:
    inputs: list[ColumnSpec]
    prediction_type: str  # integer, float, boolean, string
    classes: list[Any] | None = None  # a classifier's classes, in predict_proba order
    has_proba: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        inputs = [ColumnSpec(**c) for c in data["inputs"]]
        return cls(**{**data, "inputs": inputs})

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.inputs]


def _column_type(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    kind = dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    if kind == "M":
        return "datetime"
    return "string"


def _plain(values: Any) -> list[Any]:
    """JSON-able Python values (numpy scalars become ints, floats, strings)."""
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def infer_signature(model: Any, example: Any) -> Signature:
    """The signature of ``model`` on frames like ``example`` (which it is asked to predict)."""
    frame = as_frame(example, "input_example")
    if frame.empty:
        raise InvalidInput.for_field("input_example", "an empty frame", "at least one row")
    inputs = []
    for name in frame.columns:
        series = frame[name]
        kind = _column_type(series)
        categories = _plain(series.dtype.categories) if kind == "category" else None
        # a float column may carry NaN (a head() of the data rarely shows one); others only
        # when the example has nulls
        nullable = kind == "float" or bool(series.isna().any())
        inputs.append(ColumnSpec(str(name), kind, nullable, categories))
    try:
        predicted = np.asarray(model.predict(frame))
    except Exception as exc:
        raise InvalidInput(
            f"the model cannot predict its input_example: {type(exc).__name__}: {exc}",
            field="input_example",
            value=type(model).__qualname__,
        ) from exc
    classes = getattr(model, "classes_", None)
    return Signature(
        inputs=inputs,
        prediction_type=_column_type(pd.Series(predicted.ravel())),
        classes=None if classes is None else _plain(np.asarray(classes)),
        has_proba=callable(getattr(model, "predict_proba", None)),
    )


def as_frame(data: Any, field_name: str = "input") -> pd.DataFrame:
    """A DataFrame from a frame, a mapping of columns or a list of records."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, dict | list):
        try:
            return pd.DataFrame(data)
        except ValueError as exc:
            raise InvalidInput.for_field(field_name, type(data).__name__, str(exc)) from exc
    if type(data).__module__.split(".")[0] == "pyarrow":
        return data.to_pandas()
    raise InvalidInput.for_field(
        field_name,
        type(data).__qualname__,
        "a pandas DataFrame, an Arrow table, a dict of columns or a list of records",
    )


def check_input(signature: Signature, data: Any) -> pd.DataFrame:
    """``data`` as the frame the model was trained on; InvalidInput naming the first problem."""
    frame = as_frame(data)
    missing = [c for c in signature.columns if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"input column {missing[0]!r} is missing: expected columns {signature.columns}, "
            f"got {[str(c) for c in frame.columns]}",
            field=missing[0],
            value=None,
        )
    out = {}
    for spec in signature.inputs:
        out[spec.name] = _check_column(spec, frame[spec.name])
    return pd.DataFrame(out, index=frame.index)


def _check_column(spec: ColumnSpec, series: pd.Series) -> pd.Series:
    nulls = series.isna()
    if not spec.nullable and nulls.any():
        raise InvalidInput(
            f"input column {spec.name!r} has {int(nulls.sum())} null value(s): expected "
            f"{spec.type} without nulls",
            field=spec.name,
            value=None,
        )
    got = _column_type(series)
    accepted = _ACCEPTS[spec.type]
    kind = "O" if got == "category" else series.dtype.kind
    if got == "float" and spec.type == "integer" and _integral(series[~nulls]):
        kind = "i"
    if kind not in accepted and not (got == "category" and spec.type in ("category", "string")):
        raise InvalidInput(
            f"input column {spec.name!r} has type {got} ({series.dtype}): expected {spec.type}",
            field=spec.name,
            value=str(series.dtype),
        )
    if spec.categories is None:
        return series
    known = set(spec.categories)
    unknown = [v for v in pd.unique(series[~nulls].astype(object)) if v not in known]
    if unknown:
        raise InvalidInput(
            f"input column {spec.name!r} has unknown categories {_plain(unknown[:5])}: "
            f"expected one of {spec.categories}",
            field=spec.name,
            value=_plain(unknown[:1])[0],
        )
    return pd.Series(
        pd.Categorical(series.astype(object), categories=spec.categories), index=series.index
    )


def _integral(values: pd.Series) -> bool:
    array = values.to_numpy(dtype=float)
    return bool(np.all(np.isfinite(array) & (array == np.round(array))))
