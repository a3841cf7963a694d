"""Orders and products explorers: ``/t/{slug}/orders[/{id}]`` and ``/t/{slug}/products[/{id}]``.

Server-rendered from ``orders.service``/``products.service`` on a cursor of the warehouse this server
owns. The filter forms are plain GET forms (they work without JavaScript and the URL is shareable);
with HTMX they swap only the results (``HX-Request`` → the results fragment).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import EcomopsError
from ecomops.orders import service as orders
from ecomops.platform.console.shell import Page, error_page, is_htmx, open_page, problem_title, render
from ecomops.products import service as products

router = APIRouter(include_in_schema=False)
T = TypeVar("T")


class BadFilter(EcomopsError):
    status_code = 422
    code = "validation_failed"


def on_cursor(page: Page, fn: Callable[[Any], T]) -> T:
    cur = page.state.warehouses.get(page.tenant.id).cursor()
    try:
        return fn(cur)
    finally:
        cur.close()


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    if len(value) > orders.MAX_TEXT:
        raise BadFilter(f"{name} is longer than {orders.MAX_TEXT} characters", {"field": name})
    return value or None


def query_day(request: Request, name: str) -> date | None:
    value = query_text(request, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not a date (YYYY-MM-DD)", {"field": name}) from None


def query_amount(request: Request, name: str) -> Decimal | None:
    value = query_text(request, name)
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadFilter(f"{name}: {value!r} is not a number", {"field": name}) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e14"):
        raise BadFilter(f"{name}: {value!r} must be a non-negative amount", {"field": name})
    return amount


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    value = query_text(request, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not a whole number", {"field": name}) from None
    if not low <= number <= high:
        raise BadFilter(f"{name} must be {low}..{high}", {"field": name})
    return number


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
        result = await run_in_threadpool(
            on_cursor,
            page,
            lambda cur: orders.list_orders(cur, page.tenant.timezone, filters, limit=limit, cursor=cursor),
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
    }
    template = "console/_orders_results.html" if is_htmx(request) else "console/orders.html"
    return render(page, template, context, status=422 if error else 200)


@router.get("/t/{slug}/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, slug: str, order_id: str) -> Response:
    page = await open_page(request, slug, "orders:read", "orders")
    if not isinstance(page, Page):
        return page
    try:
        order = await run_in_threadpool(on_cursor, page, lambda cur: orders.get_order(cur, order_id))
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(page, "console/order.html", {"order": order})


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
        result = await run_in_threadpool(
            on_cursor,
            page,
            lambda cur: products.list_products(
                cur, page.tenant.timezone, filters, sort=sort, limit=limit, offset=offset
            ),
        )
    except EcomopsError as exc:
        error = exc.message
    categories = await run_in_threadpool(on_cursor, page, products.categories)
    pages: dict[str, str | None] = {"prev": None, "next": None}
    if result is not None:
        query = {**result["filters"], "sort": result["sort"]}
        if result["offset"] + result["limit"] < result["total"]:
            pages["next"] = f"{page.base}/products?" + urlencode(
                {**query, "offset": result["offset"] + result["limit"]}
            )
        if result["offset"] > 0:
            pages["prev"] = f"{page.base}/products?" + urlencode(
                {**query, "offset": max(0, result["offset"] - result["limit"])}
            )
    context = {
        "result": result,
        "error": error,
        "form": {k: request.query_params.get(k, "") for k in ("date_from", "date_to", "category", "search")},
        "sort": sort,
        "sorts": list(products.SORTS),
        "categories": categories,
        "pages": pages,
    }
    template = "console/_products_results.html" if is_htmx(request) else "console/products.html"
    return render(page, template, context, status=422 if error else 200)


@router.get("/t/{slug}/products/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, slug: str, product_id: str) -> Response:
    page = await open_page(request, slug, "orders:read", "products")
    if not isinstance(page, Page):
        return page
    try:
        product = await run_in_threadpool(
            on_cursor, page, lambda cur: products.get_product(cur, page.tenant.timezone, product_id)
        )
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(page, "console/product.html", {"product": product})
