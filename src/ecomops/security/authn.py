"""Who is calling: the platform's authenticator, implemented with API keys, sessions and memberships.

The web shell asks ``Authenticator.api_context`` for every ``/api/v1/t/{tenant}/…`` request and
``page_visit`` for every console page (``ecomops.platform.modules.Authenticator``), so it never
touches keys, cookies or memberships itself.

Accepted on the API: an API key (``Bearer eco_live_…``) of that tenant, the server's local control
token (the CLI on the same machine), or a console session cookie (with the CSRF token on writes).
Ingest write keys never pass here.
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import Forbidden, NotFound, Unauthorized
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.shell import error_page, this_url
from ecomops.platform.context import TenantContext, TenantInfo
from ecomops.platform.modules import PageVisit
from ecomops.platform.tenants import get_tenant
from ecomops.platform.web.state import AppState
from ecomops.security import auth, signin
from ecomops.tenancy import service as tenancy


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _load_visit(state: AppState, user_id: str, slug: str) -> tuple[TenantInfo | None, list[auth.TenantRole]]:
    memberships = auth.user_tenants(state.engine, user_id)
    if not any(m.slug == slug for m in memberships):
        return None, memberships
    try:
        return get_tenant(state.engine, slug), memberships
    except NotFound:
        return None, memberships


class KeysAndSessions:
    """The platform's authenticator: API keys, the local control token, console sessions."""

    async def api_context(self, request: Request, tenant: str, state: AppState) -> TenantContext:
        token = _bearer(request)
        if token is None:
            return await self._session_context(request, tenant, state)
        # Compare bytes: compare_digest refuses non-ASCII str (a 500 for a stray header otherwise).
        if hmac.compare_digest(token.encode(), state.control_token.encode()):
            local = await run_in_threadpool(get_tenant, state.engine, tenant)
            return TenantContext(local, "local-cli", "owner", via="local")
        resolved = tenancy.cached_api_key(state, token)
        if resolved is None:
            resolved = await run_in_threadpool(tenancy.resolve_api_key, state, token)
            if resolved is None:
                raise Unauthorized("invalid, expired or revoked API key")
        key, info = resolved
        # Same answer for "no such tenant" and "not your tenant": slugs of other tenants stay unknowable.
        if info.slug != tenant:
            raise NotFound(f"tenant {tenant!r} not found", {"tenant": tenant})
        return TenantContext(info, f"api_key:{key.id}", key.role)

    async def _session_context(self, request: Request, tenant: str, state: AppState) -> TenantContext:
        """A person signed in to the console: their membership decides the role in this tenant."""
        session = await signin.current_session(request, state)
        if session is None:
            raise Unauthorized("missing credentials: sign in, or send 'Authorization: Bearer <api key>'")
        if session.stage != "active":
            raise Unauthorized(
                "sign-in is not finished: complete two-factor authentication first",
                {"stage": session.stage},
                code="mfa_required",
            )
        if request.method not in signin.SAFE_METHODS:
            signin.check_csrf(request.headers.get(signin.CSRF_HEADER), session)
        info: TenantInfo | None
        try:
            info = await run_in_threadpool(get_tenant, state.engine, tenant)
        except NotFound:
            info = None
        membership = None
        if info is not None:
            membership = await run_in_threadpool(auth.role_in, state.engine, session.user_id, info.id)
        if info is None or membership is None:
            raise NotFound(f"tenant {tenant!r} not found", {"tenant": tenant})
        if membership.require_mfa and membership.role in auth.MFA_ROLES and not session.mfa_enabled:
            raise Forbidden(
                f"this tenant requires two-factor authentication for the {membership.role} role: "
                "set it up under Account → Two-factor authentication",
                {"role": membership.role},
                code="mfa_required",
            )
        return TenantContext(
            info, f"user:{session.email}", membership.role, via="session", mfa_at=session.mfa_at
        )

    async def page_visit(self, request: Request, slug: str, state: AppState) -> PageVisit | Response:
        session = await signin.current_session(request, state)
        if session is None:
            return RedirectResponse(f"/login?next={quote(this_url(request), safe='/')}", status_code=303)
        if session.stage == "mfa":
            return RedirectResponse(f"/login/mfa?next={quote(this_url(request), safe='/')}", status_code=303)
        if session.stage == "enroll":
            return RedirectResponse("/account/mfa", status_code=303)
        tenant, memberships = await run_in_threadpool(_load_visit, state, session.user_id, slug)
        membership = next((m for m in memberships if m.slug == slug), None)
        if tenant is None or membership is None:
            return error_page(
                request, 404, N_("Not found"), f"There is no shop {slug!r} you are a member of.", session
            )
        if membership.require_mfa and membership.role in auth.MFA_ROLES and not session.mfa_enabled:
            return RedirectResponse("/account/mfa", status_code=303)
        return PageVisit(session, tenant, membership.role, list(memberships), f"user:{session.email}")

    async def signed_in(self, request: Request, state: AppState) -> auth.SessionInfo | None:
        return await signin.current_session(request, state)
