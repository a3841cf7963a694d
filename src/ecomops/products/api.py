"""``GET /api/v1/t/{tenant}/products[/{product_id}]``: product analytics as JSON.

Gated by ``orders:read``: the figures are order analytics per product (sales, margin, stock, reviews)
and every role that reads orders may read them; no personal data is involved.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.jsonutil import money_strings
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.platform.web.state import AppState
from ecomops.products import service

router = APIRouter(prefix="/api/v1/t/{tenant}/products", tags=["products"])

Text = Annotated[str | None, Query(min_length=1, max_length=service.MAX_TEXT)]
DateFrom = Annotated[date | None, Query(description="Sales window start, in the tenant's time zone")]
DateTo = Annotated[date | None, Query(description="Sales window end (inclusive)")]


class ProductOut(BaseModel):
    product_id: str
    sku: str | None
    name: str | None
    category: str | None
    brand: str | None
    price: str | None
    cost: str | None
    currency: str | None
    status: str | None
    units_sold: int
    revenue: str = Field(description="Sum of line totals of non-cancelled orders in the window")
    orders: int
    refunded: str
    refunds: int
    gross_margin: str | None = Field(description="revenue − units × cost; null when cost is unknown")
    margin_rate: str | None
    stock_on_hand: int | None = Field(description="Latest inventory snapshot, all warehouses")
    stock_reserved: int | None
    stock_at: datetime | None
    review_count: int
    avg_rating: float | None


class ProductPageOut(BaseModel):
    items: list[ProductOut]
    total: int
    limit: int
    offset: int
    sort: str
    filters: dict[str, str]


class ChannelSalesOut(BaseModel):
    channel: str
    units_sold: int
    revenue: str
    orders: int


class StockOut(BaseModel):
    warehouse_code: str
    on_hand: int
    reserved: int
    snapshot_at: datetime


class ReviewOut(BaseModel):
    review_id: str
    rating: int
    title: str | None
    body: str | None
    channel: str | None
    language: str | None
    created_at: datetime


class ProductDetailOut(ProductOut):
    by_channel: list[ChannelSalesOut]
    stock: list[StockOut]
    rating_histogram: dict[int, int]
    recent_reviews: list[ReviewOut]
    window: dict[str, str]


def _on_cursor(state: AppState, tenant_id: str, fn: Any) -> Any:
    cur = state.warehouses.get(tenant_id).cursor()
    try:
        return fn(cur)
    finally:
        cur.close()


@router.get("", response_model=ProductPageOut, summary="Products with sales, stock, margin and reviews")
async def list_products(
    ctx: TenantDep,
    state: StateDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    category: Text = None,
    search: Text = None,
    sort: Annotated[str, Query(pattern="^(" + "|".join(service.SORTS) + ")$")] = "revenue",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = service.DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0, le=service.MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    require(ctx, "orders:read")
    filters = service.ProductFilters(date_from, date_to, category, search)
    page = await run_in_threadpool(
        _on_cursor,
        state,
        ctx.tenant.id,
        lambda cur: service.list_products(
            cur, ctx.tenant.timezone, filters, sort=sort, limit=limit, offset=offset
        ),
    )
    return money_strings(page)


@router.get("/{product_id}", response_model=ProductDetailOut, summary="A product's sales, stock and reviews")
async def get_product(
    ctx: TenantDep,
    state: StateDep,
    product_id: Annotated[str, Path(min_length=1, max_length=service.MAX_TEXT)],
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> dict[str, Any]:
    require(ctx, "orders:read")
    filters = service.ProductFilters(date_from, date_to)
    product = await run_in_threadpool(
        _on_cursor,
        state,
        ctx.tenant.id,
        lambda cur: service.get_product(cur, ctx.tenant.timezone, product_id, filters),
    )
    return money_strings(product)
