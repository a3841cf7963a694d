"""The hello page (``/t/{slug}/hello``): the shop's orders per day and its notes.

``open_page`` does what every console page needs first: the visitor's session and role, the 404 page
when the shop switched this module off, the 403 page without ``hello:read``. Adding and deleting go
through the JSON API (``console.js`` sends the forms with the CSRF header), so the permission and
the audit record live in one place.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.platform.console.shell import Page, open_page, render
from ecomops_hello import service
from ecomops_hello.models import MAX_NOTE

router = APIRouter(include_in_schema=False)
#: Days of orders the page shows.
DAYS_SHOWN = 14


@router.get("/t/{slug}/hello", response_class=HTMLResponse)
async def hello_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "hello:read", "hello")
    if not isinstance(page, Page):
        return page
    notes = await run_in_threadpool(service.list_notes, page.state.engine, page.tenant.id)
    days = await run_in_threadpool(service.read_daily_orders, page.state, page.tenant.id, DAYS_SHOWN)
    return render(
        page,
        "hello/hello.html",
        {"notes": notes, "days": days, "can_write": page.can("hello:write"), "max_note": MAX_NOTE},
    )
