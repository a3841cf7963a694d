"""The alerts page: rules with their state, recent firings, and a form to create a rule.

Reads come from ``alerts.service`` behind ``alerts:read`` (its typed rules and events, as they are);
every change (create, enable/disable, test delivery, delete) is sent by ``static/console/console.js`` to
``/api/v1/t/{tenant}/alerts`` with the session cookie and ``X-CSRF-Token``, so validation, permissions and
auditing live in the API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.alerts import service
from ecomops.analytics.service import BREAKDOWNS, METRICS, Unit
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.params import query_text
from ecomops.platform.console.shell import Page, error_page, open_page, problem_title, render
from ecomops.platform.export import FORMATS, export_response, parse_format

router = APIRouter(include_in_schema=False)
EVENTS_SHOWN = 50


@router.get("/t/{slug}/alerts", response_class=HTMLResponse)
async def alerts_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "alerts:read", "alerts")
    if not isinstance(page, Page):
        return page
    engine, tenant_id = page.state.engine, page.tenant.id
    try:
        fmt = parse_format(query_text(request, "format"))
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    if fmt is not None:
        chosen = fmt
        table = await run_in_threadpool(
            lambda: service.export_events(engine, page.tenant, None, chosen, via="session")
        )
        return export_response(table, chosen, page.locale)
    rules = await run_in_threadpool(service.list_rules, engine, tenant_id)
    events = await run_in_threadpool(service.list_events, engine, tenant_id, None, EVENTS_SHOWN)
    zh = page.locale.startswith("zh")
    return render(
        page,
        "alerts/alerts.html",
        {
            "rules": rules,
            "events": events,
            "rule_names": {r.id: r.name for r in rules},
            "metrics": [(m.id, m.name_zh if zh else m.name_en) for m in METRICS],
            "count_metrics": [m.id for m in METRICS if m.unit is Unit.count],
            "breakdowns": [*BREAKDOWNS, *(b for b in service.STOCK_FILTERS if b not in BREAKDOWNS)],
            "can_write": page.can("alerts:write"),
            "exports": {f: f"{page.base}/alerts?format={f}" for f in FORMATS} if events else None,
        },
    )
