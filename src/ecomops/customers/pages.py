"""Customers pages: ``/t/{slug}/customers[/{id}]``; personal data stays masked (revealing it needs the
API, the PII permission and step-up)."""

from __future__ import annotations

from dataclasses import fields
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.customers import service as customers
from ecomops.customers.query import DEFAULT_SORT, SORTS, CustomerQuery
from ecomops.kernel.errors import EcomopsError, Forbidden
from ecomops.platform.console.params import BadFilter, query_amount, query_day, query_int, query_text
from ecomops.platform.console.shell import Page, error_page, open_page, problem_title, render
from ecomops.platform.export import FORMATS, export_response, parse_format

router = APIRouter(include_in_schema=False)
CUSTOMERS_PAGE = 50


#: The form fields of the filter bar (``CustomerQuery`` field names), in the page's order.
FORM_FIELDS = tuple(f.name for f in fields(CustomerQuery) if f.name not in ("email", "phone"))


def _query(request: Request) -> CustomerQuery:
    """The page's search, filters and sort from its GET form; a bad value is a 422 naming the field."""
    sort = query_text(request, "sort") or DEFAULT_SORT
    order = query_text(request, "order") or "desc"
    if sort not in SORTS:
        raise BadFilter(f"sort must be one of {', '.join(SORTS)}, got {sort!r}", {"field": "sort"})
    if order not in ("asc", "desc"):
        raise BadFilter(f"order must be asc or desc, got {order!r}", {"field": "order"})
    query = CustomerQuery(
        q=query_text(request, "q"),
        channel=query_text(request, "channel"),
        country=query_text(request, "country"),
        region=query_text(request, "region"),
        city=query_text(request, "city"),
        first_order_from=query_day(request, "first_order_from"),
        first_order_to=query_day(request, "first_order_to"),
        last_order_from=query_day(request, "last_order_from"),
        last_order_to=query_day(request, "last_order_to"),
        min_orders=_count(request, "min_orders"),
        max_orders=_count(request, "max_orders"),
        min_spend=query_amount(request, "min_spend"),
        max_spend=query_amount(request, "max_spend"),
        sort=sort,
        order="asc" if order == "asc" else "desc",
    )
    query.validate()
    return query


def _count(request: Request, name: str) -> int | None:
    if query_text(request, name) is None:
        return None
    return query_int(request, name, 0, 0, 10**9)


def _url(page: Page, params: dict[str, str]) -> str:
    return f"{page.base}/customers" + (f"?{urlencode(params)}" if params else "")


@router.get("/t/{slug}/customers", response_class=HTMLResponse)
async def customers_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "customers:read", "customers")
    if not isinstance(page, Page):
        return page
    error, result, status = None, None, 200
    query = CustomerQuery()
    try:
        offset = query_int(request, "offset", 0, 0, 10_000_000)
        fmt = parse_format(query_text(request, "format"))
        query = _query(request)
        if query.pii_search and not page.can("customers:read_pii"):
            raise Forbidden(
                "Searching by email or phone needs the customers:read_pii permission; "
                "search by customer ID instead.",
                {"field": "q", "permission": "customers:read_pii"},
            )
        if fmt is not None:
            chosen = fmt
            table = await run_in_threadpool(
                lambda: customers.export_customers(
                    page.state, page.tenant, query, chosen, reveal=False, via="session"
                )
            )
            return export_response(table, chosen, page.locale)
        result = await run_in_threadpool(
            lambda: customers.find_customers(
                page.state, page.tenant, query=query, limit=CUSTOMERS_PAGE, offset=offset, via="session"
            )
        )
    except EcomopsError as exc:
        error, offset, status = exc.message, 0, exc.status_code
    facets = await run_in_threadpool(customers.customer_facets, page.state, page.tenant)
    keep = query.active()
    pages: dict[str, str | None] = {"prev": None, "next": None}
    if result is not None:
        if offset:
            pages["prev"] = _url(page, {**keep, "offset": str(max(0, offset - CUSTOMERS_PAGE))})
        if offset + CUSTOMERS_PAGE < result.total:
            pages["next"] = _url(page, {**keep, "offset": str(offset + CUSTOMERS_PAGE)})
    sort_links = {
        key: _url(
            page,
            {**keep, "sort": key, "order": "asc" if query.sort == key and query.order == "desc" else "desc"},
        )
        for key in SORTS
    }
    context = {
        "result": result,
        "error": error,
        "query": query,
        "form": {k: request.query_params.get(k, "") for k in FORM_FIELDS},
        "facets": facets,
        "sorts": list(SORTS),
        "sort_links": sort_links,
        "exports": {fmt: _url(page, {**keep, "format": fmt}) for fmt in FORMATS},
        "pages": pages,
        "can_search_pii": page.can("customers:read_pii"),
    }
    return render(page, "customers/customers.html", context, status=status)


@router.get("/t/{slug}/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(request: Request, slug: str, customer_id: str) -> Response:
    page = await open_page(request, slug, "customers:read", "customers")
    if not isinstance(page, Page):
        return page
    try:
        profile = await run_in_threadpool(
            lambda: customers.find_customer(page.state, page.tenant, customer_id, via="session")
        )
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(page, "customers/customer.html", {"customer": profile})
