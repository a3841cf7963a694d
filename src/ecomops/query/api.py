"""``POST /api/v1/t/{tenant}/query``: read-only SQL over the tenant warehouse this server owns.

Thin by design: the body is parsed here, the caller's role checked, and ``query.service.run_query``
(the same function ``ecomops query`` runs without a server) runs off the event loop.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.heavy import run_heavy
from ecomops.query import service
from ecomops.query.service import QueryAnswer

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
    format: Literal["csv", "xlsx"] | None = Field(
        default=None,
        description="Answer the rows as a CSV or .xlsx download (headers are the result's column names, "
        "times in the tenant's zone); audited as query.export",
    )


QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Statement refused (not read-only, unknown table, file access), failed, timed out"},
    403: {"description": "The API key's role may not run SQL"},
}


@router.post(
    "/query",
    response_model=QueryAnswer,
    summary='Run a read-only SQL query; "format": "csv"|"xlsx" downloads the rows',
    responses={**QUERY_RESPONSES, 200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def run_query(body: QueryRequest, ctx: TenantDep, state: StateDep) -> QueryAnswer | Response:
    require(ctx, "sql:query")
    if body.format is not None:
        fmt = body.format
        table = await run_heavy(
            state,
            ctx.tenant.id,
            "queries",
            lambda: service.export_query(state, ctx.tenant, body.sql, body.limit, fmt, via=ctx.via),
        )
        # Headers are the statement's own column names: never looked up in the translation catalogue.
        return export_response(table, fmt, "en")
    return await run_heavy(
        state, ctx.tenant.id, "queries", lambda: service.run_query(state, ctx.tenant, body.sql, body.limit)
    )
