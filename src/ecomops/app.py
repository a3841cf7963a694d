"""FastAPI app factory: the process state, the platform's routes and every installed module's.

Assembly only: what each module brings (routers, pages, lifecycle, jobs) comes from its declaration
(``ecomops.platform.modules.Module``), discovered by the registry; nothing here names a domain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecomops import __version__
from ecomops.kernel.errors import EcomopsError, Overloaded
from ecomops.platform.console.errors import html_error, wants_html
from ecomops.platform.jobs import SERVICE as SCHEDULER
from ecomops.platform.jobs import Scheduler
from ecomops.platform.modules import Module
from ecomops.platform.observability import endpoint as metrics_endpoint
from ecomops.platform.observability.access import AccessLog
from ecomops.platform.observability.metrics import SERVICE as METRICS
from ecomops.platform.observability.metrics import Metrics
from ecomops.platform.registry import Registry, registry
from ecomops.platform.server import new_control_token
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import engine_for
from ecomops.platform.store.migrate import ensure_current
from ecomops.platform.warehouse.connection import WarehouseRegistry
from ecomops.platform.web import apidocs, health, ratelimit
from ecomops.platform.web.deps import REQUEST_ID_SCOPE_KEY
from ecomops.platform.web.headers import RequestId, SecurityHeaders
from ecomops.platform.web.heavy import HeavyWork
from ecomops.platform.web.state import AppState

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
    """One JSON error shape for every failure, including framework-raised ones; a browser asking for a
    console address gets an HTML page instead (``platform.console.errors``)."""

    @app.exception_handler(EcomopsError)
    async def _domain(request: Request, exc: EcomopsError) -> Response:
        if wants_html(request) and exc.status_code in (403, 404):
            return await html_error(request, exc.status_code, exc.message)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else {}
        if exc.close_connection:
            headers["Connection"] = "close"
        return _error(exc.status_code, exc.code, exc.message, exc.details, headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
        ]
        return _error(422, "validation_failed", "request validation failed", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code in (403, 404, 405):
            return await html_error(request, exc.status_code)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail), None, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Answered by Starlette's outermost middleware, outside RequestId: echo the id it assigned here.
        rid = request.scope.get(REQUEST_ID_SCOPE_KEY)
        headers = {"X-Request-ID": rid} if isinstance(rid, str) else None
        if wants_html(request):
            page = await html_error(request, 500, request_id=rid if isinstance(rid, str) else None)
            page.headers.update(headers or {})
            return page
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


def _routes(routes: list[Any]) -> Iterator[Any]:
    """Every route of a router, through included routers too."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


def _mount(app: FastAPI, state: AppState, module: Module) -> None:
    """A module's routers, each route recorded as the module's (per-tenant switches and logs)."""
    for router in (*module.api, *module.pages):
        app.include_router(router)
        state.route_modules.update({id(route): module.name for route in _routes(router.routes)})


@asynccontextmanager
async def _lifespan(state: AppState, modules: Registry) -> AsyncIterator[None]:
    """Platform services, then each module's start-up in module order, then the job scheduler;
    stopped in reverse, and the warehouses closed last."""
    started: list[Module] = []
    await ratelimit.startup(state)
    try:
        for module in modules.modules:
            if module.startup is not None:
                await module.startup(state)
            started.append(module)
        scheduler = state.services[SCHEDULER] = Scheduler(state)
        scheduler.start()
        try:
            yield
        finally:
            await scheduler.stop()
    finally:
        for module in reversed(started):
            if module.shutdown is not None:
                await module.shutdown(state)
        await ratelimit.shutdown(state)
        heavy = state.services.pop("heavy", None)
        if isinstance(heavy, HeavyWork):
            heavy.close()
        state.warehouses.close_all()


def create_app(settings: Settings | None = None, control_token: str | None = None) -> FastAPI:
    settings = settings or get_settings()
    modules = registry()
    engine = engine_for(settings.resolved_database_url)
    ensure_current(engine)
    metrics = Metrics()
    state = AppState(
        settings=settings,
        engine=engine,
        warehouses=WarehouseRegistry(settings.warehouse_dir(), on_facts=metrics.observe_facts),
        control_token=control_token or new_control_token(),
    )
    state.services[METRICS] = metrics
    metrics.watch(state, modules)

    app = FastAPI(
        title="ecomops",
        version=__version__,
        description="E-commerce operations platform: ingest, warehouse, analytics and actions per tenant.",
        lifespan=lambda _app: _lifespan(state, modules),
        docs_url=None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.ecomops = state
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(health.router)
    app.include_router(apidocs.router)
    app.include_router(metrics_endpoint.router)
    for module in modules.modules:
        _mount(app, state, module)
    app.mount("/static", StaticFiles(directory=apidocs.STATIC_DIR), name="static")
    # Added innermost first: SecurityHeaders wraps RequestId wraps AccessLog wraps RateLimit, so a 429
    # carries both headers and is logged and timed with its request id.
    limiter = state.services["ratelimit"] = ratelimit.RateLimiter(settings)
    app.add_middleware(ratelimit.RateLimit, limiter=limiter)
    app.add_middleware(AccessLog, observe=metrics.observe_request)
    app.add_middleware(RequestId)
    app.add_middleware(SecurityHeaders)
    return app
