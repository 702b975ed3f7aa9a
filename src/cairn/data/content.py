"""What a snapshot stores, and the digest that names it.

A table becomes an Arrow table, stored as Parquet parts of ``PART_ROWS`` rows listed in a
manifest: pyarrow encodes one file on one thread, so the parts are encoded (and stored) in
parallel. Its digest is a canonical hash of the Arrow data, not of the Parquet bytes: it does
not change with the pyarrow or pandas version, the chunking, the bytes behind null slots, or
string versus large_string. So the same DataFrame always gets the same digest, and a DataFrame
loaded from a version hashes back to it. The hash is XXH3-128 (32 hex characters), which runs
at memory speed: 22 GB/s here, against 1.8 for SHA-256 and 4.7 for BLAKE3, which cost a
snapshot of 1,000,000 rows x 20 columns 80 and 40 ms more CPU. XXH3 is not cryptographic: it
names content for deduplication, where an accidental collision of 128 bits is out of reach, but
someone who wanted to could make two tables that share a digest. The bytes themselves are
still addressed and verified by SHA-256 in the artifact store.
A file's digest is the SHA-256 of its bytes; a folder's is that of its manifest, the canonical
JSON listing each file's relative path, digest and size.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from cairn.artifacts import ArtifactStore, validate_logical_path
from cairn.core.serialization import has_default_index
from cairn.data.entities import ColumnProfile, ColumnSchema
from cairn.data.profile import canonical_type
from cairn.errors import InvalidInput, NotFound

TABLE_FORMAT = "cairn.table.v2"
#: Rows per stored Parquet part (see the module docstring).
PART_ROWS = 1 << 18
#: Columns with at most this share of distinct values in a sample of ``_SAMPLE`` rows get Parquet
#: dictionary encoding: those of up to about 8,000 distinct values, where the dictionary pays.
_DICTIONARY_BELOW = 0.9
_SAMPLE = 2048
#: Bytes a Parquet file may take beyond its table's Arrow size: headers, footer, levels.
_ROOM = 1 << 20


# --- tables ---------------------------------------------------------------------------------


def is_table(obj: Any) -> bool:
    """Whether ``obj`` is data ``as_arrow`` takes: a DataFrame, Arrow table or record batch."""
    return isinstance(obj, pd.DataFrame | pa.Table | pa.RecordBatch)


def as_arrow(obj: Any, executor: Executor | None = None) -> pa.Table:
    """``obj`` (a pandas DataFrame or a pyarrow Table or RecordBatch) as an Arrow table; a
    DataFrame's columns are converted on ``executor`` if one is given.

    A DataFrame keeps its index only when it is not the default 0..n-1 one, as
    ``cairn.core.serialization`` stores frames.
    """
    if isinstance(obj, pa.Table):
        table = obj
    elif isinstance(obj, pa.RecordBatch):
        table = pa.Table.from_batches([obj])
    else:
        try:
            table = _from_pandas(obj, executor)
        except (ValueError, TypeError, NotImplementedError) as exc:  # pyarrow's errors too
            raise InvalidInput(
                f"cannot store the DataFrame as a table: {exc}", field="obj", value="DataFrame"
            ) from exc
    names = table.column_names
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInput(
            f"column names must be unique: {duplicated} appear more than once",
            field="columns",
            value=duplicated,
        )
    return table.unify_dictionaries()


def _from_pandas(frame: pd.DataFrame, executor: Executor | None) -> pa.Table:
    """``pa.Table.from_pandas(frame)``, in a third of the time for a frame of typed columns.

    pyarrow scans every float for NaN, one value at a time, to mark it missing, and every
    categorical code for -1: 80 ms of CPU for 1,000,000 rows x 20 columns. Here numpy finds
    them in vectorised passes, and a column without any is taken as it is. The schema, with its
    pandas metadata, is pyarrow's own, from the frame's first zero rows; frames it cannot type
    from those (object columns, whose type pyarrow infers from their values) or whose index is
    kept go through pyarrow whole.
    """
    keep_index = not has_default_index(frame)
    untyped = any(isinstance(dtype, np.dtype) and dtype == np.object_ for dtype in frame.dtypes)
    if keep_index or untyped or not frame.columns.is_unique:
        return pa.Table.from_pandas(frame, preserve_index=keep_index)
    schema = pa.Schema.from_pandas(frame.iloc[:0], preserve_index=False)
    columns = [(frame.iloc[:, position], field.type) for position, field in enumerate(schema)]
    arrays = (executor.map if executor else map)(lambda column: _arrow_array(*column), columns)
    return pa.Table.from_arrays(list(arrays), schema=schema)


def _arrow_array(series: pd.Series, arrow_type: pa.DataType) -> pa.Array:
    """One column as pyarrow converts it (NaN and missing categories become nulls)."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        missing = codes < 0
        indices = pa.array(codes, arrow_type.index_type, mask=missing if missing.any() else None)
        categories = pa.array(series.cat.categories, arrow_type.value_type, from_pandas=True)
        # pandas keeps codes within the categories (-1, missing, is masked): no bounds check
        return pa.DictionaryArray.from_arrays(
            indices, categories, ordered=dtype.ordered, safe=False
        )
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        values = series.to_numpy()
        missing = np.isnan(values)
        return pa.array(values, arrow_type, mask=missing if missing.any() else None)
    if isinstance(dtype, np.dtype) and dtype.kind in "mM":  # times and timedeltas, as integers
        values = series.to_numpy()
        missing = np.isnat(values)
        ticks = pa.array(values.view(np.int64), mask=missing if missing.any() else None)
        return ticks.view(arrow_type)
    return pa.array(series, arrow_type, from_pandas=True)


