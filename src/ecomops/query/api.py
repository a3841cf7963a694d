"""``POST /api/v1/t/{tenant}/query``: read-only SQL over the tenant warehouse this server owns.

Thin by design: validation, execution and rendering live in ``ecomops.platform.warehouse.query``; this
module parses the body, checks the caller's role and runs the service off the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.concurrency import run_in_threadpool

from ecomops.platform.permissions import require
from ecomops.platform.warehouse import query as service
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}", tags=["warehouse"])

#: Raw SQL sees every fact of the tenant, so it is an analyst's tool; marketers, operators and viewers
#: get curated reports instead. The control token acts as owner.


class QueryRequest(BaseModel):
    """Strict so that e.g. ``"limit": "10"`` or ``"limit": true`` is a 422, not silently coerced."""

    model_config = ConfigDict(strict=True, extra="forbid")

    sql: str = Field(min_length=1, max_length=service.MAX_SQL_CHARS, description="One read-only statement")
    limit: int = Field(
        default=service.DEFAULT_LIMIT, ge=1, le=service.MAX_LIMIT, description="Most rows to return"
    )


class ColumnOut(BaseModel):
    name: str
    type: str = Field(description="DuckDB type, e.g. DECIMAL(18,4) or TIMESTAMP WITH TIME ZONE")


class QueryResponse(BaseModel):
    columns: list[ColumnOut]
    rows: list[list[JsonValue]] = Field(
        description="Row values in column order; decimals as strings, times as ISO 8601, blobs as base64"
    )
    row_count: int
    truncated: bool = Field(description="True if the statement had more rows than `limit`")
    elapsed_ms: float


QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Statement refused (not read-only, unknown table, file access), failed, timed out"},
    403: {"description": "The API key's role may not run SQL"},
}


@router.post("/query", summary="Run a read-only SQL query", responses=QUERY_RESPONSES)
async def run_query(body: QueryRequest, ctx: TenantDep, state: StateDep) -> QueryResponse:
    require(ctx, "sql:query")

    def _run() -> service.QueryResult:
        return service.query_warehouse(state.warehouses.get(ctx.tenant.id), body.sql, limit=body.limit)

    result = await run_in_threadpool(_run)
    return QueryResponse(
        columns=[ColumnOut(name=c.name, type=c.type) for c in result.columns],
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
        elapsed_ms=result.elapsed_ms,
    )
