"""``/t/{slug}/settings/fx``: the FX table, a form to set a rate and one to import a CSV.

Reads come from ``fx.service``; every change is sent by ``static/console/console.js`` to
``/api/v1/t/{tenant}/fx-rates`` with the session cookie and ``X-CSRF-Token``, so validation,
permissions and auditing live in the API."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.fx import service
from ecomops.platform.console.downloads import download, export_links
from ecomops.platform.console.shell import Page, open_page, render

router = APIRouter(include_in_schema=False)


@router.get("/t/{slug}/settings/fx", response_class=HTMLResponse)
async def fx_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "fx:read", "fx")
    if not isinstance(page, Page):
        return page
    engine = page.state.engine
    file = await download(page, lambda fmt: service.export_rates(engine, page.tenant, fmt, via="session"))
    if file is not None:
        return file
    table = await run_in_threadpool(service.list_rates, engine, page.tenant)
    exports = export_links(f"{page.base}/settings/fx") if table.rates else None
    return render(
        page, "fx/rates.html", {"table": table, "can_write": page.can("fx:write"), "exports": exports}
    )
