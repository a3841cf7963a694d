"""``GET /api/v1/t/{tenant}/funnel``: the conversion funnel of a window of local days.

The overview dashboard renders the same :func:`ecomops.analytics.funnel.compute`; this route makes it
reachable for scripts and the CLI. Reading the funnel is reading order analytics (``orders:read``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import funnel
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/funnel", tags=["analytics"])


class StepOut(BaseModel):
    id: str = Field(description="visitors, product_views, add_to_cart, checkout or orders")
    visitors: int = Field(description="Distinct visitors who reached this step and every earlier one")
    step_rate: float | None = Field(description="Share of the previous step's visitors")
    overall_rate: float | None = Field(description="Share of all visitors")


class FunnelOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    timezone: str
    available: bool = Field(description="False when the window has no page or screen events")
    steps: list[StepOut]


@router.get(
    "",
    response_model=FunnelOut,
    summary="Visitors → product views → add to cart → checkout → orders",
    responses={422: {"description": "from after to, a window longer than 1100 days, unknown time zone"}},
)
async def get_funnel(
    ctx: TenantDep,
    state: StateDep,
    from_: Annotated[date | None, Query(alias="from", description="First local day")] = None,
    to: Annotated[date | None, Query(description="Last local day, inclusive (default: today)")] = None,
    timezone: Annotated[
        str | None, Query(max_length=64, description="IANA zone of the days (default: tenant's)")
    ] = None,
) -> dict[str, Any]:
    require(ctx, "orders:read")
    first, last, zone = funnel.window(ctx.tenant, from_, to, timezone)
    warehouse = state.warehouses.get(ctx.tenant.id)

    def run() -> dict[str, Any]:
        cur = warehouse.cursor()
        try:
            return funnel.compute(cur, first, last, zone).as_dict()
        finally:
            cur.close()

    return await run_in_threadpool(run)
