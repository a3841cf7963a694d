"""FastAPI app factory: builds the process state, mounts every domain's router and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecomops import __version__
from ecomops.alerts import api as alerts_api
from ecomops.alerts import scheduler as alerts_scheduler
from ecomops.analytics import api as analytics_api
from ecomops.analytics import funnel_api
from ecomops.audit import api as audit_api
from ecomops.customers import api as customers_api
from ecomops.imports import api as imports_api
from ecomops.imports import runner as imports_runner
from ecomops.ingest import api as ingest_api
from ecomops.ingest import pipeline as ingest_pipeline
from ecomops.kernel.errors import EcomopsError, Overloaded
from ecomops.live import api as live_api
from ecomops.live import hub as live_hub
from ecomops.orders import api as orders_api
from ecomops.platform.server import new_control_token
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import engine_for
from ecomops.platform.store.migrate import current_revision, head_revision, upgrade
from ecomops.platform.warehouse.connection import WarehouseRegistry
from ecomops.platform.web import apidocs, health, pages, ratelimit
from ecomops.platform.web.deps import REQUEST_ID_SCOPE_KEY
from ecomops.platform.web.headers import RequestId, SecurityHeaders
from ecomops.platform.web.state import AppState
from ecomops.privacy import api as privacy_api
from ecomops.privacy import runner as privacy_runner
from ecomops.products import api as products_api
from ecomops.query import api as warehouse_api
from ecomops.security import account_pages, admin_api, auth_api
from ecomops.simulate import api as simulate_api

#: Domain modules with ``async startup(state)`` / ``async shutdown(state)``, started in this order.
#: privacy_runner comes first: it rewrites erased tenants' warehouse files before anything opens them.
LIFECYCLE: list[Any] = [
    privacy_runner,
    ingest_pipeline,
    imports_runner,
    ratelimit,
    live_hub,
    alerts_scheduler,
]

#: Domain routers, mounted in this order.
ROUTERS: list[Any] = [
    health.router,
    apidocs.router,
    ingest_api.router,
    warehouse_api.router,
    imports_api.router,
    simulate_api.router,
    audit_api.router,
    analytics_api.router,
    funnel_api.router,
    customers_api.router,
    orders_api.router,
    live_api.router,
    products_api.router,
    alerts_api.router,
    privacy_api.router,
    auth_api.router,
    admin_api.router,
    account_pages.router,
    pages.router,
]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request"},
    401: {"description": "Missing or invalid credentials"},
    404: {"description": "Unknown tenant or resource"},
    413: {"description": "Request body too large"},
    422: {"description": "Validation failed; details say where"},
    429: {"description": "Rate-limited or overloaded; retry after the Retry-After seconds"},
}


def _error(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """One JSON error shape for every failure, including framework-raised ones."""

    @app.exception_handler(EcomopsError)
    async def _domain(_: Request, exc: EcomopsError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else None
        return _error(exc.status_code, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
        ]
        return _error(422, "validation_failed", "request validation failed", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), None, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Answered by Starlette's outermost middleware, outside RequestId: echo the id it assigned here.
        rid = request.scope.get(REQUEST_ID_SCOPE_KEY)
        headers = {"X-Request-ID": rid} if isinstance(rid, str) else None
        return _error(500, "internal_error", "internal server error", {"type": type(exc).__name__}, headers)


SECURITY_SCHEMES: dict[str, Any] = {
    "writeKeyBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "Ingest write key as the username, empty password (Segment SDKs)",
    },
    "writeKeyBearer": {"type": "http", "scheme": "bearer", "description": "Ingest write key"},
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "Management API key (eco_live_…) of the tenant in the path",
    },
}


def install_openapi(app: FastAPI) -> None:
    """Declare the security schemes the routes refer to, and require an API key on /api/v1."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in schema["paths"].items():
                if path.startswith("/api/v1/"):
                    for operation in operations.values():
                        operation.setdefault("security", [{"apiKey": []}])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, control_token: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine_for(settings.resolved_database_url)
    if current_revision(engine) != head_revision(engine):
        upgrade(engine)
    state = AppState(
        settings=settings,
        engine=engine,
        warehouses=WarehouseRegistry(settings.warehouse_dir()),
        control_token=control_token or new_control_token(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started = []
        try:
            for module in LIFECYCLE:
                await module.startup(state)
                started.append(module)
            yield
        finally:
            for module in reversed(started):
                await module.shutdown(state)
            state.warehouses.close_all()

    app = FastAPI(
        title="ecomops",
        version=__version__,
        description="E-commerce operations platform: ingest, warehouse, analytics and actions per tenant.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.ecomops = state
    install_error_handlers(app)
    install_openapi(app)
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=apidocs.STATIC_DIR), name="static")
    # Added innermost first: SecurityHeaders wraps RequestId wraps RateLimit, so a 429 carries both.
    limiter = state.services["ratelimit"] = ratelimit.RateLimiter(settings)
    app.add_middleware(ratelimit.RateLimit, limiter=limiter)
    app.add_middleware(RequestId)
    app.add_middleware(SecurityHeaders)
    return app
