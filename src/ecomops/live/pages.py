"""The live dashboard page: ``/t/{slug}/live`` and its big-screen mode ``/t/{slug}/live?screen=big``.

The page is rendered with the current snapshot embedded as a JSON data block (``<script
type="application/json">``, which the CSP does not execute), so the figures are on screen at the first
paint; ``static/console/live.js`` then opens the SSE stream (``/api/v1/t/{slug}/live/stream``) and
redraws numbers, tables and ECharts from each snapshot. Labels are translated here on the server; the
script only formats numbers (``Intl`` with the page's language and the shop's currency).

Big-screen mode is a separate full-screen template (dark, large numbers, no navigation) for a TV in the
office or a live-stream control room; it refreshes the same way and needs the same permission.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ecomops.kernel.errors import EcomopsError
from ecomops.live import export, service
from ecomops.live.hub import hub_of
from ecomops.platform.console.downloads import download, export_links
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.shell import Page, error_page, open_page, problem_title, render
from ecomops.platform.export import parse_table

router = APIRouter(include_in_schema=False)

SCREENS = ("normal", "big")


@router.get("/t/{slug}/live", response_class=HTMLResponse)
async def live_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "orders:read", "live")
    if not isinstance(page, Page):
        return page
    screen = request.query_params.get("screen", "normal")
    if screen not in SCREENS:
        return error_page(
            request,
            422,
            N_("Invalid request"),
            f"screen: {screen[:40]!r} is not one of {', '.join(SCREENS)}",
            page.session,
        )
    snap = await hub_of(page.state).snapshot(page.tenant.id, service.LiveScope.of(page.tenant))
    if request.query_params.get("format"):
        try:
            which = parse_table(request.query_params.get("export"), export.TABLES)
        except EcomopsError as exc:
            status = exc.status_code
            return error_page(request, status, problem_title(status), exc.message, page.session)
        file = await download(
            page,
            lambda fmt: export.export_live_table(
                page.state.engine, page.tenant, snap.result, which, page.locale, fmt, via="session"
            ),
        )
        if file is not None:
            return file
    context = {
        # For a <script> data block: no "<" at all, so no "</script>" or "<!--" can end it early.
        "snapshot_json": snap.body.decode().replace("<", "\\u003c"),
        "stream_url": f"/api/v1/t/{page.tenant.slug}/live/stream",
        "screen": screen,
        "live_exports": {
            table: export_links(f"{page.base}/live", f"export={table}") for table in export.TABLES
        },
    }
    template = "live/live_big.html" if screen == "big" else "live/live.html"
    return render(page, template, context)
