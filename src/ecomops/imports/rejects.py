"""The reject file: one CSV line per problem, pointing at the file, row and column as the user sees them.

Columns: ``file, row, column, value, reason`` — ``row`` is the 1-based data row number in that
file (the header line is not counted), ``column`` the header as written in the file, ``value``
the offending text (empty when missing). A row with two problems has two lines; a row the CSV
parser could not split into the header's fields has an empty column and its raw text as value.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa

from ecomops.imports.reader import InvalidRow
from ecomops.imports.staging import Staging

REJECT_COLUMNS = ("file", "row", "column", "value", "reason")

ORDERED = "SELECT _file, _row, col, value, reason FROM rejects ORDER BY _file, _row, chk, col"
REJECTED_ROWS = "SELECT _file, count(DISTINCT _row) FROM rejects GROUP BY _file"
ADD_INVALID = "INSERT INTO rejects SELECT _file, _row, '', value, reason, 0 FROM invalid_rows"


def stage_invalid_rows(staging: Staging, file_index: int, rows: list[InvalidRow]) -> None:
    """Rows the parser skipped (wrong number of fields) join the other rejects."""
    if not rows:
        return
    staging.register(
        "invalid_rows",
        pa.table(
            {
                "_file": pa.array([file_index] * len(rows), pa.int32()),
                "_row": pa.array([r.row for r in rows], pa.int64()),
                "value": pa.array([r.text for r in rows], pa.string()),
                "reason": pa.array([r.reason for r in rows], pa.string()),
            }
        ),
    )
    staging.run(ADD_INVALID)
    staging.con.unregister("invalid_rows")


def write_rejects(
    staging: Staging, path: Path, names: dict[int, str], headers: dict[int, dict[str, str]]
) -> dict[int, int]:
    """Write the reject CSV (always, header-only when clean); returns rejected rows per file index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(REJECT_COLUMNS)
        reader = staging.reader(ORDERED)
        for batch in reader:
            for file_index, row, col, value, reason in zip(
                *(c.to_pylist() for c in batch.columns), strict=True
            ):
                column = headers.get(file_index, {}).get(col, col) if col else ""
                writer.writerow((names.get(file_index, str(file_index)), row, column, value or "", reason))
    tmp.replace(path)
    return {int(f): int(n) for f, n in staging.run(REJECTED_ROWS).fetchall()}
