"""``/`` (the console's entry) and ``/t/{slug}/`` (a shop's home: what data it holds), plus the
language switcher ``POST /lang``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ecomops.analytics import overview
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console import i18n
from ecomops.platform.console.shell import Page, error_page, open_page, render
from ecomops.platform.console.templating import templates
from ecomops.platform.warehouse.stats import table_counts
from ecomops.platform.web.state import AppState
from ecomops.security import auth, signin

router = APIRouter(include_in_schema=False)
#: A year: the language is a preference, not a secret.
LANG_COOKIE_SECONDS = 365 * 24 * 3600


@router.get("/", response_class=HTMLResponse)
async def entry(request: Request) -> Response:
    """Signed in: the first shop's home (the tenant switcher reaches the others)."""
    state: AppState = request.app.state.ecomops
    session = await signin.current_session(request, state)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    if session.stage != "active":
        return RedirectResponse("/login/mfa" if session.stage == "mfa" else "/account/mfa", status_code=303)
    memberships = await run_in_threadpool(auth.user_tenants, state.engine, session.user_id)
    if memberships:
        return RedirectResponse(f"/t/{memberships[0].slug}/", status_code=303)
    return templates.TemplateResponse(request, "console/no_tenants.html", {"session": session})


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
    return render(page, "console/home.html", {"counts": counts})


@router.post("/lang")
async def set_language(
    request: Request,
    lang: Annotated[str, Form(max_length=10)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Remember the chosen language in a cookie; CSRF-checked like every other form."""
    # Imported here: web.account_pages imports web.pages, which imports these routes.
    from ecomops.security.account_pages import safe_next

    state: AppState = request.app.state.ecomops
    session = await signin.current_session(request, state)
    try:
        if session is not None:
            signin.check_csrf(csrf_token, session)
        else:
            signin.check_pre_session_csrf(request, csrf_token)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, i18n.N_("Not allowed"), exc.message, session)
    if lang not in i18n.LOCALES:
        return error_page(request, 422, i18n.N_("Unknown language"), f"unknown language {lang!r}", session)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        i18n.COOKIE,
        lang,
        max_age=LANG_COOKIE_SECONDS,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )
    return response
