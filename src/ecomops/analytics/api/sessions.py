"""``GET /api/v1/t/{tenant}/sessions/conversion``: session conversion by a session property.

For session-level data (the sessions import presets): sessions, converted sessions and the rate per
month, traffic type, visitor type… The console's sessions page and ``ecomops sessions`` show the same
:class:`ecomops.analytics.sessions.SessionConversion`. Reading it is reading analytics (``orders:read``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from ecomops.analytics import service
from ecomops.analytics.sessions import BREAKDOWNS, SessionConversion
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.heavy import run_heavy

router = APIRouter(prefix="/api/v1/t/{tenant}/sessions", tags=["analytics"])


@router.get(
    "/conversion",
    response_model=SessionConversion,
    summary="Sessions, converted sessions and conversion rate by a session property",
    responses={422: {"description": "unknown breakdown, from after to, unknown time zone"}},
)
async def get_session_conversion(
    ctx: TenantDep,
    state: StateDep,
    breakdown: Annotated[
        str | None, Query(max_length=32, description=f"one of {', '.join(BREAKDOWNS)}; none: the total")
    ] = None,
    from_: Annotated[date | None, Query(alias="from", description="First local day (default: all)")] = None,
    to: Annotated[date | None, Query(description="Last local day, inclusive (default: all)")] = None,
    timezone: Annotated[
        str | None, Query(max_length=64, description="IANA zone of the days (default: tenant's)")
    ] = None,
) -> SessionConversion:
    require(ctx, "orders:read")
    return await run_heavy(
        state,
        ctx.tenant.id,
        "funnels",
        lambda: service.get_session_conversion(state, ctx.tenant, breakdown, from_, to, timezone),
    )
