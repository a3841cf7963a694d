"""``GET /api/v1/t/{tenant}/sessions/conversion``: session conversion by a session property.

For session-level data (the sessions import presets): sessions, converted sessions and the rate per
month, traffic type, visitor type… The console's sessions page and ``ecomops sessions`` show the same
:class:`ecomops.analytics.sessions.SessionConversion`. Reading it is reading analytics (``orders:read``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from ecomops.analytics import service
from ecomops.analytics.sessions import BREAKDOWNS, SessionConversion
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.heavy import run_heavy

router = APIRouter(prefix="/api/v1/t/{tenant}/sessions", tags=["analytics"])


@router.get(
    "/conversion",
    response_model=SessionConversion,
    summary="Sessions, converted sessions and conversion rate by a session property; ?format=csv|xlsx",
    responses={
        200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}},
        422: {"description": "unknown breakdown, from after to, unknown time zone"},
    },
)
async def get_session_conversion(
    request: Request,
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
    format: Annotated[
        Literal["csv", "xlsx"] | None,
        Query(description="Download the rows and the total as CSV or .xlsx (in the tenant's zone); audited"),
    ] = None,
) -> SessionConversion | Response:
    require(ctx, "orders:read")
    if format is not None:
        fmt = format
        table = await run_heavy(
            state,
            ctx.tenant.id,
            "funnels",
            lambda: service.export_session_conversion(
                state, ctx.tenant, breakdown, from_, to, timezone, fmt, via=ctx.via
            ),
        )
        return export_response(table, fmt, request_locale(request))
    return await run_heavy(
        state,
        ctx.tenant.id,
        "funnels",
        lambda: service.get_session_conversion(state, ctx.tenant, breakdown, from_, to, timezone),
    )
