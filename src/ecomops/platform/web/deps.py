"""Request dependencies of the tenant-scoped management API ``/api/v1/t/{tenant}/...``.

``TenantDep`` authenticates the caller through the installed authenticator (the security module:
API keys, the CLI's control token, console sessions), makes them the audit context of the rest of
the request, and refuses routes of a module the tenant switched off (after authentication, so a
stranger learns nothing about a tenant's modules).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Path, Request

from ecomops.platform.context import AuditContext, TenantContext, set_current
from ecomops.platform.enablement import check_enabled
from ecomops.platform.observability.logs import set_tenant
from ecomops.platform.registry import registry
from ecomops.platform.web.requestid import REQUEST_ID_SCOPE_KEY, request_id, valid_request_id
from ecomops.platform.web.state import AppState, app_state

__all__ = ["REQUEST_ID_SCOPE_KEY", "TenantContext", "request_id", "valid_request_id"]


def module_of(request: Request) -> str | None:
    """The module whose router serves this request (None for the platform's own routes).

    A dict lookup on the matched route object, recorded when the app mounted each module's routers:
    no per-request dependency, so the ingest path pays nothing for it.
    """
    state: AppState = request.app.state.ecomops
    return state.route_modules.get(id(request.scope.get("route")))


def _authenticated(request: Request, ctx: TenantContext) -> TenantContext:
    """Attach IP and request id and make them the audit context of the rest of this request; its log
    records name the tenant from here on."""
    ctx = replace(ctx, ip=request.client.host if request.client else None, request_id=request_id(request))
    set_current(AuditContext(ctx.actor, ctx.ip, ctx.request_id))
    set_tenant(ctx.tenant.slug)
    return ctx


async def tenant_context(
    request: Request,
    tenant: Annotated[str, Path(description="Tenant slug", max_length=63)],
    state: Annotated[AppState, Depends(app_state)],
) -> TenantContext:
    ctx = await registry().authenticator.api_context(request, tenant, state)
    ctx = _authenticated(request, ctx)
    module = module_of(request)
    if module is not None:
        check_enabled(state, ctx.tenant.id, module)
    return ctx


TenantDep = Annotated[TenantContext, Depends(tenant_context)]
StateDep = Annotated[AppState, Depends(app_state)]
