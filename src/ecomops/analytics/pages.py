"""``/t/{slug}/``: a shop's home, the overview dashboard (or, for roles that may not read order
analytics, what data the shop holds); ``/t/{slug}/sessions``: session conversion of imported sessions."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import overview, overview_export, service
from ecomops.analytics.sessions import BREAKDOWNS
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.downloads import download, export_links
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.shell import Page, open_page, render
from ecomops.platform.warehouse.stats import table_counts

#: The session breakdowns as the page names them (the API and CLI keep the identifiers).
SESSION_BREAKDOWN_LABELS = {
    "month": N_("Month"),
    "traffic_type": N_("Traffic type"),
    "visitor_type": N_("Visitor type"),
    "weekend": N_("Weekend"),
    "browser": N_("Browser"),
    "traffic_source": N_("Traffic source"),
    "device": N_("Device"),
    "os": N_("Operating system"),
    "region": N_("Region"),
    "country": N_("Country"),
    "channel": N_("Channel"),
}

router = APIRouter(include_in_schema=False)


@router.get("/t/{slug}", response_class=HTMLResponse)
@router.get("/t/{slug}/", response_class=HTMLResponse)
async def tenant_home(request: Request, slug: str) -> Response:
    """The overview dashboard for roles that may read order analytics, else what data the shop holds."""
    page = await open_page(request, slug, None, "home")
    if not isinstance(page, Page):
        return page
    if page.can("orders:read"):
        file = await overview_export.overview_download(page)
        return file if file is not None else await overview.overview_page(page)
    counts = await run_in_threadpool(table_counts, page.state.warehouses.get(page.tenant.id))
    return render(page, "analytics/home.html", {"counts": counts})


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/t/{slug}/sessions", response_class=HTMLResponse)
async def sessions_page(
    request: Request, slug: str, breakdown: str = "month", start: str | None = None, end: str | None = None
) -> Response:
    """Session conversion of imported session data by a session property (form: breakdown and days)."""
    page = await open_page(request, slug, "orders:read", "sessions")
    if not isinstance(page, Page):
        return page
    chosen = breakdown if breakdown in BREAKDOWNS else "month"
    first, last = _day(start), _day(end)
    file = await download(
        page,
        lambda fmt: service.export_session_conversion(
            page.state, page.tenant, chosen, first, last, None, fmt, via="session"
        ),
    )
    if file is not None:
        return file
    error = None
    try:
        result = await run_in_threadpool(
            service.get_session_conversion, page.state, page.tenant, chosen, first, last, None
        )
    except EcomopsError as exc:
        error, result = exc.message, None
    return render(
        page,
        "analytics/sessions.html",
        {
            "result": result,
            "error": error,
            "breakdown": chosen,
            "breakdowns": list(BREAKDOWNS),
            "breakdown_labels": SESSION_BREAKDOWN_LABELS,
            "start": first.isoformat() if first else "",
            "end": last.isoformat() if last else "",
            "exports": _session_exports(page, chosen, first, last)
            if result and result.total.sessions
            else None,
        },
    )


def _session_exports(page: Page, breakdown: str, first: date | None, last: date | None) -> dict[str, str]:
    """The page's own URL with its breakdown and days, plus ``format``."""
    keep = {
        "breakdown": breakdown,
        "start": first.isoformat() if first else "",
        "end": last.isoformat() if last else "",
    }
    return export_links(f"{page.base}/sessions", urlencode(keep))
