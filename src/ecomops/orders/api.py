"""``GET /api/v1/t/{tenant}/orders[/{order_id}]``: the orders explorer as JSON (``orders:read``).

Thin: query parameters are validated here (strict types, bounded lengths), the list and the detail
come from ``orders.service`` (the same use-case functions the CLI calls) as typed results.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ecomops.orders import service
from ecomops.orders.results import OrderDetail, OrderPage
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/orders", tags=["orders"])

Text = Annotated[str | None, Query(min_length=1, max_length=service.MAX_TEXT)]
Utm = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=service.MAX_TEXT,
        description='Exact value; "(none)" = orders without one (the metric breakdowns\' label)',
    ),
]
MoneyQuery = Annotated[Decimal | None, Query(ge=0, le=Decimal("1e14"), max_digits=18, decimal_places=4)]


@router.get(
    "",
    response_model=OrderPage,
    summary="Orders, newest first, with filters and keyset pages; ?format=csv|xlsx downloads them all",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_orders(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    date_from: Annotated[date | None, Query(description="First day, in the tenant's time zone")] = None,
    date_to: Annotated[date | None, Query(description="Last day (inclusive), tenant's time zone")] = None,
    channel: Text = None,
    status: Text = None,
    min_total: MoneyQuery = None,
    max_total: MoneyQuery = None,
    customer_id: Text = None,
    coupon: Text = None,
    utm_source: Utm = None,
    utm_medium: Utm = None,
    utm_campaign: Utm = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = service.DEFAULT_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=600, description="next_cursor of the previous page")
    ] = None,
    format: Annotated[
        Literal["csv", "xlsx"] | None,
        Query(description="Download every matching order as CSV (UTF-8 with BOM) or .xlsx; audited"),
    ] = None,
) -> OrderPage | Response:
    require(ctx, "orders:read")
    filters = service.OrderFilters(
        date_from,
        date_to,
        channel,
        status,
        min_total,
        max_total,
        customer_id,
        coupon,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
    )
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: service.export_orders(state, ctx.tenant, filters, fmt, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    return await run_in_threadpool(
        lambda: service.find_orders(state, ctx.tenant, filters, limit=limit, cursor=cursor)
    )


@router.get("/{order_id}", response_model=OrderDetail, summary="An order with items, refunds, payments")
async def get_order(
    ctx: TenantDep, state: StateDep, order_id: Annotated[str, Path(min_length=1, max_length=service.MAX_TEXT)]
) -> OrderDetail:
    require(ctx, "orders:read")
    return await run_in_threadpool(service.find_order, state, ctx.tenant, order_id)