def index_columns(table: pa.Table) -> list[str]:
    """Columns that hold a pandas index rather than data."""
    pandas_meta = table.schema.pandas_metadata or {}
    return [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)]


def data_columns(table: pa.Table) -> list[str]:
    hidden = set(index_columns(table))
    return [name for name in table.column_names if name not in hidden]


def table_digest(table: pa.Table, executor: Executor) -> str:
    """The canonical XXH3-128 digest of a table's names, types, index layout and values."""
    pandas_meta = table.schema.pandas_metadata or {}
    header = {
        "format": TABLE_FORMAT,
        "rows": table.num_rows,
        "columns": [[f.name, canonical_type(f.type)] for f in table.schema],
        "index": pandas_meta.get("index_columns", []),
    }
    digest = xxhash.xxh3_128(json.dumps(header, sort_keys=True, default=str).encode())
    for column_digest in executor.map(_column_digest, table.columns):
        digest.update(column_digest)
    return digest.hexdigest()


def pandas_dtypes(table: pa.Table) -> dict[str, str]:
    """The pandas dtype each column of ``table`` loads as, when it holds no nulls."""
    return {
        name: str(dtype) for name, dtype in table.schema.empty_table().to_pandas().dtypes.items()
    }


def table_schema(
    dtypes: dict[str, str], profile: dict[str, ColumnProfile]
) -> dict[str, ColumnSchema]:
    """Each profiled column's Arrow type, the pandas dtype it loads as (``dtypes``, from
    ``pandas_dtypes``, corrected for nulls), and whether it held nulls."""
    schema = {}
    for name, column in profile.items():
        dtype = dtypes[name]
        if column.null_count and dtype.startswith(("int", "uint")):
            dtype = "float64"  # as pyarrow loads integers with nulls
        elif column.null_count and dtype == "bool":
            dtype = "object"
        schema[name] = ColumnSchema(column.type, dtype, column.null_count > 0)
    return schema


