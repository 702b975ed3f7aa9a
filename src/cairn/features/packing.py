"""One compact record per entity per view, as the online stores keep it.

A record is a 16-byte header, then one validity byte per feature, then the fixed-width values
(int64, float64, bool), then each string as a 4-byte length and its UTF-8 bytes.
Everything is big-endian. The header is the event time and the arrival time in milliseconds with
the sign bit flipped, so comparing two headers as bytes compares (event, arrival): a store keeps the greater
one without decoding anything, whatever the backend.

Packing a batch is vectorised (numpy for the fixed part, Arrow's element-wise join for the
strings); unpacking one record is a single ``struct`` call plus the strings.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cairn.features.definitions import Feature

HEADER = 16
_SIGN = np.uint64(1 << 63)
_CODES = {"int64": "q", "float64": "d", "bool": "?"}
_NUMPY = {"int64": ">i8", "float64": ">f8", "bool": "?"}
_NO_ARRIVAL = -(1 << 63)  # sorts before any time


class Codec:
    """Packs and unpacks the stored features of one view, in their declared order."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = tuple(features)
        self.fixed = [f for f in self.features if f.dtype in _CODES]
        self.strings = [f for f in self.features if f.dtype == "string"]
        self._struct = struct.Struct(
            ">QQ" + "B" * len(self.features) + "".join(_CODES[f.dtype] for f in self.fixed)
        )
        self._order = [self.features.index(f) for f in self.fixed]
        self._string_slots = [self.features.index(f) for f in self.strings]
        self._width = len(self.features)

    # packing ---------------------------------------------------------------------------

    def pack(self, table: pa.Table, event_ms: Any, arrival_ms: Any) -> list[bytes]:
        """A record per row of ``table`` (which holds every feature column)."""
        n = table.num_rows
        layout = [("event", ">u8"), ("arrival", ">u8")]
        layout += [(f"valid{i}", "u1") for i in range(self._width)]
        layout += [(f"value{i}", _NUMPY[f.dtype]) for i, f in enumerate(self.fixed)]
        fixed = np.zeros(n, dtype=np.dtype(layout))  # packed: no alignment padding
        fixed["event"] = _ordered(event_ms)
        arrival = pc.fill_null(pa.array(arrival_ms, pa.int64()), _NO_ARRIVAL)
        fixed["arrival"] = _ordered(arrival.to_numpy())
        for i, f in enumerate(self.features):
            fixed[f"valid{i}"] = table.column(f.name).is_valid().to_numpy(zero_copy_only=False)
        for i, f in enumerate(self.fixed):
            column = table.column(f.name)
            filler = False if f.dtype == "bool" else 0
            fixed[f"value{i}"] = pc.fill_null(column, filler).to_numpy(zero_copy_only=False)
        width = fixed.dtype.itemsize
        parts: list[Any] = [
            pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(width), n, [None, pa.py_buffer(fixed.tobytes())]
            ).cast(pa.binary())
        ]
        for f in self.strings:
            values = pc.fill_null(table.column(f.name).combine_chunks().cast(pa.string()), "")
            lengths = pc.binary_length(values).to_numpy(zero_copy_only=False).astype(">u4")
            parts.append(
                pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(4), n, [None, pa.py_buffer(lengths.tobytes())]
                ).cast(pa.binary())
            )
            parts.append(values.cast(pa.binary()))
        if len(parts) == 1:
            return parts[0].to_pylist()
        return pc.binary_join_element_wise(*parts, b"").to_pylist()

    # unpacking -------------------------------------------------------------------------

    def unpack(self, record: bytes) -> tuple[int, list[Any]]:
        """(event time in ms, the values in feature order, None where null)."""
        fields = self._struct.unpack_from(record)
        width = self._width
        valid = fields[2 : 2 + width]
        values: list[Any] = [None] * width
        for slot, value in zip(self._order, fields[2 + width :], strict=True):
            if valid[slot]:
                values[slot] = value
        offset = self._struct.size
        for slot in self._string_slots:
            length = int.from_bytes(record[offset : offset + 4], "big")
            offset += 4
            if valid[slot]:
                values[slot] = record[offset : offset + length].decode()
            offset += length
        return fields[0] - (1 << 63), values


def _ordered(ms: Any) -> np.ndarray:
    """Signed milliseconds as unsigned integers in the same order (sign bit flipped)."""
    return np.asarray(ms, dtype=np.int64).view(np.uint64) ^ _SIGN
