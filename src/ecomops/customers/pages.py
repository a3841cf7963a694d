"""Customers pages: ``/t/{slug}/customers[/{id}]``; personal data stays masked (revealing it needs the
API, the PII permission and step-up)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.customers import service as customers
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.params import BadFilter, query_int
from ecomops.platform.console.shell import Page, error_page, open_page, problem_title, render

router = APIRouter(include_in_schema=False)
CUSTOMERS_PAGE = 50


@router.get("/t/{slug}/customers", response_class=HTMLResponse)
async def customers_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "customers:read", "customers")
    if not isinstance(page, Page):
        return page
    try:
        offset = query_int(request, "offset", 0, 0, 10_000_000)
    except BadFilter as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    result = await run_in_threadpool(
        lambda: customers.find_customers(
            page.state, page.tenant, limit=CUSTOMERS_PAGE, offset=offset, via="session"
        )
    )
    pages = {
        "prev": f"{page.base}/customers?offset={max(0, offset - CUSTOMERS_PAGE)}" if offset else None,
        "next": f"{page.base}/customers?offset={offset + CUSTOMERS_PAGE}"
        if offset + CUSTOMERS_PAGE < result.total
        else None,
    }
    return render(page, "customers/customers.html", {"result": result, "pages": pages})


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
