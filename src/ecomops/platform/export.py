"""Tables as files: every console table, API list and CLI listing exports through these two writers.

A table is column definitions plus an iterable of rows (mappings), read lazily so a large export never
sits in memory: CSV is written and sent a chunk of rows at a time; .xlsx goes through openpyxl's
write-only workbook (rows spill to a temporary file as they come, constant memory) and is sent from
that file. Excel holds 1,048,576 rows per sheet, so an .xlsx stops at :data:`XLSX_MAX_ROWS` and says so
in its last row (CSV has no such limit).

What a spreadsheet user expects, the same in both formats:

- headers in the reader's language (catalogue msgids translated with the request's locale);
- CSV in UTF-8 with a byte-order mark, so Excel opens Chinese names correctly on a double click;
- money and counts as numbers (a separate currency column says which currency), not formatted text;
- times in the shop's time zone, named in the header (``Last order (Asia/Shanghai)``);
- text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is kept as text: an apostrophe
  in CSV (OWASP's advice against CSV injection), an explicit string cell in .xlsx.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import Engine
from starlette.responses import StreamingResponse

from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.console import i18n
from ecomops.platform.console.i18n import N_

FORMATS = ("csv", "xlsx")
Format = Literal["csv", "xlsx"]
#: Rows per sheet before an .xlsx stops (Excel's own limit is 1,048,576 including the header).
XLSX_MAX_ROWS = 1_000_000
#: Rows written between two chunks sent (CSV) and read per fetch (the services' row iterators).
CHUNK_ROWS = 1000
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
TRUNCATED = N_("Only the first %(n)s rows are in this file; export CSV for all %(total)s rows.")

Kind = Literal["text", "int", "number", "money", "datetime", "date"]


@dataclass(frozen=True)
class Column:
    """One exported column: the row key it reads, its header (a catalogue msgid) and its kind."""

    key: str
    header: str
    kind: Kind = "text"


@dataclass(frozen=True)
class ExportTable:
    """What a use case hands to a writer: the file's name stem, columns, rows and the shop's time zone.

    ``total`` is the number of rows the iterator will give when the caller knows it (for the .xlsx cap
    message); ``rows`` is consumed once.
    """

    name: str
    columns: tuple[Column, ...]
    rows: Iterable[Mapping[str, Any]]
    timezone: str
    total: int | None = None


def parse_format(value: str | None, field: str = "format") -> Format | None:
    """``None`` for a normal (HTML/JSON) answer, else ``csv`` or ``xlsx``; anything else is a 422."""
    if value is None or value == "":
        return None
    if value == "csv":
        return "csv"
    if value == "xlsx":
        return "xlsx"
    raise ValidationFailed(f"{field} must be csv or xlsx, got {value!r}", {"field": field})


def headers(columns: Iterable[Column], locale: str, timezone: str) -> list[str]:
    """Translated headers; time columns name the zone their values are in."""
    out = []
    for column in columns:
        text = i18n.gettext(locale, column.header)
        out.append(f"{text} ({timezone})" if column.kind == "datetime" else text)
    return out


def cell_value(value: Any, kind: Kind, zone: ZoneInfo) -> Any:
    """A row value as the spreadsheet should hold it (numbers stay numbers, times become local)."""
    if value is None:
        return None
    if kind == "datetime" and isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if kind == "date" and isinstance(value, datetime):
        return value.astimezone(zone).date() if value.tzinfo else value.date()
    if kind in ("money", "number") and not isinstance(value, Decimal):
        return Decimal(str(value))
    if kind == "int":
        return int(value)
    return value


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_chunks(table: ExportTable, locale: str) -> Iterator[bytes]:
    """The table as UTF-8 CSV with a BOM, a chunk of rows at a time (nothing accumulates)."""
    zone = ZoneInfo(table.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers(table.columns, locale, table.timezone))
    pending = 0
    first = True
    for row in table.rows:
        writer.writerow([_csv_text(cell_value(row.get(c.key), c.kind, zone)) for c in table.columns])
        pending += 1
        if pending >= CHUNK_ROWS:
            yield ((BOM if first else "") + buffer.getvalue()).encode("utf-8")
            first = False
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield ((BOM if first else "") + buffer.getvalue()).encode("utf-8")


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # never a formula, whatever the text starts with
        return cell
    return value


def xlsx_chunks(table: ExportTable, locale: str, max_rows: int = XLSX_MAX_ROWS) -> Iterator[bytes]:
    """The table as one .xlsx sheet, written in openpyxl's write-only mode to a temporary file."""
    zone = ZoneInfo(table.timezone)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=table.name[:31])
    sheet.append([_xlsx_cell(sheet, h) for h in headers(table.columns, locale, table.timezone)])
    for written, row in enumerate(table.rows):
        if written >= max_rows:
            total = table.total if table.total is not None else f"{max_rows}+"
            note = i18n.gettext(locale, TRUNCATED) % {"n": max_rows, "total": total}
            sheet.append([_xlsx_cell(sheet, note)])
            break
        sheet.append([_xlsx_cell(sheet, cell_value(row.get(c.key), c.kind, zone)) for c in table.columns])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while block := spool.read(64 * 1024):
            yield block


def file_name(table: ExportTable, fmt: Format) -> str:
    today = datetime.now(ZoneInfo(table.timezone)).date().isoformat()
    return f"{table.name}-{today}.{fmt}"


def chunks(table: ExportTable, fmt: Format, locale: str) -> Iterator[bytes]:
    return csv_chunks(table, locale) if fmt == "csv" else xlsx_chunks(table, locale)


def export_response(table: ExportTable, fmt: Format, locale: str) -> StreamingResponse:
    """A download of the table, streamed; the same for console pages and API routes."""
    name = file_name(table, fmt)
    return StreamingResponse(
        chunks(table, fmt, locale),
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


def audit_export(
    engine: Engine,
    tenant_id: str,
    table: str,
    fmt: Format,
    *,
    filters: Mapping[str, str],
    rows: int,
    via: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Every export leaves an audit record (``<table>.export``): who took which rows out, in what form.

    Recorded when the download starts, with the number of rows the filters match; a file leaves the
    platform's access control for good, so it is accountable like a reveal."""
    record_action(
        engine,
        tenant_id,
        f"{table}.export",
        table,
        fmt,
        details={"format": fmt, "filters": dict(filters), "rows": rows, "via": via, **(details or {})},
    )


def parse_table(value: str | None, tables: Collection[str]) -> str:
    """``?export=`` of a page with several tables: one of ``tables``, else a 422 naming them."""
    if value is None or value not in tables:
        raise ValidationFailed(
            f"export: unknown table {value!r}; known: {', '.join(tables)}", {"field": "export"}
        )
    return value
