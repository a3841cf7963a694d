"""The shared table writers: BOM, streaming, formula-safe text, local times, the .xlsx row cap."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pytest

from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.export import (
    CHUNK_ROWS,
    Column,
    ExportTable,
    csv_chunks,
    parse_format,
    xlsx_chunks,
)

COLUMNS = (
    Column("name", "Name"),
    Column("total", "Total", "money"),
    Column("at", "Ordered at", "datetime"),
    Column("n", "Items", "int"),
)


def rows(count: int, seen: list[int] | None = None) -> Iterator[dict[str, Any]]:
    for i in range(count):
        if seen is not None:
            seen.append(i)
        yield {
            "name": f"面霜 {i}",
            "total": Decimal("12.50"),
            "at": datetime(2026, 11, 10, 16, 0, tzinfo=UTC),
            "n": i,
        }


def test_csv_has_a_bom_local_times_and_numbers() -> None:
    table = ExportTable("t", COLUMNS, rows(2), "Asia/Shanghai")
    body = b"".join(csv_chunks(table, "zh_CN"))
    assert body.startswith(b"\xef\xbb\xbf") and body.count(b"\xef\xbb\xbf") == 1
    parsed = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert parsed[0] == ["名称", "订单金额", "下单时间 (Asia/Shanghai)", "商品件数"]
    assert parsed[1] == ["面霜 0", "12.50", "2026-11-11 00:00:00", "0"]


def test_csv_streams_a_chunk_at_a_time() -> None:
    seen: list[int] = []
    stream = csv_chunks(ExportTable("t", COLUMNS, rows(5 * CHUNK_ROWS, seen), "UTC"), "en")
    next(stream)
    assert len(seen) == CHUNK_ROWS  # the first chunk leaves before the rest is read
    assert sum(1 for _ in stream) == 5  # four more full chunks and the (empty) tail
    assert len(seen) == 5 * CHUNK_ROWS


def test_text_that_looks_like_a_formula_stays_text() -> None:
    evil = [{"name": '=HYPERLINK("http://x")', "total": None, "at": None, "n": 1}, {"name": "-3+2"}]
    body = b"".join(csv_chunks(ExportTable("t", COLUMNS, evil, "UTC"), "en")).decode("utf-8-sig")
    assert "'=HYPERLINK" in body and "'-3+2" in body
    book = openpyxl.load_workbook(
        io.BytesIO(b"".join(xlsx_chunks(ExportTable("t", COLUMNS, evil, "UTC"), "en")))
    )
    sheet = book.worksheets[0]
    assert sheet["A2"].value == '=HYPERLINK("http://x")' and sheet["A2"].data_type == "s"
    assert sheet["A3"].data_type == "s"


def test_xlsx_keeps_types_and_caps_rows_with_a_message() -> None:
    table = ExportTable("orders", COLUMNS, rows(7), "Asia/Shanghai", total=7)
    book = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx_chunks(table, "en", max_rows=5))), read_only=True)
    values = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert values[0] == ["Name", "Total", "Ordered at (Asia/Shanghai)", "Items"]
    assert values[1] == ["面霜 0", 12.5, datetime(2026, 11, 11, 0, 0), 0]
    assert len(values) == 1 + 5 + 1
    assert values[-1][0] == "Only the first 5 rows are in this file; export CSV for all 7 rows."


@pytest.mark.parametrize("value", ["pdf", "CSV", "json"])
def test_unknown_formats_are_refused(value: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_format(value)
    assert info.value.details == {"field": "format"}
    assert parse_format(None) is None and parse_format("xlsx") == "xlsx"
