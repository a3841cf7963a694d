"""Liveness and readiness probes for load balancers and ``ecomops doctor``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from ecomops.platform.registry import registry
from ecomops.platform.store.migrate import current_revision, head_revision
from ecomops.platform.web.state import AppState

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _readiness(state: AppState) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        rev, head = current_revision(state.engine), head_revision(state.engine)
        checks["store"] = {"ok": rev == head, "revision": rev, "head": head}
    except Exception as exc:  # readiness reports failures instead of raising them
        checks["store"] = {"ok": False, "error": str(exc)}
    for module in registry().modules:
        for name, check in module.readiness:
            try:
                checks[name] = check(state)
            except Exception as exc:  # one failing check must not hide the others
                checks[name] = {"ok": False, "error": str(exc)}
    return checks


@router.get("/readyz", summary="Stores migrated and every module ready (ingest running…)")
async def readyz(request: Request) -> JSONResponse:
    checks = await run_in_threadpool(_readiness, request.app.state.ecomops)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )
