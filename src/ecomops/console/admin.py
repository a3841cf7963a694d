"""Customers, data sources, imports and settings pages.

Reads are server-rendered from the service layer (the same functions the JSON API calls, behind the
same permission). Every change — create a source or key, revoke, members and roles, MFA policy,
upload an import — is sent by ``static/console/console.js`` to the existing ``/api/v1/t/{tenant}``
route with the session cookie and ``X-CSRF-Token``, so permission, step-up and audit rules live in
one place. When a change needs a fresh second factor the API answers 403 ``step_up_required`` and
the script sends the user to ``/step-up?next=<this page>``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.audit import service as audit
from ecomops.customers import service as customers
from ecomops.imports import jobs
from ecomops.imports.presets import PRESETS
from ecomops.kernel.errors import EcomopsError
from ecomops.orders.pages import BadFilter, on_cursor, query_day, query_int, query_text
from ecomops.platform.console.shell import Page, error_page, is_htmx, open_page, problem_title, render
from ecomops.security import accounts, auth
from ecomops.tenancy import service as tenancy
from ecomops.tenancy.service import CHANNELS, ROLES
from ecomops.tenancy.snippets import snippets

router = APIRouter(include_in_schema=False)
CUSTOMERS_PAGE = 50
AUDIT_PAGE = 100
#: Placeholder the snippets carry until a freshly created write key replaces it (console.js).
KEY_PLACEHOLDER = "YOUR_WRITE_KEY"


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
        on_cursor,
        page,
        lambda cur: customers.list_customers(
            cur, page.state.engine, page.tenant.id, limit=CUSTOMERS_PAGE, offset=offset, reveal=False
        ),
    )
    pages = {
        "prev": f"{page.base}/customers?offset={max(0, offset - CUSTOMERS_PAGE)}" if offset else None,
        "next": f"{page.base}/customers?offset={offset + CUSTOMERS_PAGE}"
        if offset + CUSTOMERS_PAGE < result["total"]
        else None,
    }
    return render(page, "console/customers.html", {"result": result, "pages": pages})


@router.get("/t/{slug}/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(request: Request, slug: str, customer_id: str) -> Response:
    page = await open_page(request, slug, "customers:read", "customers")
    if not isinstance(page, Page):
        return page
    try:
        profile = await run_in_threadpool(
            on_cursor,
            page,
            lambda cur: customers.get_customer(
                cur, page.state.engine, page.tenant.id, customer_id, reveal=False
            ),
        )
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(page, "console/customer.html", {"customer": profile})


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
        "console/sources.html",
        {
            "sources": found,
            "channels": CHANNELS,
            "host": ingest_base(request),
            "placeholder": KEY_PLACEHOLDER,
            "snippets": snippets(ingest_base(request), KEY_PLACEHOLDER),
        },
    )


@router.get("/t/{slug}/imports", response_class=HTMLResponse)
async def imports_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "imports:read", "imports")
    if not isinstance(page, Page):
        return page
    found = await run_in_threadpool(jobs.list_jobs, page.state.engine, page.tenant.id, 20)
    return render(page, "console/imports.html", {"jobs": found, "presets": list(PRESETS)})


@router.get("/t/{slug}/imports/{import_id}/progress", response_class=HTMLResponse)
async def import_progress(request: Request, slug: str, import_id: str) -> Response:
    """The progress fragment HTMX polls; it stops polling itself once the job has finished."""
    page = await open_page(request, slug, "imports:read", "imports")
    if not isinstance(page, Page):
        return page
    try:
        job = await run_in_threadpool(jobs.get_job, page.state.engine, page.tenant.id, import_id)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(
        page, "console/_import_progress.html", {"job": job, "finished": job.status in jobs.FINISHED}
    )


@router.get("/t/{slug}/settings/members", response_class=HTMLResponse)
async def members_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "members:manage", "members")
    if not isinstance(page, Page):
        return page
    members = await run_in_threadpool(accounts.list_members, page.state.engine, page.tenant.slug)
    policy = await run_in_threadpool(auth.mfa_policy, page.state.engine, page.tenant.id)
    return render(page, "console/members.html", {"members": members, "roles": ROLES, "require_mfa": policy})


@router.get("/t/{slug}/settings/keys", response_class=HTMLResponse)
async def keys_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "keys:manage", "keys")
    if not isinstance(page, Page):
        return page
    keys = await run_in_threadpool(tenancy.list_api_keys, page.state.engine, page.tenant.slug)
    return render(page, "console/keys.html", {"keys": keys, "roles": ROLES})


def _local_start(day: Any, timezone: str) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@router.get("/t/{slug}/settings/audit", response_class=HTMLResponse)
async def audit_page(request: Request, slug: str) -> Response:
    """Records newest first; filters: action (exact or prefix ending in ``*``), since/until days."""
    page = await open_page(request, slug, "audit:read", "audit")
    if not isinstance(page, Page):
        return page
    error, records, offset = None, [], 0
    form = {k: request.query_params.get(k, "") for k in ("action", "since", "until")}
    try:
        action = query_text(request, "action")
        since, until = query_day(request, "since"), query_day(request, "until")
        offset = query_int(request, "offset", 0, 0, 10_000_000)
        tz = page.tenant.timezone
        records = await run_in_threadpool(
            lambda: audit.export(
                page.state.engine,
                page.tenant.id,
                since=_local_start(since, tz),
                # "until" is a day the user includes, so the bound is the next day's start.
                until=_local_start(until.fromordinal(until.toordinal() + 1), tz) if until else None,
                action=action,
                limit=AUDIT_PAGE + 1,
                offset=offset,
                newest_first=True,
            )
        )
    except EcomopsError as exc:
        error = exc.message
    more = len(records) > AUDIT_PAGE
    query = {k: v for k, v in form.items() if v}
    context = {
        "records": records[:AUDIT_PAGE],
        "error": error,
        "form": form,
        "next_url": f"{page.base}/settings/audit?" + urlencode({**query, "offset": offset + AUDIT_PAGE})
        if more
        else None,
    }
    template = "console/_audit_rows.html" if is_htmx(request) else "console/audit.html"
    return render(page, template, context, status=422 if error else 200)


@router.get("/t/{slug}/settings/audit/verify", response_class=HTMLResponse)
async def audit_verify(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "audit:read", "audit")
    if not isinstance(page, Page):
        return page
    result = await run_in_threadpool(audit.verify, page.state.engine, page.tenant.id)
    return render(page, "console/_audit_verify.html", {"result": result})
