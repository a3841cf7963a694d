"""What every console page does first: who is signed in, which tenant, which role, which language.

``open_page`` turns a request for ``/t/{slug}/…`` into a :class:`Page` or into the response that must
be sent instead: no session → ``/login?next=<this page>``; sign-in unfinished → the MFA step; the
tenant requires MFA for this role and the user has none → enrolment; not a member (or no such
tenant, indistinguishable on purpose) → a 404 page; a member whose role lacks the page's permission
→ a 403 page naming the permission. Pages then call the service layer and :func:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import NotFound
from ecomops.platform.console import nav
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.templating import request_locale, templates
from ecomops.platform.context import AuditContext, set_current
from ecomops.platform.permissions import MATRIX, allowed
from ecomops.platform.web.deps import request_id
from ecomops.platform.web.state import AppState
from ecomops.security import auth, signin
from ecomops.tenancy import service as tenancy


@dataclass(frozen=True)
class Page:
    request: Request
    state: AppState
    session: auth.SessionInfo
    tenant: tenancy.TenantInfo
    role: str
    memberships: list[auth.TenantRole]
    locale: str
    active: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)

    @property
    def base(self) -> str:
        return f"/t/{self.tenant.slug}"


def this_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def problem_title(status: int) -> str:
    """The heading of an error page for a refused lookup or a bad address (translated in the template)."""
    return {404: N_("Not found"), 403: N_("Not allowed")}.get(status, N_("Invalid request"))


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(this_url(request), safe='/')}", status_code=303)


def error_page(
    request: Request, status: int, title: str, message: str, session: auth.SessionInfo | None = None
) -> HTMLResponse:
    context = {"status": status, "title": title, "message": message, "session": session}
    return templates.TemplateResponse(request, "console/error.html", context, status_code=status)


def _load(
    state: AppState, user_id: str, slug: str
) -> tuple[tenancy.TenantInfo | None, list[auth.TenantRole]]:
    memberships = auth.user_tenants(state.engine, user_id)
    if not any(m.slug == slug for m in memberships):
        return None, memberships
    try:
        return tenancy.get_tenant(state.engine, slug), memberships
    except NotFound:
        return None, memberships


async def open_page(request: Request, slug: str, permission: str | None, active: str) -> Page | Response:
    state: AppState = request.app.state.ecomops
    session = await signin.current_session(request, state)
    if session is None:
        return login_redirect(request)
    if session.stage == "mfa":
        return RedirectResponse(f"/login/mfa?next={quote(this_url(request), safe='/')}", status_code=303)
    if session.stage == "enroll":
        return RedirectResponse("/account/mfa", status_code=303)
    tenant, memberships = await run_in_threadpool(_load, state, session.user_id, slug)
    membership = next((m for m in memberships if m.slug == slug), None)
    if tenant is None or membership is None:
        return error_page(
            request, 404, N_("Not found"), f"There is no shop {slug!r} you are a member of.", session
        )
    if membership.require_mfa and membership.role in auth.MFA_ROLES and not session.mfa_enabled:
        return RedirectResponse("/account/mfa", status_code=303)
    if permission is not None and not allowed(membership.role, permission):
        return error_page(
            request,
            403,
            N_("Not allowed"),
            f"Your role {membership.role!r} lacks the permission {permission!r} "
            f"({MATRIX[permission][1]}). Ask an owner or admin of this shop.",
            session,
        )
    ip = request.client.host if request.client else None
    set_current(AuditContext(f"user:{session.email}", ip, request_id(request)))
    return Page(
        request, state, session, tenant, membership.role, memberships, request_locale(request), active
    )


def render(
    page: Page, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    base = {
        "page": page,
        "tenant": page.tenant,
        "session": page.session,
        "role": page.role,
        "csrf_token": page.session.csrf_token,
        "nav_sections": nav.sections(page.role),
        "active": page.active,
        "memberships": page.memberships,
        "current_url": this_url(page.request),
    }
    return templates.TemplateResponse(page.request, template, {**base, **(context or {})}, status_code=status)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
