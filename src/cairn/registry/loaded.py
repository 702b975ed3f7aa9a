"""A model ready to predict: input is checked against the signature before the model sees it."""

from __future__ import annotations

from typing import Any

import numpy as np

from cairn.errors import InvalidInput
from cairn.registry.signature import Signature, check_input


class LoadedModel:
    """A registered (or packaged) model with its signature; ``metadata`` is its version record."""

    def __init__(self, model: Any, signature: Signature, metadata: dict[str, Any]) -> None:
        self.model = model
        self.signature = signature
        self.metadata = metadata

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def version(self) -> int:
        return self.metadata["version"]

    @property
    def flavour(self) -> str:
        return self.metadata["flavour"]

    def __repr__(self) -> str:
        return f"LoadedModel({self.name}/{self.version}, flavour={self.flavour!r})"

    def predict(self, data: Any) -> np.ndarray:
        """Predictions for ``data`` (a DataFrame, dict of columns or list of records)."""
        return np.asarray(self.model.predict(check_input(self.signature, data)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``signature.classes``."""
        method = getattr(self.model, "predict_proba", None)
        if not callable(method):
            raise InvalidInput.for_field(
                "method",
                "predict_proba",
                f"predict: {self.name}/{self.version} has no probabilities",
            )
        return np.asarray(method(check_input(self.signature, data)))

    def predict_checked(self, frame: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions and (when the model has them) probabilities of a frame that has passed
        ``check_rows``. A scikit-learn pipeline transforms the frame once for both; an ONNX
        graph runs once for both."""
        model, final = self.model, self.model
        both = getattr(model, "predict_with_proba", None)
        if self.signature.has_proba and both is not None:
            predictions, probabilities = both(frame)
            return np.asarray(predictions), np.asarray(probabilities)
        steps = getattr(model, "steps", None)
        if self.signature.has_proba and isinstance(steps, list) and len(steps) > 1:
            frame, final = model[:-1].transform(frame), model[-1]
        predictions = np.asarray(final.predict(frame))
        if not self.signature.has_proba:
            return predictions, None
        return predictions, np.asarray(final.predict_proba(frame))
