"""Turning Python objects into stored bytes and back: one place for every layer that saves them.

Tables go to Parquet, arrays to .npy, figures to PNG, scikit-learn estimators to skops, mappings,
lists and plain numbers to JSON, strings to UTF-8 text.

Security: skops files are loaded trusting every type they name (``get_untrusted_types``), so a
crafted file can make ``decode`` import and call arbitrary code. Decode only bytes from an
artifact store you trust, as you would a pickle.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from cairn.errors import InvalidInput

PARQUET = "application/vnd.apache.parquet"
NPY = "application/x-npy"
PNG = "image/png"
JSON = "application/json"
TEXT = "text/plain"
SKOPS = "application/x-skops"
_SUFFIXES = {
    PARQUET: ".parquet",
    NPY: ".npy",
    PNG: ".png",
    JSON: ".json",
    TEXT: ".txt",
    SKOPS: ".skops",
}


def suffix_for(media_type: str) -> str:
    """The file-name ending of bytes of ``media_type``, given to a path that has none."""
    return _SUFFIXES.get(media_type, "")


@dataclass(frozen=True)
class Encoded:
    data: bytes
    media_type: str

    @property
    def suffix(self) -> str:
        return suffix_for(self.media_type)


def encode(obj: Any) -> Encoded:
    """Bytes and media type for ``obj``; raises InvalidInput for a type with no encoding."""
    kind = type(obj).__module__.split(".")[0]
    if kind == "pandas" and hasattr(obj, "to_parquet"):
        buffer = io.BytesIO()
        obj.to_parquet(buffer, index=not has_default_index(obj))
        return Encoded(buffer.getvalue(), PARQUET)
    if kind == "pyarrow":
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(obj, buffer)
        return Encoded(buffer.getvalue(), PARQUET)
    if kind == "numpy" and hasattr(obj, "shape"):
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, obj, allow_pickle=False)
        return Encoded(buffer.getvalue(), NPY)
    if kind == "matplotlib" and hasattr(obj, "savefig"):
        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        return Encoded(buffer.getvalue(), PNG)
    if _is_estimator(obj):
        import skops.io

        try:
            return Encoded(skops.io.dumps(obj), SKOPS)
        except Exception as exc:  # skops raises several types for what it cannot save
            raise InvalidInput(
                f"cannot store a {type(obj).__qualname__} with skops: {exc}",
                field="object",
                value=type(obj).__qualname__,
            ) from exc
    if isinstance(obj, str):
        return Encoded(obj.encode(), TEXT)
    if isinstance(obj, bytes):
        return Encoded(obj, "application/octet-stream")
    if obj is None or isinstance(obj, dict | list | bool | int | float):
        try:
            text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=True)
        except TypeError as exc:
            raise InvalidInput(
                f"cannot store as JSON: {exc}", field="object", value=type(obj).__name__
            ) from exc
        return Encoded(text.encode(), JSON)
    raise InvalidInput(
        f"no encoding for an object of type {type(obj).__qualname__}: use a DataFrame, Arrow "
        "table, ndarray, matplotlib figure, scikit-learn estimator, dict, list, number, str "
        "or bytes",
        field="object",
        value=type(obj).__qualname__,
    )


def decode(data: bytes, media_type: str) -> Any:
    """The object ``encode`` made these bytes from (DataFrames come back as pandas)."""
    if media_type == PARQUET:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if media_type == NPY:
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if media_type == JSON:
        return json.loads(data)
    if media_type == SKOPS:
        import skops.io

        # Trusts every type the file names: see the module docstring.
        return skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    if media_type.startswith("text/"):
        return data.decode()
    return data


def _is_estimator(obj: Any) -> bool:
    """A scikit-learn style estimator instance (has ``fit`` and ``get_params``), not its class."""
    return not isinstance(obj, type) and hasattr(obj, "fit") and hasattr(obj, "get_params")


def has_default_index(frame: Any) -> bool:
    import pandas as pd

    index = frame.index
    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )
