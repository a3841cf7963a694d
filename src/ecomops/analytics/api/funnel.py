"""``GET /api/v1/t/{tenant}/funnel``: the conversion funnel of a window of local days.

The overview dashboard renders the same :class:`ecomops.analytics.funnel.Funnel`; this route makes it
reachable for scripts and the CLI. Reading the funnel is reading order analytics (``orders:read``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from ecomops.analytics import service
from ecomops.analytics.funnel import Funnel
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.heavy import run_heavy

router = APIRouter(prefix="/api/v1/t/{tenant}/funnel", tags=["analytics"])


@router.get(
    "",
    response_model=Funnel,
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
) -> Funnel:
    require(ctx, "orders:read")
    return await run_heavy(
        state, ctx.tenant.id, "funnels", lambda: service.get_funnel(state, ctx.tenant, from_, to, timezone)
    )
