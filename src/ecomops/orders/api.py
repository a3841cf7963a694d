"""``GET /api/v1/t/{tenant}/orders[/{order_id}]``: the orders explorer as JSON (``orders:read``).

Thin: query parameters are validated here (strict types, bounded lengths), the list and the detail
come from ``orders.service`` on a cursor of the warehouse this server owns.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.jsonutil import money_strings
from ecomops.orders import service
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.state import AppState

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


class OrderOut(BaseModel):
    order_id: str
    external_id: str | None
    ordered_at: datetime
    status: str
    channel: str | None
    source: str | None
    customer_id: str | None
    currency: str
    total: str = Field(description="Decimal string")
    discount: str
    coupon: str | None
    items_count: int
    country: str | None
    region: str | None
    city: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None


class OrderPageOut(BaseModel):
    items: list[OrderOut]
    total: int = Field(description="Orders matching the filters, all pages")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    limit: int
    filters: dict[str, str]


class ItemOut(BaseModel):
    item_id: str
    product_id: str | None
    sku: str | None
    name: str | None
    category: str | None
    quantity: int
    unit_price: str
    discount: str
    line_total: str
    currency: str


class RefundOut(BaseModel):
    refund_id: str
    product_id: str | None
    sku: str | None
    quantity: int | None
    amount: str | None
    currency: str
    reason: str | None
    source: str | None
    refunded_at: datetime


class PaymentOut(BaseModel):
    payment_id: str
    sequential: int | None
    payment_type: str | None
    installments: int | None
    amount: str
    currency: str


class LiveSessionOut(BaseModel):
    live_session_id: str
    channel: str
    host: str | None
    title: str | None
    started_at: datetime
    ended_at: datetime | None
    peak_viewers: int | None


class OrderDetailOut(OrderOut):
    anonymous_id: str | None
    paid_at: datetime | None
    subtotal: str
    shipping: str
    tax: str
    device: str | None
    live_session_id: str | None
    loaded_at: datetime | None
    items: list[ItemOut]
    refunds: list[RefundOut]
    payments: list[PaymentOut]
    refunded_total: str
    live_session: LiveSessionOut | None


def _on_cursor(state: AppState, tenant_id: str, fn: Any) -> Any:
    cur = state.warehouses.get(tenant_id).cursor()
    try:
        return fn(cur)
    finally:
        cur.close()


@router.get("", response_model=OrderPageOut, summary="Orders, newest first, with filters and keyset pages")
async def list_orders(
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
) -> dict[str, Any]:
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
    page: service.OrderPage = await run_in_threadpool(
        _on_cursor,
        state,
        ctx.tenant.id,
        lambda cur: service.list_orders(cur, ctx.tenant.timezone, filters, limit=limit, cursor=cursor),
    )
    return {
        "items": [money_strings(i) for i in page.items],
        "total": page.total,
        "next_cursor": page.next_cursor,
        "limit": page.limit,
        "filters": page.filters,
    }


@router.get("/{order_id}", response_model=OrderDetailOut, summary="An order with items, refunds, payments")
async def get_order(
    ctx: TenantDep, state: StateDep, order_id: Annotated[str, Path(min_length=1, max_length=service.MAX_TEXT)]
) -> dict[str, Any]:
    require(ctx, "orders:read")
    order = await run_in_threadpool(
        _on_cursor, state, ctx.tenant.id, lambda cur: service.get_order(cur, order_id)
    )
    return money_strings(order)
