"""Imports page and the progress fragment HTMX polls; uploads go through the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.imports import operations
from ecomops.imports.presets import PRESETS
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console.shell import Page, error_page, open_page, problem_title, render

router = APIRouter(include_in_schema=False)


@router.get("/t/{slug}/imports", response_class=HTMLResponse)
async def imports_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "imports:read", "imports")
    if not isinstance(page, Page):
        return page
    found = await run_in_threadpool(operations.list_imports, page.state, page.tenant, 20)
    return render(page, "imports/imports.html", {"jobs": found, "presets": list(PRESETS)})


@router.get("/t/{slug}/imports/{import_id}/progress", response_class=HTMLResponse)
async def import_progress(request: Request, slug: str, import_id: str) -> Response:
    """The progress fragment HTMX polls; it stops polling itself once the job has finished."""
    page = await open_page(request, slug, "imports:read", "imports")
    if not isinstance(page, Page):
        return page
    try:
        job = await run_in_threadpool(operations.get_import, page.state, page.tenant, import_id)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, problem_title(exc.status_code), exc.message, page.session)
    return render(page, "imports/_import_progress.html", {"job": job, "finished": job.finished})
