"""Audit log viewer (newest first, filters) and chain verification."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.audit import service as audit
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.params import query_day, query_int, query_text
from ecomops.platform.console.shell import Page, is_htmx, open_page, render
from ecomops.platform.export import FORMATS, export_response, parse_format

router = APIRouter(include_in_schema=False)
AUDIT_PAGE = 100


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
        fmt = parse_format(query_text(request, "format"))
        if fmt is not None:
            chosen = fmt
            start = _local_start(since, tz)
            end = _local_start(until.fromordinal(until.toordinal() + 1), tz) if until else None
            table = await run_in_threadpool(
                lambda: audit.export_log(
                    page.state.engine,
                    page.tenant,
                    chosen,
                    since=start,
                    until=end,
                    action=action,
                    filters={k: v for k, v in form.items() if v},
                    via="session",
                )
            )
            return export_response(table, chosen, page.locale)
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
        "exports": {
            fmt: f"{page.base}/settings/audit?" + urlencode({**query, "format": fmt}) for fmt in FORMATS
        }
        if records
        else None,
    }
    template = "audit/_audit_rows.html" if is_htmx(request) else "audit/audit.html"
    return render(page, template, context, status=422 if error else 200)


@router.get("/t/{slug}/settings/audit/verify", response_class=HTMLResponse)
async def audit_verify(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "audit:read", "audit")
    if not isinstance(page, Page):
        return page
    result = await run_in_threadpool(audit.verify, page.state.engine, page.tenant.id)
    return render(page, "audit/_audit_verify.html", {"result": result})
