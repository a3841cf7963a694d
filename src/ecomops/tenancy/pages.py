"""The shop's settings page, data sources (write keys and SDK snippets), API keys and modules pages.

Changes go through the JSON API (``console.js``), so permission, step-up and audit rules live there.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.platform import enablement
from ecomops.platform.console import nav
from ecomops.platform.console.downloads import download, export_links
from ecomops.platform.console.shell import Page, open_page, render
from ecomops.platform.roles import ROLES
from ecomops.tenancy import service as tenancy
from ecomops.tenancy.service import CHANNELS
from ecomops.tenancy.snippets import snippets

router = APIRouter(include_in_schema=False)
#: Placeholder the snippets carry until a freshly created write key replaces it (console.js).
KEY_PLACEHOLDER = "YOUR_WRITE_KEY"


def ingest_base(request: Request) -> str:
    """Where SDKs should send events: this server as the browser reached it (proxy-aware)."""
    return str(request.base_url).rstrip("/")


@router.get("/t/{slug}/sources", response_class=HTMLResponse)
async def sources_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "keys:manage", "sources")
    if not isinstance(page, Page):
        return page
    found = await run_in_threadpool(tenancy.list_sources, page.state.engine, page.tenant.slug)
    return render(
        page,
        "tenancy/sources.html",
        {
            "sources": found,
            "channels": CHANNELS,
            "host": ingest_base(request),
            "placeholder": KEY_PLACEHOLDER,
            "snippets": snippets(ingest_base(request), KEY_PLACEHOLDER),
        },
    )


@router.get("/t/{slug}/settings/keys", response_class=HTMLResponse)
async def keys_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "keys:manage", "keys")
    if not isinstance(page, Page):
        return page
    engine = page.state.engine
    file = await download(page, lambda fmt: tenancy.export_api_keys(engine, page.tenant, fmt, via="session"))
    if file is not None:
        return file
    keys = await run_in_threadpool(tenancy.list_api_keys, engine, page.tenant.slug)
    exports = export_links(f"{page.base}/settings/keys") if keys else None
    return render(page, "tenancy/keys.html", {"keys": keys, "roles": ROLES, "exports": exports})


@router.get("/t/{slug}/settings/modules", response_class=HTMLResponse)
async def modules_page(request: Request, slug: str) -> Response:
    """Installed modules; optional ones can be switched off for this shop (core ones cannot)."""
    page = await open_page(request, slug, "modules:manage", "modules")
    if not isinstance(page, Page):
        return page
    states = await run_in_threadpool(enablement.module_states, page.state.engine, page.tenant.id)
    return render(page, "tenancy/modules.html", {"modules": states})


#: Sidebar sections whose pages configure the shop (listed on its settings page).
SETTINGS_SECTIONS = ("settings", "data")


@router.get("/t/{slug}/settings", response_class=HTMLResponse)
async def settings_page(request: Request, slug: str) -> Response:
    """What every member may know about the shop (name, time zone, currency, their role) and the settings
    pages their role may open, with what each is for (the sidebar's entries and their descriptions)."""
    page = await open_page(request, slug, None, "settings")
    if not isinstance(page, Page):
        return page
    shown = nav.visible(page.role, page.disabled)
    entries = [e for e in shown if e.section in SETTINGS_SECTIONS and e.key != "settings"]
    return render(page, "tenancy/settings.html", {"entries": entries})
