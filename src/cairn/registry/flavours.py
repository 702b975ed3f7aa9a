"""Flavours: how a kind of model is saved, which packages it needs, and how it is loaded.

Every flavour is stored with skops, never pickle: at save time the types the file names are
recorded (``skops.io.get_untrusted_types``) and at load time exactly that list is trusted, so a
file whose types changed since registration is refused instead of run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cairn.errors import IntegrityError, InvalidInput

MEDIA_TYPE = "application/x-skops"
SUFFIX = ".skops"

#: Distributions each flavour needs at load time (besides cairn), for requirements.txt.
REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn", "skops", "numpy", "scipy", "pandas"),
    "xgboost": ("xgboost", "scikit-learn", "skops", "numpy", "scipy", "pandas"),
    "lightgbm": ("lightgbm", "scikit-learn", "skops", "numpy", "scipy", "pandas"),
    "python": ("skops", "numpy", "pandas"),
}


@dataclass(frozen=True)
class SavedModel:
    data: bytes
    flavour: str
    trusted_types: list[str]


def flavour_of(model: Any) -> str:
    """The flavour of ``model``; InvalidInput for an object that cannot predict."""
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
    import skops.io

    flavour = flavour_of(model)
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


def load(data: bytes, trusted_types: list[str]) -> Any:
    """The model in ``data``, trusting exactly the types recorded when it was saved."""
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
