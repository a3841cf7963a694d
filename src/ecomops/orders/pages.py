"""Orders and products explorers: ``/t/{slug}/orders[/{id}]`` and ``/t/{slug}/products[/{id}]``.

Server-rendered from ``orders.service``/``products.service`` on a cursor of the warehouse this server
owns. The filter forms are plain GET forms (they work without JavaScript and the URL is shareable);
with HTMX they swap only the results (``HX-Request`` → the results fragment).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import EcomopsError
from ecomops.orders import service as orders
from ecomops.platform.console.params import (
    on_cursor,
    query_amount,
    query_day,
    query_int,
    query_text,
)
from ecomops.platform.console.shell import Page, error_page, is_htmx, open_page, problem_title, render
from ecomops.platform.export import FORMATS, export_response, parse_format

router = APIRouter(include_in_schema=False)


@router.get("/t/{slug}/orders", response_class=HTMLResponse)
async def orders_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "orders:read", "orders")
    if not isinstance(page, Page):
        return page
    error = None
    result = None
    try:
        filters = orders.OrderFilters(
            query_day(request, "date_from"),
            query_day(request, "date_to"),
            query_text(request, "channel"),
            query_text(request, "status"),
            query_amount(request, "min_total"),
            query_amount(request, "max_total"),
            query_text(request, "customer_id"),
            query_text(request, "coupon"),
            utm_source=query_text(request, "utm_source"),
            utm_medium=query_text(request, "utm_medium"),
            utm_campaign=query_text(request, "utm_campaign"),
        )
        cursor = query_text(request, "cursor")
        limit = query_int(request, "limit", orders.DEFAULT_PAGE, 1, orders.MAX_PAGE)
        fmt = parse_format(query_text(request, "format"))
        if fmt is not None:
            chosen, chosen_filters = fmt, filters
            table = await run_in_threadpool(
                lambda: orders.export_orders(page.state, page.tenant, chosen_filters, chosen, via="session")
            )
            return export_response(table, chosen, page.locale)
        result = await run_in_threadpool(
            lambda: orders.find_orders(page.state, page.tenant, filters, limit=limit, cursor=cursor)
        )
    except EcomopsError as exc:
        filters, error = orders.OrderFilters(), exc.message
    facets = await run_in_threadpool(on_cursor, page, orders.facets)
    next_url = None
    if result is not None and result.next_cursor:
        keep = {
            **result.filters,
            **({"limit": str(result.limit)} if result.limit != orders.DEFAULT_PAGE else {}),
        }
        next_url = f"{page.base}/orders?" + urlencode({**keep, "cursor": result.next_cursor})
    context = {
        "result": result,
        "error": error,
        "form": {k: request.query_params.get(k, "") for k in orders.OrderFilters.__dataclass_fields__},
        "facets": facets,
        "next_url": next_url,
        "first_url": f"{page.base}/orders?" + urlencode(result.filters) if result else None,
        "paged": bool(request.query_params.get("cursor")),
        # Reached from a campaign or source row of the overview (or filtered by UTM by hand).
        "utm_filtered": result is not None and any(k in result.filters for k in orders.UTM_FILTERS),
        "exports": {
            fmt: f"{page.base}/orders?" + urlencode({**result.filters, "format": fmt}) for fmt in FORMATS
        }
        if result is not None and result.total
        else None,
    }
    template = "orders/_orders_results.html" if is_htmx(request) else "orders/orders.html"
    return render(page, template, context, status=422 if error else 200)


@router.get("/t/{slug}/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, slug: str, order_id: str) -> Response:
    page = await open_page(request, slug, "orders:read", "orders")
    if not isinstance(page, Page):
        return page
    try:
        order = await run_in_threadpool(orders.find_order, page.state, page.tenant, order_id)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(page, "orders/order.html", {"order": order})
