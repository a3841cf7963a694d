"""``GET /api/v1/t/{tenant}/metrics`` (+ ``/catalogue``, ``/rollups``, ``/rollups/rebuild``): catalogue
metrics over the tenant's warehouse and the state of its rollups.

Thin: parameters are parsed here; each route checks the permission and returns what its use case in
``ecomops.analytics.service`` returns (run off the event loop), the typed result as response model.
Reading metrics is reading order analytics, so it is gated by ``orders:read``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import engine, service
from ecomops.analytics.catalogue import BREAKDOWNS
from ecomops.analytics.periods import Granularity
from ecomops.analytics.results import Catalogue, MetricsResult, RollupStatus
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.heavy import run_heavy

router = APIRouter(prefix="/api/v1/t/{tenant}/metrics", tags=["analytics"])

METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "metrics_timeout: the request needed more than the time limit; ask for less"},
    403: {"description": "The caller's role lacks orders:read"},
    422: {"description": "Unknown metric id, breakdown or granularity; from after to; window too long"},
}


@router.get(
    "", response_model=MetricsResult, summary="Metrics over time, by breakdown", responses=METRICS_RESPONSES
)
async def get_metrics(
    ctx: TenantDep,
    state: StateDep,
    ids: Annotated[
        str,
        Query(
            min_length=1, max_length=1000, pattern=r"^[a-z0-9_, ]+$", description="Comma-separated metric ids"
        ),
    ],
    from_: Annotated[
        date | None, Query(alias="from", description="First local day (default: 29 days before `to`)")
    ] = None,
    to: Annotated[date | None, Query(description="Last local day, inclusive (default: today)")] = None,
    granularity: Annotated[
        Granularity, Query(description="Bucket size in the tenant's time zone")
    ] = Granularity.day,
    breakdown: Annotated[
        str | None, Query(max_length=40, pattern=r"^[a-z_]*$", description=f"One of: {', '.join(BREAKDOWNS)}")
    ] = None,
    compare: Annotated[bool, Query(description="Add previous-period and last-year values")] = True,
    limit: Annotated[
        int, Query(ge=1, le=engine.MAX_LIMIT, description="Most breakdown values (top by the first metric)")
    ] = engine.DEFAULT_LIMIT,
    currency: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{3}$", description="Reporting currency (default: tenant's)")
    ] = None,
    timezone: Annotated[
        str | None, Query(max_length=64, description="IANA zone for buckets (default: tenant's)")
    ] = None,
    source: Annotated[
        Literal["auto", "rollups", "facts"],
        Query(description="auto: rollups when they can answer, else the raw facts; or force one"),
    ] = "auto",
) -> MetricsResult:
    require(ctx, "orders:read")
    query = engine.MetricsQuery(
        ids=ids,
        first=from_,
        last=to,
        granularity=granularity.value,
        breakdown=breakdown,
        compare=compare,
        limit=limit,
        currency=currency,
        timezone=timezone,
        source=source,
    )
    return await run_heavy(
        state, ctx.tenant.id, "metric reports", lambda: service.get_metrics(state, ctx.tenant, query)
    )


@router.get("/catalogue", response_model=Catalogue, summary="Every metric's definition")
async def get_catalogue(ctx: TenantDep) -> Catalogue:
    require(ctx, "orders:read")
    return service.catalogue()


@router.get("/rollups", response_model=RollupStatus, summary="State of the tenant's metric rollups")
async def get_rollups(ctx: TenantDep, state: StateDep) -> RollupStatus:
    require(ctx, "orders:read")
    return await run_in_threadpool(service.rollup_status, state, ctx.tenant)


@router.post(
    "/rollups/rebuild",
    response_model=RollupStatus,
    summary="Recompute every rollup from the facts (after facts were changed outside ingest/imports)",
    responses={403: {"description": "Role may not rebuild rollups"}},
)
async def rebuild_rollups(ctx: TenantDep, state: StateDep) -> RollupStatus:
    require(ctx, "rollups:rebuild")
    return await run_in_threadpool(service.rebuild_rollups, state, ctx.tenant)
