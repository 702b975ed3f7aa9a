"""Compiling a scikit-learn, LightGBM or XGBoost model to ONNX for serving: the same function,
run by onnxruntime.

A fitted pipeline spends milliseconds per call in Python (column selection, validation), however
few rows it is given; its ONNX graph (converted by skl2onnx) answers the same rows in tens of
microseconds. LightGBM and XGBoost models, alone or inside a scikit-learn pipeline, are
converted by onnxmltools' tree converters, registered with skl2onnx.

The graph computes in float32, so it is checked before it is used: on rows drawn from the
signature (every category, nulls where allowed, numbers over many magnitudes) and on any sample
given, it must give the original's probabilities (or values) within ``TOLERANCE`` and its
labels, except where the original's two likeliest classes are closer than that. (Where the
original refuses nulls by raising, rows with nulls are left out of the check.)

A registry version compiled by ``load_compiled`` keeps its checked graph: the graph goes to the
artifact store and the version's tag ``COMPILED_TAG`` names it, so later loads, on any machine
sharing the registry, run it without converting or checking again, and without skl2onnx.
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from cairn.errors import InvalidInput, NotFound
from cairn.registry import LoadedModel
from cairn.registry.flavours import OnnxModel
from cairn.registry.signature import Signature, check_input

log = logging.getLogger(__name__)

TOLERANCE = 1e-4
CHECK_ROWS = 2_000
#: The model version tag naming the stored ONNX graph of the version (JSON: digest, converter).
COMPILED_TAG = "cairn.compiled.onnx"


def compile_onnx(
    loaded: LoadedModel, sample: pd.DataFrame | None = None, *, rows: int = CHECK_ROWS
) -> LoadedModel:
    """``loaded`` with its model replaced by the ONNX graph of it, once the graph has been
    shown to agree with it on ``rows`` rows drawn from the signature and on ``sample``."""
    compiled = _with_graph(_convert(loaded), loaded.signature, loaded.metadata)
    frames = [synthetic_rows(loaded.signature, rows)]
    if sample is not None:
        frames.append(check_input(loaded.signature, sample))
    _check_agreement(loaded, compiled, pd.concat(frames, ignore_index=True))
    return compiled


def load_compiled(ref: str) -> LoadedModel:
    """The registry version ``ref`` as its ONNX graph: the graph stored with the version when
    there is one, else compiled and checked now (``compile_onnx``), then stored for next time."""
    from cairn.registry.service import registry_service

    registry = registry_service()
    version = registry.get_version(ref)
    stored = _stored_graph(registry.artifacts, version.tags.get(COMPILED_TAG))
    if stored is not None:
        return _with_graph(stored, version.signature, version.to_dict())
    loaded = registry.load(version.ref)
    compiled = compile_onnx(loaded)
    record = {
        "digest": registry.artifacts.put_bytes(compiled.model.graph),
        "converter": _converter_version(loaded.model),
    }
    registry.update_version(version.ref, tags={COMPILED_TAG: json.dumps(record)})
    return compiled


def _stored_graph(artifacts: Any, tag: str | None) -> bytes | None:
    """The graph a version's ``COMPILED_TAG`` names; None when there is none, or the tag or
    its blob is not usable (edited by hand, or the blob gone): it is compiled again."""
    if tag is None:
        return None
    try:
        return artifacts.get_bytes(json.loads(tag)["digest"])
    except (ValueError, KeyError, TypeError, NotFound) as exc:
        log.warning("the stored ONNX graph (%s) is not usable, compiling again: %s", tag, exc)
        return None


def _convert(loaded: LoadedModel) -> bytes:
    """The ONNX graph of a scikit-learn, LightGBM or XGBoost model, as protobuf bytes,
    unchecked."""
    if loaded.flavour not in ("sklearn", "lightgbm", "xgboost"):
        raise InvalidInput.for_field(
            "compile", loaded.flavour, "a scikit-learn, LightGBM or XGBoost model to compile"
        )
    try:
        from skl2onnx import get_latest_tested_opset_version, to_onnx
    except ImportError as exc:
        raise InvalidInput.for_field(
            "compile", "onnx", "skl2onnx and onnxruntime installed: pip install 'cairn[onnx]'"
        ) from exc
    boosting = _boosting_libraries(loaded.model)
    _register_boosting_converters(boosting)
    model = _unnamed_xgboost_features(loaded.model) if "xgboost" in boosting else loaded.model
    options = {id(model): {"zipmap": False}} if loaded.signature.has_proba else None
    # onnxmltools' tree converters write the ai.onnx.ml operators of opset 3
    opset = {"": get_latest_tested_opset_version(), "ai.onnx.ml": 3} if boosting else None
    failures = []
    for inputs in _input_choices(loaded.signature):
        try:
            graph = to_onnx(model, initial_types=inputs, options=options, target_opset=opset)
            return graph.SerializeToString()
        except Exception as exc:  # skl2onnx raises many types for what it cannot convert
            failures.append(exc)
    first = failures[0]  # the likeliest input layout: the others' errors say less
    raise InvalidInput.for_field(
        "compile",
        type(loaded.model).__name__,
        f"a model skl2onnx can convert ({type(first).__name__}: {first})",
    ) from first


#: For each boosting library: its scikit-learn-style estimators, and onnxmltools' converter.
_CONVERTERS = {
    "lightgbm": (
        ("LGBMClassifier", "LGBMRegressor"),
        "onnxmltools.convert.lightgbm.operator_converters.LightGbm",
        "convert_lightgbm",
    ),
    "xgboost": (
        ("XGBClassifier", "XGBRegressor"),
        "onnxmltools.convert.xgboost.operator_converters.XGBoost",
        "convert_xgboost",
    ),
}
_registered: set[str] = set()


def _parts(model: Any) -> list[Any]:
    """``model`` and, for a pipeline, every estimator and transformer inside it."""
    nested = model.get_params(deep=True).values() if hasattr(model, "get_params") else ()
    return [model, *nested]


def _library(part: Any) -> str:
    return type(part).__module__.split(".")[0]


def _boosting_libraries(model: Any) -> set[str]:
    """The boosting libraries whose estimators ``model`` is or holds."""
    return {_library(part) for part in _parts(model)} & set(_CONVERTERS)


def _unnamed_xgboost_features(model: Any) -> Any:
    """A copy of ``model`` whose XGBoost boosters keep no feature names: onnxmltools reads
    features by position and refuses names other than f0, f1, ... (an XGBoost model fitted on
    a DataFrame keeps the column names, which the signature checks before the graph runs)."""
    model = copy.deepcopy(model)
    for part in _parts(model):
        if _library(part) == "xgboost" and hasattr(part, "get_booster"):
            part.get_booster().feature_names = None
    return model


def _register_boosting_converters(libraries: set[str]) -> None:
    """Teach skl2onnx onnxmltools' converters for the estimators of ``libraries`` (once)."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    for library in sorted(libraries - _registered):
        names, module, function = _CONVERTERS[library]
        try:
            converter = getattr(importlib.import_module(module), function)
        except ImportError as exc:
            raise InvalidInput.for_field(
                "compile",
                "onnx",
                f"onnxmltools installed to convert {library} models: pip install 'cairn[onnx]'",
            ) from exc
        for name in names:
            classifier = name.endswith("Classifier")
            update_registered_converter(
                getattr(importlib.import_module(library), name),
                f"{library}{name}",
                calculate_linear_classifier_output_shapes
                if classifier
                else calculate_linear_regressor_output_shapes,
                converter,
                options={"nocl": [True, False], "zipmap": [True, False]} if classifier else None,
            )
        _registered.add(library)