def parquet_parts(table: pa.Table) -> list[pa.Table]:
    """The table as it is written, cut into parts of ``PART_ROWS`` rows (one if it is empty)."""
    storage = _storage_table(table)
    return [storage.slice(start, PART_ROWS) for start in range(0, table.num_rows or 1, PART_ROWS)]


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def parquet_bytes(part: pa.Table, options: dict[str, Any]) -> pa.Buffer:
    """One part as a Parquet file, written with ``parquet_options``.

    It is written into a buffer allocated once, with room for the part's Arrow size and more:
    a growing buffer copies what it holds each time it doubles, 20 ms of CPU for 38 MB. Pages
    never written to are never touched, so the room costs no memory. A file that outgrows it
    is written again into a growing buffer.
    """
    room = pa.allocate_buffer(part.nbytes + part.nbytes // 4 + _ROOM)
    sink = pa.FixedSizeBufferWriter(room)
    try:
        pq.write_table(part, sink, **options)
    except OSError:  # "Write out of bounds": a file larger than the room
        grown = pa.BufferOutputStream()
        pq.write_table(part, grown, **options)
        return grown.getvalue()
    return room.slice(0, sink.tell())


def dictionary_encoded_strings(table: pa.Table, options: dict[str, Any]) -> list[str]:
    """The string columns that ``options`` (``parquet_options``) dictionary-encode."""
    return [
        name
        for name in options["use_dictionary"]
        if _is_binary(table.column(name).type) and not _is_bytes(table.column(name).type)
    ]


def read_dictionary_encoded(part: pa.Buffer, names: list[str]) -> pa.Table:
    """Columns ``names`` of a Parquet file, string columns, as dictionary columns: the
    dictionaries and codes the writer stored, decoded rather than hashed again. It runs on the
    snapshot's pool already: no threads of its own."""
    return pq.ParquetFile(pa.BufferReader(part), read_dictionary=names).read(
        columns=names, use_threads=False
    )


def read_parquet(blobs: Iterable[bytes]) -> pa.Table:
    """The table stored as these Parquet files (parts, in order)."""
    return pa.concat_tables([pq.read_table(pa.py_buffer(blob)) for blob in blobs])


def parquet_options(table: pa.Table) -> dict[str, Any]:
    """How a table is written: each column in the encoding cheapest to write, hash and store
    (``_encodings``), without statistics (the snapshot profiles the data itself).

    Measured on 1,000,000 rows x 20 mixed columns, in four parts: 135 ms of CPU for 38 MB,
    against 165 ms for 30 MB with integers delta-encoded and repeating floats dictionary-encoded
    instead; the 8 MB more take about 6 ms to hash and write.
    """
    dictionary, split = _encodings(table)
    return {
        "use_dictionary": dictionary,
        "column_encoding": dict.fromkeys(split, "BYTE_STREAM_SPLIT"),
        "compression": {name: "lz4" if name in split else "none" for name in table.column_names},
        "write_statistics": False,
    }


def _storage_table(table: pa.Table) -> pa.Table:
    """``table`` with columns that hold no nulls declared non-nullable.

    Parquet then stores them as required and writes no definition levels: half the time of
    writing a plain numeric column. Nullability is not part of the digest or of the DataFrame.
    """
    fields = [
        field.with_nullable(column.null_count > 0) if field.nullable else field
        for field, column in zip(table.schema, table.columns, strict=True)
    ]
    schema = pa.schema(fields, metadata=table.schema.metadata)
    if schema.equals(table.schema):
        return table
    return pa.Table.from_arrays(table.columns, schema=schema)


def _encodings(table: pa.Table) -> tuple[list[str], list[str]]:
    """(the columns to dictionary-encode, those to byte-stream-split), from a sample of rows.

    Numbers and times without nulls are split into byte streams and compressed with LZ4: their
    high bytes (the exponents of floats, the top of small integers) are mostly alike, so LZ4
    shrinks them at a fraction of the cost of a dictionary or delta encoding, and leaves random
    bytes as they are almost for free. Dictionaries, and other columns whose values repeat, are
    dictionary-encoded; the rest, whose values are mostly distinct, are written plain, as trying
    a dictionary and falling back costs more.
    """
    step = max(1, table.num_rows // _SAMPLE)
    sample = pa.array(np.arange(0, table.num_rows, step))
    dictionary, split = [], []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            dictionary.append(name)
        elif _splits(column):
            split.append(name)
        elif len(sample) and _is_flat(column.type) and _repeats(column.take(sample)):
            dictionary.append(name)
    return dictionary, split


def _repeats(sample: pa.ChunkedArray) -> bool:
    return pc.count_distinct(sample).as_py() <= _DICTIONARY_BELOW * len(sample)


def _splits(column: pa.ChunkedArray) -> bool:
    """Whether Parquet can split the column in byte streams, and it is worth it: numbers and
    times of 4 or 8 bytes without nulls (with nulls, pyarrow's byte-stream writer is slow)."""
    kind_of = column.type
    numeric = pa.types.is_integer(kind_of) or pa.types.is_floating(kind_of)
    return (
        (numeric or pa.types.is_temporal(kind_of))
        and kind_of.bit_width in (32, 64)
        and not column.null_count
    )


def _column_digest(column: pa.ChunkedArray) -> bytes:
    """XXH3-128 of a column's values and null positions, whatever its chunking or buffers."""
    values, lengths, nulls = xxhash.xxh3_128(), xxhash.xxh3_128(), xxhash.xxh3_128()
    arrow_type = column.type
    if pa.types.is_dictionary(arrow_type):
        if column.num_chunks:
            values.update(_column_digest(pa.chunked_array([column.chunk(0).dictionary])))
        column = pa.chunked_array([c.indices for c in column.chunks], arrow_type.index_type)
        arrow_type = column.type
    if not _is_flat(arrow_type):
        values.update(_ipc_bytes(column.combine_chunks()))
        return values.digest()
    start = 0
    for chunk in column.chunks:
        if not len(chunk):
            continue
        null_at = _null_positions(chunk)
        if null_at.size:
            nulls.update(_as_bytes((null_at + start).astype(np.int64)))
        if _is_binary(arrow_type):
            _update_binary(chunk, null_at, values, lengths)
        else:
            _update_fixed(chunk, null_at, values)
        start += len(chunk)
    return values.digest() + lengths.digest() + nulls.digest()


def _is_binary(arrow_type: pa.DataType) -> bool:
    return (
        _is_bytes(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
    )


def _is_bytes(arrow_type: pa.DataType) -> bool:
    return pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)


def _is_flat(arrow_type: pa.DataType) -> bool:
    """Types hashed from their buffers: fixed-width values, booleans, strings and binaries."""
    if _is_binary(arrow_type) or pa.types.is_boolean(arrow_type):
        return True
    if isinstance(arrow_type, pa.ExtensionType):
        return False
    try:
        width = arrow_type.bit_width
    except ValueError:  # not fixed-width
        return False
    return width > 0 and width % 8 == 0


def _null_positions(chunk: pa.Array) -> np.ndarray:
    if not chunk.null_count:
        return np.empty(0, np.int64)
    return np.flatnonzero(chunk.is_null().to_numpy(zero_copy_only=False))


def _update_fixed(chunk: pa.Array, null_at: np.ndarray, values: Any) -> None:
    if pa.types.is_boolean(chunk.type):
        data = pc.fill_null(chunk, False) if null_at.size else chunk
        values.update(data.to_numpy(zero_copy_only=False).view(np.uint8))
        return
    width = chunk.type.bit_width // 8
    buffer = chunk.buffers()[1]
    raw = np.frombuffer(buffer, np.uint8, count=(chunk.offset + len(chunk)) * width)
    rows = raw[chunk.offset * width :].reshape(len(chunk), width)
    if null_at.size:  # the bytes behind a null are arbitrary: hash zeros instead
        rows = rows.copy()
        rows[null_at] = 0
    values.update(_as_bytes(rows))


def _update_binary(chunk: pa.Array, null_at: np.ndarray, values: Any, lengths: Any) -> None:
    if null_at.size:
        empty = b"" if _is_bytes(chunk.type) else ""
        chunk = pc.fill_null(chunk, pa.scalar(empty, chunk.type))
    large = pa.types.is_large_string(chunk.type) or pa.types.is_large_binary(chunk.type)
    offset_type = np.int64 if large else np.int32
    buffers = chunk.buffers()
    offsets = np.frombuffer(buffers[1], offset_type, count=chunk.offset + len(chunk) + 1)
    offsets = offsets[chunk.offset :]
    lengths.update(_as_bytes(np.diff(offsets).astype(np.int64)))
    if buffers[2] is not None and len(chunk):
        values.update(memoryview(buffers[2])[int(offsets[0]) : int(offsets[-1])])


def _as_bytes(array: np.ndarray) -> np.ndarray:
    """The array's bytes, flat and unsigned 8-bit, as the hash takes them."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


def _ipc_bytes(array: pa.Array) -> bytes:
    """Arrow IPC bytes of one array: how types with no canonical form here are hashed."""
    batch = pa.record_batch([array], names=["values"])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


# --- files and folders ----------------------------------------------------------------------


def folder_files(root: Path) -> list[tuple[str, Path]]:
    """(relative POSIX path, file) for every file under ``root``, in path order."""
    return sorted(
        (validate_logical_path(path.relative_to(root).as_posix()), path)
        for path in root.rglob("*")
        if path.is_file()
    )


def put_files(
    artifacts: ArtifactStore, files: Iterable[tuple[str, Path]], executor: Executor
) -> dict[str, dict[str, Any]]:
    """Store each file; the manifest entries {relative path: {digest, size}} in path order."""
    files = list(files)
    stored = executor.map(lambda item: artifacts.put_file(item[1]), files)
    return {
        name: {"digest": digest, "size": size}
        for (name, _), (digest, size) in zip(files, stored, strict=True)
    }


def manifest_bytes(entries: dict[str, dict[str, Any]]) -> bytes:
    """The canonical JSON of a manifest: the same files always give the same bytes."""
    return json.dumps({"files": entries}, sort_keys=True, separators=(",", ":")).encode()


def read_manifest(data: bytes) -> dict[str, dict[str, Any]]:
    return json.loads(data)["files"]


def as_path(obj: Any) -> Path:
    """``obj`` as an existing file or folder path; NotFound when nothing is there."""
    path = Path(os.fspath(obj))
    if not path.exists():
        raise NotFound.for_field("path", str(path))
    return path
