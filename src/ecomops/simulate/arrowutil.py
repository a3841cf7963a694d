"""Zero-copy NumPy → Arrow columns in the warehouse's types, so DuckDB bulk-inserts them directly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

UTC_MICROS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(18, 4)


def money(cents: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Integer cents → DECIMAL(18,4) exactly: decimal128 stores the unscaled integer, so cents × 100 as
    little-endian 128-bit words (sign-extended) is the value with scale 4."""
    unscaled = np.asarray(cents, dtype=np.int64) * 100
    words = np.empty((len(unscaled), 2), dtype=np.int64)
    words[:, 0] = unscaled
    words[:, 1] = unscaled >> 63
    validity = None
    if mask is not None:
        validity = pa.array(~mask).buffers()[1]
    return pa.Array.from_buffers(
        MONEY,
        len(unscaled),
        [validity, pa.py_buffer(words)],
        null_count=int(mask.sum()) if mask is not None else 0,
    )


def timestamps(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(np.asarray(us, dtype=np.int64), mask=mask)
    return arr.cast(pa.int64()).view(UTC_MICROS) if mask is None else arr.cast(UTC_MICROS)


def categorical(codes: np.ndarray, labels: Sequence[str]) -> pa.DictionaryArray:
    """Codes into ``labels``; negative codes are NULL."""
    codes = np.asarray(codes)
    width = np.int8 if len(labels) < 127 else np.int16 if len(labels) < 32767 else np.int32
    mask = codes < 0
    indices = pa.array(np.where(mask, 0, codes).astype(width), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(labels), pa.string()))


def nullable(values: np.ndarray, mask: np.ndarray) -> pa.Array:
    return pa.array(values, mask=mask)