def _with_graph(graph: bytes, signature: Signature, metadata: dict[str, Any]) -> LoadedModel:
    runtime = OnnxModel(graph, columns=signature.columns)
    return LoadedModel(runtime, signature, {**metadata, "compiled": "onnx"})


def _converter_version(model: Any) -> str:
    """The converters that made the graph of ``model``."""
    import skl2onnx

    version = f"skl2onnx {skl2onnx.__version__}"
    if _boosting_libraries(model):
        import onnxmltools

        version += f", onnxmltools {onnxmltools.__version__}"
    return version


def _input_choices(signature: Signature) -> list[list[tuple[str, Any]]]:
    """The graph inputs to try: for all-number input, one float32 matrix; then one input per
    column (strings for categories and text, float32 for numbers), as a column transformer
    selecting columns by name takes them."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    per_column = []
    for column in signature.inputs:
        if column.type == "datetime":
            raise InvalidInput.for_field(
                "compile", column.name, "no datetime inputs: ONNX graphs take numbers and strings"
            )
        text = column.type in ("category", "string")
        per_column.append((column.name, (StringTensorType if text else FloatTensorType)([None, 1])))
    if all(c.type in ("integer", "float", "boolean") for c in signature.inputs):
        return [[("input", FloatTensorType([None, len(signature.inputs)]))], per_column]
    return [per_column]


def synthetic_rows(signature: Signature, rows: int, seed: int = 0) -> pd.DataFrame:
    """Rows the signature accepts: each category in turn, numbers from 0 to a million in
    either sign, and a null in one row of ten where the column allows it."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for column in signature.inputs:
        if column.categories:
            values = np.resize(np.asarray(column.categories, dtype=object), rows)
            rng.shuffle(values)
        elif column.type == "string":
            values = np.array([f"text-{i % 7}" for i in range(rows)], dtype=object)
        elif column.type == "boolean":
            values = rng.random(rows) < 0.5
        else:
            magnitude = 10.0 ** rng.integers(0, 7, rows)
            values = rng.standard_normal(rows) * magnitude
            if column.type == "integer":
                values = np.round(values).astype(np.int64)
        if column.nullable:
            values = values.astype(object)
            values[::10] = None
        columns[column.name] = values
    return check_input(signature, pd.DataFrame(columns))


def _check_agreement(original: LoadedModel, compiled: LoadedModel, frame: pd.DataFrame) -> None:
    try:
        expected, expected_proba = original.predict_checked(frame)
    except Exception:  # a model without an imputer refuses nulls: compare where it answers
        frame = frame.dropna().reset_index(drop=True)
        expected, expected_proba = original.predict_checked(frame)
    try:
        got, got_proba = compiled.predict_checked(frame)
    except Exception as exc:  # onnxruntime's own error types
        raise InvalidInput.for_field(
            "compile", "onnx", f"a graph that runs on the model's input ({exc})"
        ) from exc
    if expected_proba is not None:
        gap = np.abs(got_proba - expected_proba).max(axis=1)
        top_two = np.sort(expected_proba, axis=1)[:, -2:]
        tied = top_two[:, 1] - top_two[:, 0] < TOLERANCE
        wrong = (gap > TOLERANCE) | ((got != expected) & ~tied)
    elif expected.dtype.kind in "fi":
        gap = np.abs(got.astype(float) - expected)
        wrong = gap > TOLERANCE * np.maximum(1.0, np.abs(expected))
    else:
        gap = (got != expected).astype(float)
        wrong = gap > 0
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise InvalidInput.for_field(
            "compile",
            "onnx",
            f"a graph giving the model's answers: on {int(wrong.sum())} of {len(frame)} check "
            f"rows it does not (row {row}: {got[row]!r} for {expected[row]!r}, "
            f"difference {float(gap[row]):.3g})",
        )
