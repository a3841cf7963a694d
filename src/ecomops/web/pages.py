"""Console home. Until the console issue lands it lists each tenant's warehouse row counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ecomops.tenancy import service as tenancy
from ecomops.warehouse.stats import table_counts
from ecomops.web.state import AppState

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _overview(state: AppState) -> list[dict[str, Any]]:
    rows = []
    for tenant in tenancy.list_tenants(state.engine):
        counts = table_counts(state.warehouses.get(tenant.id))
        rows.append({"tenant": tenant, "counts": counts})
    return rows


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    tenants = await run_in_threadpool(_overview, request.app.state.ecomops)
    return templates.TemplateResponse(request, "home.html", {"tenants": tenants})
