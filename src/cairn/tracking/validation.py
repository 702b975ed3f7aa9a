"""Checks on what callers log: names, metric values, steps, params."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from cairn.errors import InvalidInput

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 8000
_KEY = re.compile(r"^[\w\-./: ]+$")


def check_key(field: str, key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidInput.for_field(
            field,
            key,
            f"a name of 1 to {MAX_KEY_LENGTH} letters, digits, spaces and _ - . / :",
        )
    return key


def metric_value(key: str, value: Any) -> float | None:
    """The value to store: a float, or None for NaN (stored as NULL)."""
    if type(value) is float:  # the hot path: plain floats skip the generic checks
        return None if value != value else value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"metric {key!r}: value {value!r} is not a number", field=f"metrics.{key}", value=value
        )
    number = float(value)
    return None if math.isnan(number) else number


def metric_step(key: str, step: Any) -> int:
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(
            f"metric {key!r}: step {step!r} is not an integer", field="step", value=step
        )
    return int(step)


def param_value(key: str, value: Any) -> str:
    """Params are stored as text; floats keep their shortest exact form."""
    text = repr(value) if isinstance(value, float) else str(value)
    if len(text) > MAX_PARAM_LENGTH:
        raise InvalidInput(
            f"param {key!r}: value is {len(text)} characters, more than {MAX_PARAM_LENGTH}",
            field=f"params.{key}",
            value=text[:80] + "…",
        )
    return text
