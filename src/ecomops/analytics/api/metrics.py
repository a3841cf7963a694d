"""``GET /api/v1/t/{tenant}/metrics``: catalogue metrics over the tenant's warehouse.

Thin: parameters are parsed here, validated and computed by ``ecomops.analytics.engine`` off the
event loop. Reading metrics is reading order analytics, so it is gated by ``orders:read``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import engine, rollups
from ecomops.analytics.catalogue import BREAKDOWNS, catalogue_payload
from ecomops.analytics.periods import Granularity
from ecomops.platform.audit import record_action
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/metrics", tags=["analytics"])

CellValue = str | int | float | None


class MetricOut(BaseModel):
    id: str
    name_en: str
    name_zh: str
    unit: str = Field(description="money (Decimal string in `currency`), count (integer) or ratio (number)")
    formula: str
    available: bool
    reason: str | None = Field(description="Why the metric is null everywhere in this answer")


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="First local day")
    to: str = Field(description="Last local day (inclusive)")
    start: str = Field(description="UTC instant the period starts")
    end: str = Field(description="UTC instant the period ends (exclusive)")


class PeriodsOut(BaseModel):
    current: PeriodOut
    previous_period: PeriodOut | None
    last_year: PeriodOut | None


class BreakdownOut(BaseModel):
    id: str
    values_total: int = Field(description="Breakdown values with data in the window")
    values_shown: int = Field(description="Values returned: the top `limit` by the first metric")


class SeriesRowOut(BaseModel):
    bucket: str = Field(
        description="Local label: 2026-11-11, week's Monday, 2026-11, or 2026-11-11T20:00+08:00"
    )
    start: str
    end: str
    breakdown_value: str | None
    values: dict[str, CellValue]
    previous: dict[str, CellValue] | None = Field(default=None, description="The bucket before (环比)")
    last_year: dict[str, CellValue] | None = Field(
        default=None, description="Same bucket a year earlier (同比)"
    )


class TotalRowOut(BaseModel):
    breakdown_value: str | None
    values: dict[str, CellValue]
    previous_period: dict[str, CellValue] | None = None
    last_year: dict[str, CellValue] | None = None


class MetricsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tenant: str
    currency: str
    timezone: str
    granularity: str
    from_: str = Field(alias="from")
    to: str
    breakdown: BreakdownOut | None
    periods: PeriodsOut
    metrics: list[MetricOut]
    other_currencies: dict[str, int] = Field(
        description="Orders of the window in other currencies, left out of every metric"
    )
    series: list[SeriesRowOut]
    totals: list[TotalRowOut]
    source: str = Field(
        default="facts", description="Where the base measures came from: rollups or facts (raw tables)"
    )


class CatalogueMetricOut(BaseModel):
    id: str
    name_en: str
    name_zh: str
    unit: str
    formula: str
    description: str
    measures: list[str]


class CatalogueOut(BaseModel):
    metrics: list[CatalogueMetricOut]
    base_measures: dict[str, str]
    breakdowns: dict[str, str]
    granularities: list[str]


METRICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "metrics_timeout: the request needed more than the time limit; ask for less"},
    403: {"description": "The caller's role lacks orders:read"},
    422: {"description": "Unknown metric id, breakdown or granularity; from after to; window too long"},
}


@router.get(
    "", response_model=MetricsOut, summary="Metrics over time, by breakdown", responses=METRICS_RESPONSES
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
) -> dict[str, Any]:
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
    warehouse = state.warehouses.get(ctx.tenant.id)
    return await run_in_threadpool(engine.compute_for_warehouse, warehouse, ctx.tenant, query)


@router.get("/catalogue", response_model=CatalogueOut, summary="Every metric's definition")
async def get_catalogue(ctx: TenantDep) -> dict[str, Any]:
    require(ctx, "orders:read")
    return catalogue_payload()


class RollupStatusOut(BaseModel):
    ready: bool = Field(description="False until the rollups are built; metrics then read the raw facts")
    current: bool = Field(
        description="Ready and in step with the fact tables' row counts (False: a writer skipped the refresh)"
    )
    rebuilt_at: str | None
    refreshed_at: str | None
    hours_refreshed: int = Field(description="UTC hours recomputed incrementally since the last rebuild")
    day_zone: str | None = Field(
        description="Time zone the day rollups are kept in (the tenant's); None until the first metrics call"
    )
    version: int = Field(description="Rollup maintenance steps so far (invalidates kept period results)")
    rows: dict[str, int]


def _rollup_status(warehouse: Any) -> dict[str, Any]:
    cur = warehouse.cursor()
    try:
        return rollups.status(cur)
    finally:
        cur.close()


def _rebuild(warehouse: Any, timezone: str) -> dict[str, Any]:
    with warehouse.write() as cur:
        rollups.rebuild(cur)
        rollups.keep_days_in(cur, timezone)
        return rollups.status(cur)


@router.get("/rollups", response_model=RollupStatusOut, summary="State of the tenant's metric rollups")
async def get_rollups(ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "orders:read")
    return await run_in_threadpool(_rollup_status, state.warehouses.get(ctx.tenant.id))


@router.post(
    "/rollups/rebuild",
    response_model=RollupStatusOut,
    summary="Recompute every rollup from the facts (after facts were changed outside ingest/imports)",
    responses={403: {"description": "Role may not rebuild rollups"}},
)
async def rebuild_rollups(ctx: TenantDep, state: StateDep) -> dict[str, Any]:
    require(ctx, "rollups:rebuild")
    warehouse = state.warehouses.get(ctx.tenant.id)
    before = await run_in_threadpool(_rollup_status, warehouse)
    after = await run_in_threadpool(_rebuild, warehouse, ctx.tenant.timezone)
    await run_in_threadpool(
        record_action,
        state.engine,
        ctx.tenant.id,
        "metrics.rollups_rebuilt",
        "warehouse",
        ctx.tenant.id,
        before=before,
        after=after,
    )
    return after
