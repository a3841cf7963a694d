"""``/t/{slug}/``: a shop's home, the overview dashboard (or, for roles that may not read order
analytics, what data the shop holds)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import overview
from ecomops.platform.console.shell import Page, open_page, render
from ecomops.platform.warehouse.stats import table_counts

router = APIRouter(include_in_schema=False)


@router.get("/t/{slug}", response_class=HTMLResponse)
@router.get("/t/{slug}/", response_class=HTMLResponse)
async def tenant_home(request: Request, slug: str) -> Response:
    """The overview dashboard for roles that may read order analytics, else what data the shop holds."""
    page = await open_page(request, slug, None, "home")
    if not isinstance(page, Page):
        return page
    if page.can("orders:read"):
        return await overview.overview_page(page)
    counts = await run_in_threadpool(table_counts, page.state.warehouses.get(page.tenant.id))
    return render(page, "analytics/home.html", {"counts": counts})
