"""Authentication for the tenant-scoped management API ``/api/v1/t/{tenant}/...``.

Accepted credentials: an API key (``Bearer eco_live_…``) of that tenant, or the server's
local control token (CLI on the same machine). Ingest write keys never pass here.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from ecomops.audit.context import AuditContext, set_current
from ecomops.kernel.errors import NotFound, Unauthorized
from ecomops.kernel.ids import new_id
from ecomops.tenancy import service as tenancy
from ecomops.web.state import AppState, app_state


@dataclass(frozen=True)
class TenantContext:
    tenant: tenancy.TenantInfo
    actor: str
    role: str
    ip: str | None = None
    request_id: str | None = None


#: Client-chosen request ids are kept only if short and printable; otherwise a fresh one is used.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def request_id(request: Request) -> str:
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else new_id("req_")


def _authenticated(request: Request, ctx: TenantContext) -> TenantContext:
    """Attach IP and request id and make them the audit context of the rest of this request."""
    ctx = replace(ctx, ip=request.client.host if request.client else None, request_id=request_id(request))
    set_current(AuditContext(ctx.actor, ctx.ip, ctx.request_id))
    return ctx


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def tenant_context(
    request: Request,
    tenant: Annotated[str, Path(description="Tenant slug", max_length=63)],
    state: Annotated[AppState, Depends(app_state)],
) -> TenantContext:
    token = _bearer(request)
    if token is None:
        raise Unauthorized("missing credentials: send 'Authorization: Bearer <api key>'")
    # Compare bytes: compare_digest refuses non-ASCII str (a 500 for a stray header otherwise).
    if hmac.compare_digest(token.encode(), state.control_token.encode()):
        local = await run_in_threadpool(tenancy.get_tenant, state.engine, tenant)
        return _authenticated(request, TenantContext(local, "local-cli", "owner"))
    key = await run_in_threadpool(tenancy.api_key_for_secret, state.engine, token)
    if key is None:
        raise Unauthorized("invalid, expired or revoked API key")
    info: tenancy.TenantInfo | None
    try:
        info = await run_in_threadpool(tenancy.get_tenant, state.engine, tenant)
    except NotFound:
        info = None
    # Same answer for "no such tenant" and "not your tenant": slugs of other tenants stay unknowable.
    if info is None or info.id != key.tenant_id:
        raise NotFound(f"tenant {tenant!r} not found", {"tenant": tenant})
    return _authenticated(request, TenantContext(info, f"api_key:{key.id}", key.role))


TenantDep = Annotated[TenantContext, Depends(tenant_context)]
StateDep = Annotated[AppState, Depends(app_state)]
