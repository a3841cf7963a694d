"""``POST /api/v1/t/{tenant}/query``: read-only SQL over the tenant warehouse this server owns.

Thin by design: the body is parsed here, the caller's role checked, and ``query.service.run_query``
(the same function ``ecomops query`` runs without a server) runs off the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

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


QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Statement refused (not read-only, unknown table, file access), failed, timed out"},
    403: {"description": "The API key's role may not run SQL"},
}


@router.post(
    "/query", response_model=QueryAnswer, summary="Run a read-only SQL query", responses=QUERY_RESPONSES
)
async def run_query(body: QueryRequest, ctx: TenantDep, state: StateDep) -> QueryAnswer:
    require(ctx, "sql:query")
    return await run_heavy(
        state, ctx.tenant.id, "queries", lambda: service.run_query(state, ctx.tenant, body.sql, body.limit)
    )
