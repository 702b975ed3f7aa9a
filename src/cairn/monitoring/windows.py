"""What a monitor reads: a span of time as people write it (``30m``, ``6h``, ``1d``, ``2w``),
or the last n rows."""

from __future__ import annotations

import re

from cairn.errors import InvalidInput

_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_SPAN_RE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_span(text: str, field: str = "window") -> int:
    """Milliseconds in a span such as ``1d`` or ``90m``; InvalidInput naming ``field`` if not."""
    match = _SPAN_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise InvalidInput.for_field(field, text, "a span such as 30m, 6h, 1d or 2w")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)])


def check_last(last: object) -> int:
    """A count of the latest rows to read; InvalidInput naming ``last`` if not one."""
    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        raise InvalidInput.for_field("last", last, "a number of rows from 1")
    return last
