"""Products explorer: ``/t/{slug}/products[/{id}]``, server-rendered from ``products.service`` on a
cursor of the warehouse this server owns; HTMX swaps only the results for filter changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console import i18n
from ecomops.platform.console.params import (
    on_cursor,
    query_day,
    query_int,
    query_text,
)
from ecomops.platform.console.shell import Page, error_page, is_htmx, open_page, problem_title, render
from ecomops.platform.export import FORMATS, export_response, parse_format
from ecomops.products import service as products
from ecomops.products.results import ProductTrend

router = APIRouter(include_in_schema=False)


@router.get("/t/{slug}/products", response_class=HTMLResponse)
async def products_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "orders:read", "products")
    if not isinstance(page, Page):
        return page
    error = None
    result = None
    sort = request.query_params.get("sort") or "revenue"
    try:
        filters = products.ProductFilters(
            query_day(request, "date_from"),
            query_day(request, "date_to"),
            query_text(request, "category"),
            query_text(request, "search"),
        )
        offset = query_int(request, "offset", 0, 0, products.MAX_OFFSET)
        limit = query_int(request, "limit", products.DEFAULT_PAGE, 1, products.MAX_PAGE)
        fmt = parse_format(query_text(request, "format"))
        if fmt is not None:
            chosen, chosen_filters = fmt, filters
            table = await run_in_threadpool(
                lambda: products.export_products(
                    page.state, page.tenant, chosen_filters, chosen, sort=sort, via="session"
                )
            )
            return export_response(table, chosen, page.locale)
        result = await run_in_threadpool(
            lambda: products.find_products(
                page.state, page.tenant, filters, sort=sort, limit=limit, offset=offset
            )
        )
    except EcomopsError as exc:
        error = exc.message
    categories = await run_in_threadpool(on_cursor, page, products.categories)
    pages: dict[str, str | None] = {"prev": None, "next": None}
    if result is not None:
        query = {**result.filters, "sort": result.sort}
        if result.offset + result.limit < result.total:
            pages["next"] = f"{page.base}/products?" + urlencode(
                {**query, "offset": result.offset + result.limit}
            )
        if result.offset > 0:
            pages["prev"] = f"{page.base}/products?" + urlencode(
                {**query, "offset": max(0, result.offset - result.limit)}
            )
    context = {
        "result": result,
        "error": error,
        "form": {k: request.query_params.get(k, "") for k in ("date_from", "date_to", "category", "search")},
        "sort": sort,
        "sorts": list(products.SORTS),
        "categories": categories,
        "pages": pages,
        "exports": {
            fmt: f"{page.base}/products?" + urlencode({**result.filters, "sort": result.sort, "format": fmt})
            for fmt in FORMATS
        }
        if result is not None and result.total
        else None,
    }
    template = "products/_products_results.html" if is_htmx(request) else "products/products.html"
    return render(page, template, context, status=422 if error else 200)


@router.get("/t/{slug}/products/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, slug: str, product_id: str) -> Response:
    page = await open_page(request, slug, "orders:read", "products")
    if not isinstance(page, Page):
        return page
    try:
        product = await run_in_threadpool(products.find_product, page.state, page.tenant, product_id)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    today = utcnow().astimezone(ZoneInfo(page.tenant.timezone)).date()
    error = None
    try:
        first, last = query_day(request, "date_from"), query_day(request, "date_to")
        trend = await run_in_threadpool(
            products.find_trend, page.state, page.tenant, product_id, first, last, today
        )
    except EcomopsError as exc:
        error = exc.message
        trend = await run_in_threadpool(
            products.find_trend, page.state, page.tenant, product_id, None, None, today
        )
    context = {
        "product": product,
        "trend": trend,
        "chart": _chart(page, trend, product.currency),
        "error": error,
    }
    return render(page, "products/product.html", context, status=422 if error else 200)


def _change(now: Decimal | int, before: Decimal | int) -> float | None:
    return None if not before else float((Decimal(now) - Decimal(before)) / Decimal(before))


def _chart(page: Page, trend: ProductTrend, currency: str | None) -> dict[str, Any]:
    """The trend chart's JSON (drawn by ``static/console/overview.js``) and the period's changes."""
    locale = page.locale
    names = {
        "revenue": i18n.gettext(locale, "Revenue"),
        "previous_revenue": i18n.gettext(locale, "Revenue, previous period"),
        "units": i18n.gettext(locale, "Units sold"),
        "orders": i18n.gettext(locale, "Orders"),
        "views": i18n.gettext(locale, "Product views"),
        "add_to_cart": i18n.gettext(locale, "Added to cart"),
    }
    return {
        "currency": currency or page.tenant.currency,
        "locale": locale.replace("_", "-"),
        "names": names,
        "labels": [d.day.isoformat()[5:] for d in trend.days],
        "revenue": [float(d.revenue) for d in trend.days],
        "previous_revenue": [float(d.previous_revenue) for d in trend.days],
        "units": [d.units_sold for d in trend.days],
        "orders": [d.orders for d in trend.days],
        "views": [d.views for d in trend.days] if trend.has_events else None,
        "add_to_cart": [d.add_to_cart for d in trend.days] if trend.has_events else None,
        "changes": {
            "units": _change(trend.total_units_sold, trend.previous_units_sold),
            "revenue": _change(trend.total_revenue, trend.previous_revenue),
            "orders": _change(trend.total_orders, trend.previous_orders),
        },
    }
