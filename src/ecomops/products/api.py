"""``GET /api/v1/t/{tenant}/products[/{product_id}]``: product analytics as JSON.

Gated by ``orders:read``: the figures are order analytics per product (sales, margin, stock, reviews)
and every role that reads orders may read them; no personal data is involved.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.clock import utcnow
from ecomops.platform.console.templating import request_locale
from ecomops.platform.export import MEDIA_TYPES, export_response
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep
from ecomops.products import service
from ecomops.products.results import ProductDetail, ProductPage, ProductTrend

router = APIRouter(prefix="/api/v1/t/{tenant}/products", tags=["products"])

Text = Annotated[str | None, Query(min_length=1, max_length=service.MAX_TEXT)]
DateFrom = Annotated[date | None, Query(description="Sales window start, in the tenant's time zone")]
DateTo = Annotated[date | None, Query(description="Sales window end (inclusive)")]


@router.get(
    "",
    response_model=ProductPage,
    summary="Products with sales, stock, margin and reviews; ?format=csv|xlsx downloads them all",
    responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}},
)
async def list_products(
    request: Request,
    ctx: TenantDep,
    state: StateDep,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    category: Text = None,
    search: Text = None,
    sort: Annotated[str, Query(pattern="^(" + "|".join(service.SORTS) + ")$")] = "revenue",
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = service.DEFAULT_PAGE,
    offset: Annotated[int, Query(ge=0, le=service.MAX_OFFSET)] = 0,
    format: Annotated[
        Literal["csv", "xlsx"] | None,
        Query(description="Download every matching product as CSV (UTF-8 with BOM) or .xlsx; audited"),
    ] = None,
) -> ProductPage | Response:
    require(ctx, "orders:read")
    filters = service.ProductFilters(date_from, date_to, category, search)
    if format is not None:
        fmt = format
        table = await run_in_threadpool(
            lambda: service.export_products(state, ctx.tenant, filters, fmt, sort=sort, via=ctx.via)
        )
        return export_response(table, fmt, request_locale(request))
    return await run_in_threadpool(
        lambda: service.find_products(state, ctx.tenant, filters, sort=sort, limit=limit, offset=offset)
    )


@router.get("/{product_id}", response_model=ProductDetail, summary="A product's sales, stock and reviews")
async def get_product(
    ctx: TenantDep,
    state: StateDep,
    product_id: Annotated[str, Path(min_length=1, max_length=service.MAX_TEXT)],
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> ProductDetail:
    require(ctx, "orders:read")
    filters = service.ProductFilters(date_from, date_to)
    return await run_in_threadpool(service.find_product, state, ctx.tenant, product_id, filters)


@router.get(
    "/{product_id}/trend",
    response_model=ProductTrend,
    summary="A product's daily units, revenue and orders (and views, add-to-carts) vs the previous period",
)
async def get_trend(
    ctx: TenantDep,
    state: StateDep,
    product_id: Annotated[str, Path(min_length=1, max_length=service.MAX_TEXT)],
    date_from: Annotated[
        date | None, Query(description="First local day (default: 29 days before date_to)")
    ] = None,
    date_to: Annotated[date | None, Query(description="Last local day, inclusive (default: today)")] = None,
) -> ProductTrend:
    require(ctx, "orders:read")
    today = utcnow().astimezone(ZoneInfo(ctx.tenant.timezone)).date()
    return await run_in_threadpool(
        service.find_trend, state, ctx.tenant, product_id, date_from, date_to, today
    )
