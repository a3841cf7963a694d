"""The query module's use case: one read-only SQL statement over a tenant's warehouse.

The API (``POST /api/v1/t/{tenant}/query``) and ``ecomops query`` both run :func:`run_query`; the
guard itself (allowlist, regenerated SQL, read-only transaction, time limit) is the platform's
``warehouse.query``. The answer is typed: the API serialises it, the CLI prints it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, JsonValue

from ecomops.platform.context import TenantInfo
from ecomops.platform.export import Column as ExportColumn
from ecomops.platform.export import ExportTable, Format, Kind, audit_export
from ecomops.platform.warehouse import query as guard
from ecomops.platform.web.state import AppState

DEFAULT_LIMIT = guard.DEFAULT_LIMIT
MAX_LIMIT = guard.MAX_LIMIT
MAX_SQL_CHARS = guard.MAX_SQL_CHARS
#: Seconds a statement may run before it is cancelled (a 400 ``query_timeout``).
TIMEOUT_SECONDS = guard.DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class Column:
    name: str
    type: Annotated[str, Field(description="DuckDB type, e.g. DECIMAL(18,4) or TIMESTAMP WITH TIME ZONE")]


@dataclass(frozen=True)
class QueryAnswer:
    columns: tuple[Column, ...]
    rows: Annotated[
        list[list[JsonValue]],
        Field(
            description="Row values in column order; decimals as strings, times as ISO 8601, blobs as base64"
        ),
    ]
    row_count: int
    truncated: Annotated[
        bool,
        Field(description="True if the statement had more rows than `limit` or than fit in the size cap"),
    ]
    elapsed_ms: float
    truncated_by: Annotated[
        str | None,
        Field(
            description='Why rows stop early: "rows" (the limit) or "bytes" (16 MB of JSON rows); '
            "null when every row is there"
        ),
    ] = None


def run_query(state: AppState, tenant: TenantInfo, sql: str, limit: int = DEFAULT_LIMIT) -> QueryAnswer:
    """Validate and run ``sql`` on the tenant's warehouse (400 ``query_refused``/``query_failed``/
    ``query_timeout`` when it is not a read-only query, fails or runs too long)."""
    result = guard.query_warehouse(
        state.warehouses.get(tenant.id), sql, limit=limit, timeout_seconds=TIMEOUT_SECONDS
    )
    return QueryAnswer(
        columns=tuple(Column(c.name, c.type) for c in result.columns),
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
        truncated_by=result.truncated_by,
    )


_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT"}  # fmt: skip


def _kind(type_name: str) -> Kind:
    """How a result column is written: integers and decimals as numbers (decimals exact, from their
    strings), times with a zone in the shop's zone; floats keep their JSON value (a number, or the
    text of a non-finite one); everything else as text."""
    upper = type_name.upper()
    if upper in _INTEGERS:
        return "int"
    if upper.startswith("DECIMAL"):
        return "number"
    if upper == "TIMESTAMP WITH TIME ZONE":
        return "datetime"
    return "text"


def _cell(value: JsonValue, kind: Kind) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def export_query(
    state: AppState, tenant: TenantInfo, sql: str, limit: int, fmt: Format, *, via: str
) -> ExportTable:
    """The "export a query's result" use case: :func:`run_query`'s rows as a file, headed by the
    result's own column names. Audited as ``query.export`` with the statement and whether the rows
    were truncated (by ``limit`` or the size cap)."""
    answer = run_query(state, tenant, sql, limit)
    columns = tuple(ExportColumn(f"c{i}", c.name, _kind(c.type)) for i, c in enumerate(answer.columns))
    rows = (
        {col.key: _cell(value, col.kind) for col, value in zip(columns, row, strict=True)}
        for row in answer.rows
    )
    details = {"sql": sql, "truncated_by": answer.truncated_by}
    audit_export(
        state.engine, tenant.id, "query", fmt, filters={}, rows=answer.row_count, via=via, details=details
    )
    return ExportTable("query", columns, rows, tenant.timezone, answer.row_count)
