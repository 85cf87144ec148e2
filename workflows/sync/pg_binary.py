"""Arrow columns as PostgreSQL's binary COPY format, a whole block at a time with numpy (no Python per value).

The server then stores each value as it arrives instead of parsing its text: at 20,000 accounts, a binary
COPY of the usage rows costs the server 6.6 s against 10.8 s for the same rows as CSV.

Format (PostgreSQL manual, "COPY", Binary Format): a signature and two 32-bit words, then per row a 16-bit
field count and per field a 32-bit length (-1 for NULL) followed by that many bytes, all big-endian; a
16-bit -1 ends the data. Dates count days and timestamps microseconds from 2000-01-01; json is its text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)

_DAYS_1970_TO_2000 = 10_957
_US_1970_TO_2000 = _DAYS_1970_TO_2000 * 86_400_000_000

# Arrow type -> (numpy type of Arrow's values, in the machine's byte order; big-endian numpy type of the
# wire value; epoch shift from 1970 to 2000).
_FIXED: dict[pa.DataType, tuple[str, str, int]] = {
    pa.int32(): ("=i4", ">i4", 0),
    pa.int64(): ("=i8", ">i8", 0),
    pa.float64(): ("=f8", ">f8", 0),
    pa.date32(): ("=i4", ">i4", _DAYS_1970_TO_2000),
    pa.timestamp("us", tz="UTC"): ("=i8", ">i8", _US_1970_TO_2000),
}


def _valid(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _binary(matrix: np.ndarray) -> pa.Array:
    """A binary array whose i-th value is the bytes of matrix[i]."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = pa.py_buffer(np.ascontiguousarray(matrix))
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), data])


def _text_field(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each value as its binary COPY field, in two parts joined later: its 32-bit length (-1 for NULL), its bytes."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    wire_len = np.where(_valid(arr), np.diff(offsets), -1).astype(">i4").view(np.uint8).reshape(n, 4)
    text = arr.cast(pa.binary()) if arr.null_count == 0 else arr.cast(pa.binary()).fill_null(b"")
    return _binary(wire_len), text


def _fixed_fields(columns: list[pa.Array], lead: np.ndarray | None = None) -> pa.Array:
    """Consecutive fixed-width columns as their fields, one value per row: written into one packed record
    array field by field (numpy swaps the bytes on the way), then the bytes of NULLs' values dropped in a
    single pass. `lead`: bytes that go first in each row."""
    n = len(columns[0])
    layout: list[tuple[str, str] | tuple[str, str, tuple[int]]] = []
    if lead is not None:
        layout.append(("lead", "u1", (lead.shape[1],)))
    values: list[tuple[pa.Array, np.ndarray, int, int]] = []  # column, its values, epoch shift, where they go
    at = 0 if lead is None else lead.shape[1]
    for k, arr in enumerate(columns):
        if pa.types.is_boolean(arr.type):
            native = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=np.uint8)
            wire, shift = "u1", 0
        else:
            kind, wire, shift = _FIXED[arr.type]
            native = np.frombuffer(arr.buffers()[1], dtype=kind)[arr.offset : arr.offset + n]
        layout += [(f"n{k}", ">i4"), (f"v{k}", wire)]
        values.append((arr, native, shift, at + 4))
        at += 4 + np.dtype(wire).itemsize
    record = np.empty(n, dtype=np.dtype(layout))  # packed: no padding between fields
    if lead is not None:
        record["lead"] = lead
    width = record.dtype.itemsize
    keep: np.ndarray | None = None
    for k, (arr, native, shift, at) in enumerate(values):
        size = record.dtype[f"v{k}"].itemsize
        record[f"v{k}"] = native - shift if shift else native
        if arr.null_count == 0:
            record[f"n{k}"] = size
            continue
        valid = _valid(arr)
        record[f"n{k}"] = np.where(valid, size, -1)
        if keep is None:
            keep = np.ones((n, width), dtype=bool)
        keep[:, at : at + size] = valid[:, None]
    matrix = record.view(np.uint8).reshape(n, width)
    if keep is None:
        return _binary(matrix)
    sizes = keep.sum(axis=1, dtype=np.int32)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    data = matrix[keep]
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _is_text(arr: pa.Array) -> bool:
    if pa.types.is_string(arr.type):
        return True
    if pa.types.is_boolean(arr.type) or arr.type in _FIXED:
        return False
    raise TypeError(f"no binary COPY encoding for {arr.type}")


def encode(columns: list[pa.Array]) -> memoryview:
    """One block of rows (equal-length columns) as binary COPY tuples, without the header or trailer.

    Types: int32, int64, float64, bool, date32, timestamp[us, UTC] and string (text, varchar, json). Each run
    of fixed-width columns becomes one value per row, each text column another, and Arrow joins them row by
    row (C++, one pass): fastest with the fixed-width columns side by side.
    """
    n = len(columns[0]) if columns else 0
    if n == 0:
        return memoryview(b"")
    lead: np.ndarray | None = np.full(n, len(columns), dtype=">i2").view(np.uint8).reshape(n, 2)
    parts: list[pa.Array] = []
    run: list[pa.Array] = []
    for arr in [*columns, None]:
        if arr is not None and not _is_text(arr):
            run.append(arr)
            continue
        if run:
            parts.append(_fixed_fields(run, lead))
        elif lead is not None:
            parts.append(_binary(lead))  # the row's field count, before a text column
        run, lead = [], None
        if arr is not None:
            parts.extend(_text_field(arr))
    rows = pc.binary_join_element_wise(*parts, b"") if len(parts) > 1 else parts[0]
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset : rows.offset + n + 1]
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]
