"""Model signatures: the columns a model takes and what it predicts, and the check at predict.

Inferred at registration from the input example and the model. At predict time ``check_input``
refuses a frame with a missing column, a value of the wrong type, an unknown category or a null
where none was seen, naming the field, what was expected and what came; it hands the model a
frame with the columns in training order and categoricals with their training categories.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
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


@dataclass(frozen=True)
class InputProblem:
    """Why one row (or, with ``row`` None, the whole input) cannot be predicted."""

    field: str
    expected: str
    got: str  # what came, described for a person: "'old' (str)", "null"
    row: int | None = None
    value: Any = None  # what came, as it came

    @property
    def message(self) -> str:
        where = "" if self.row is None else f" at row {self.row}"
        return f"input column {self.field!r}{where}: expected {self.expected}, got {self.got}"

    def error(self) -> InvalidInput:
        return InvalidInput(self.message, field=self.field, value=self.value)


def check_input(signature: Signature, data: Any) -> pd.DataFrame:
    """``data`` as the frame the model was trained on; InvalidInput naming the first problem."""
    frame, problems = check_rows(signature, as_frame(data))
    if problems:
        raise problems[0].error()
    return frame


def check_rows(
    signature: Signature, data: pd.DataFrame | Mapping[str, list[Any]]
) -> tuple[pd.DataFrame, list[InputProblem]]:
    """The model-ready frame, and the first problem of each bad row (ordered by row).

    ``data`` is a frame or, as the model server has it from JSON, lists of values by column.
    A column whose dtype already fits is checked with array operations; values of mixed or
    unknown type (JSON, object columns) one by one. The server checks a whole micro-batch of
    requests at once and refuses only the requests whose rows fail. A missing column fails
    every row.
    """
    missing = [c for c in signature.columns if c not in data]
    if missing:
        return pd.DataFrame(), [
            InputProblem(missing[0], "a value", "nothing: the column is missing")
        ]
    first: dict[int, InputProblem] = {}
    out = {}
    for spec in signature.inputs:
        out[spec.name], bad = _check_column(spec, _values(data[spec.name]))
        for position, problem in bad:
            first.setdefault(position, problem)
    index = data.index if isinstance(data, pd.DataFrame) else None
    return pd.DataFrame(out, index=index), [first[p] for p in sorted(first)]


def _values(column: Any) -> np.ndarray:
    """A column as a 1-d array: typed when its dtype is, else of Python objects."""
    if isinstance(column, pd.Series):
        return column.to_numpy()
    return np.fromiter(column, dtype=object, count=len(column))  # 1-d, even if values are lists


def _check_column(spec: ColumnSpec, values: np.ndarray) -> tuple[Any, list]:
    """The column converted to its training type, and (row position, problem) for bad rows."""
    nulls = np.asarray(pd.isna(values), dtype=bool)
    bad = np.zeros(len(values), dtype=bool)
    problems: list[tuple[int, InputProblem]] = []

    def refuse(mask: np.ndarray, expected: str, describe: Any) -> None:
        for position in np.flatnonzero(mask & ~bad)[:_MAX_REPORTED]:
            value = _plain([values[position]])[0]
            problem = InputProblem(spec.name, expected, describe(value), int(position), value)
            problems.append((int(position), problem))
        bad[mask] = True

    if not spec.nullable and nulls.any():
        refuse(nulls, f"{spec.type} without nulls", lambda _: "null or no value")
    converted: Any = values
    if spec.type in ("integer", "float"):
        converted, wrong = _as_number(values, nulls, integer=spec.type == "integer")
        refuse(wrong, spec.type, _typed)
    elif spec.type == "boolean":
        refuse(~nulls & ~_each_is(values, bool, "b"), "boolean", _typed)
    elif spec.type == "datetime" and values.dtype.kind != "M":
        converted = pd.to_datetime(pd.Series(values), errors="coerce").to_numpy()
        refuse(~nulls & pd.isna(converted), "datetime", _typed)
    elif spec.type == "string":
        refuse(~nulls & ~_each_is(values, str, "US"), "string", _typed)
    if spec.categories is not None:
        dtype = _category_dtype(tuple(spec.categories))
        codes = dtype.categories.get_indexer(values)  # -1: unknown or null
        refuse((codes < 0) & ~nulls, f"one of {spec.categories}", repr)
        converted = pd.Categorical.from_codes(codes, dtype=dtype)
    return converted, problems


@functools.lru_cache(maxsize=256)
def _category_dtype(categories: tuple[Any, ...]) -> pd.CategoricalDtype:
    """Made once per set of categories: building one validates them, which costs."""
    return pd.CategoricalDtype(list(categories))


#: Bad values named per column: enough to fix a batch, bounded for a huge one.
_MAX_REPORTED = 1000


def _as_number(
    values: np.ndarray, nulls: np.ndarray, *, integer: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The column as numbers (integers as int64 when whole and complete), and where a value is
    not a number of the kind expected. JSON gives mixed columns: a bool or "12" is no number."""
    kind = values.dtype.kind
    none = np.zeros(len(values), dtype=bool)
    if kind in "iu":
        return values, none
    if kind == "f":
        numbers, wrong = values, none
    elif kind == "O" and set(map(type, values)) <= _JSON_NUMBERS:  # JSON numbers, nulls
        numbers, wrong = np.array(values, dtype=float), none
    elif kind == "O":
        plain = np.fromiter(map(_is_number, values), dtype=bool, count=len(values))
        numbers, wrong = np.where(plain, values, np.nan), ~nulls & ~plain
    else:  # booleans, text, times: not numbers
        return values, ~nulls
    array = numbers.astype(float)
    if not integer:
        return array, wrong
    wrong = wrong | (np.isfinite(array) & (array != np.round(array))) | np.isinf(array)
    if nulls.any() or wrong.any():
        return array, wrong
    return array.astype(np.int64), wrong


#: Types of the values a JSON decoder gives for numbers and nulls.
_JSON_NUMBERS = {int, float, type(None)}


def _each_is(values: np.ndarray, kind: type, dtype_kinds: str) -> np.ndarray:
    """Where each value is a ``kind`` (bool or str): by dtype when it says, else one by one."""
    if values.dtype.kind in dtype_kinds or (
        values.dtype.kind == "O" and set(map(type, values)) <= {kind, type(None)}
    ):
        return np.ones(len(values), dtype=bool)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    check = _is_bool if kind is bool else (lambda v: isinstance(v, str))
    return np.fromiter(map(check, values), dtype=bool, count=len(values))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _typed(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
