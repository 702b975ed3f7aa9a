"""Flavours: how a kind of model is saved, which packages it needs, and how it is loaded.

Nothing is pickled. Python models (scikit-learn, XGBoost, LightGBM, any object with
``predict``) are stored with skops: at save time the types the file names are recorded
(``skops.io.get_untrusted_types``) and at load time exactly that list is trusted, so a file
whose types changed since registration is refused instead of run. An ONNX model (an
``onnx.ModelProto``) is stored as its protobuf bytes and run by onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cairn.errors import IntegrityError, InvalidInput

MEDIA_TYPE = "application/x-skops"
SUFFIX = ".skops"
ONNX_MEDIA_TYPE = "application/x-onnx"
ONNX_SUFFIX = ".onnx"

#: Distributions each flavour needs at load time (besides cairn), for requirements.txt.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn", "skops", "numpy", "scipy", "pandas"),
    "xgboost": ("xgboost", "scikit-learn", "skops", "numpy", "scipy", "pandas"),
    "lightgbm": ("lightgbm", "scikit-learn", "skops", "numpy", "scipy", "pandas"),
    "python": ("skops", "numpy", "pandas"),
    "onnx": ("onnxruntime", "numpy", "pandas"),
}


@dataclass(frozen=True)
class SavedModel:
    data: bytes
    flavour: str
    trusted_types: list[str]

    @property
    def suffix(self) -> str:
        return suffix_of(self.flavour)

    @property
    def media_type(self) -> str:
        return ONNX_MEDIA_TYPE if self.flavour == "onnx" else MEDIA_TYPE


def suffix_of(flavour: str) -> str:
    """The file name ending of a model of ``flavour``."""
    return ONNX_SUFFIX if flavour == "onnx" else SUFFIX


def _is_onnx(model: Any) -> bool:
    return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")


def flavour_of(model: Any) -> str:
    """The flavour of ``model``; InvalidInput for an object that cannot predict."""
    if _is_onnx(model):
        return "onnx"
    if isinstance(model, type) or not callable(getattr(model, "predict", None)):
        raise InvalidInput.for_field(
            "model", type(model).__qualname__, "a fitted model with a predict method"
        )
    root = type(model).__module__.split(".")[0]
    if root in ("xgboost", "lightgbm"):
        return root
    if hasattr(model, "fit") and hasattr(model, "get_params"):
        return "sklearn"  # scikit-learn estimators and pipelines, and their look-alikes
    return "python"


def save(model: Any) -> SavedModel:
    """The model as skops bytes, with its flavour and the types loading it must trust."""
    flavour = flavour_of(model)
    if flavour == "onnx":
        return SavedModel(model.SerializeToString(), flavour, [])
    import skops.io

    try:
        data = skops.io.dumps(model)
    except Exception as exc:  # skops raises several types for what it cannot save
        raise InvalidInput(
            f"cannot store a {type(model).__qualname__} ({flavour} flavour) with skops: {exc}; "
            "cairn does not pickle models: give the class plain attributes skops can save",
            field="model",
            value=type(model).__qualname__,
        ) from exc
    return SavedModel(data, flavour, sorted(skops.io.get_untrusted_types(data=data)))


def predictor(model: Any) -> Any:
    """What predicts for ``model`` as given at registration (an ONNX proto needs a runtime)."""
    return OnnxModel(model.SerializeToString()) if _is_onnx(model) else model


def load(data: bytes, trusted_types: list[str], flavour: str = "sklearn") -> Any:
    """The model in ``data``, trusting exactly the types recorded when it was saved."""
    if flavour == "onnx":
        return OnnxModel(data)
    import skops.io

    found = sorted(skops.io.get_untrusted_types(data=data))
    if found != sorted(trusted_types):
        new = sorted(set(found) - set(trusted_types))
        raise IntegrityError(
            f"the model file names types not recorded at registration: {new or found}; "
            "refusing to load it",
            field="trusted_types",
            value=new or found,
        )
    return skops.io.loads(data, trusted=list(trusted_types))


class OnnxModel:
    """An ONNX model run by onnxruntime, with ``predict`` (and ``predict_proba`` when the graph
    has a probabilities tensor) on DataFrames.

    A graph with one 2-d input takes the frame's columns in signature order as one matrix;
    a graph with one input per column takes each column by name (as skl2onnx converts a
    pipeline with ``initial_types`` per column). The first output is the prediction, a second
    tensor output the class probabilities (convert classifiers with ``zipmap=False``).
    """

    def __init__(self, data: bytes, columns: list[str] | None = None) -> None:
        """``columns``: the frame column feeding each graph input, in order, where the graph's
        input names are not the column names (skl2onnx sanitises names with spaces)."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise InvalidInput.for_field(
                "flavour", "onnx", "onnxruntime installed: pip install 'cairn[onnx]'"
            ) from exc
        self.graph = data  # kept: a compiled graph is stored with its version
        try:
            self.session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a bad graph
            raise InvalidInput.for_field(
                "model", "an ONNX graph", f"a valid ONNX model: {exc}"
            ) from exc
        self.inputs = self.session.get_inputs()
        self.columns = columns or [spec.name for spec in self.inputs]
        outputs = self.session.get_outputs()
        self._outputs = [o.name for o in outputs]
        if len(outputs) > 1 and outputs[1].type.startswith("tensor"):
            self.predict_proba = self._predict_proba

    def _feed(self, frame: Any) -> dict[str, Any]:
        import numpy as np

        if len(self.inputs) == 1 and len(self.inputs[0].shape) == 2 and frame.shape[1] > 1:
            (only,) = self.inputs
            return {only.name: frame.to_numpy(dtype=_NUMPY_TYPES.get(only.type, np.float32))}
        feed = {}
        for spec, name in zip(self.inputs, self.columns, strict=True):
            column = frame[name].to_numpy()
            dtype = _NUMPY_TYPES.get(spec.type, object)
            feed[spec.name] = (
                (column.astype(str) if dtype is object else column).astype(dtype).reshape(-1, 1)
            )
        return feed

    def predict(self, frame: Any) -> Any:
        return self.session.run(self._outputs[:1], self._feed(frame))[0].ravel()

    def _predict_proba(self, frame: Any) -> Any:
        return self.session.run(self._outputs[1:2], self._feed(frame))[0]

    def predict_with_proba(self, frame: Any) -> tuple[Any, Any]:
        """Predictions and probabilities from one run of the graph."""
        predicted, proba = self.session.run(self._outputs[:2], self._feed(frame))
        return predicted.ravel(), proba


#: onnxruntime input types and the numpy types that feed them.
_NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": object,
}
