"""What every console page does first: who is signed in, which tenant, which role, which language.

``open_page`` turns a request for ``/t/{slug}/…`` into a :class:`Page` or into the response that must
be sent instead. The installed authenticator (the security module) decides who the visitor is: no
session → ``/login?next=<this page>``; sign-in unfinished → the MFA step; MFA required but not set up
→ enrolment; not a member (or no such tenant, indistinguishable on purpose) → a 404 page. Here: a
member whose role lacks the page's permission → a 403 page naming it; a page of a module the tenant
switched off → a 404 page. Pages then call their module's service layer and :func:`render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from ecomops.platform.console import i18n, nav
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.templating import request_locale, templates
from ecomops.platform.context import AuditContext, TenantInfo, set_current
from ecomops.platform.enablement import enablement_cache
from ecomops.platform.observability.logs import set_tenant
from ecomops.platform.permissions import allowed, describe
from ecomops.platform.registry import registry
from ecomops.platform.web.deps import module_of, request_id
from ecomops.platform.web.state import AppState


@dataclass(frozen=True)
class Page:
    request: Request
    state: AppState
    #: The signed-in person's session (``email``, ``csrf_token``… of the security module's SessionInfo).
    session: Any
    tenant: TenantInfo
    role: str
    #: Every tenant the person belongs to (``slug``, ``name``, ``role``), for the tenant switcher.
    memberships: list[Any]
    locale: str
    active: str = ""
    #: Modules the tenant switched off (their navigation is hidden).
    disabled: frozenset[str] = frozenset()
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


def error_page(request: Request, status: int, title: str, message: str, session: Any = None) -> HTMLResponse:
    context = {"status": status, "title": title, "message": message, "session": session}
    return templates.TemplateResponse(request, "console/error.html", context, status_code=status)


async def open_page(request: Request, slug: str, permission: str | None, active: str) -> Page | Response:
    state: AppState = request.app.state.ecomops
    visit = await registry().authenticator.page_visit(request, slug, state)
    if isinstance(visit, Response):
        return visit
    set_tenant(visit.tenant.slug)
    disabled = await run_in_threadpool(enablement_cache(state).disabled, state.engine, visit.tenant.id)
    module = module_of(request)
    if module is not None and module in disabled:
        return error_page(
            request,
            404,
            N_("Not found"),
            i18n.gettext(request_locale(request), N_("The %(module)s module is switched off for this shop."))
            % {"module": module},
            visit.session,
        )
    if permission is not None and not allowed(visit.role, permission):
        return error_page(
            request,
            403,
            N_("Not allowed"),
            i18n.gettext(
                request_locale(request),
                N_(
                    "Your role %(role)s lacks the permission %(permission)s (%(description)s). "
                    "Ask an owner or admin of this shop."
                ),
            )
            % {"role": repr(visit.role), "permission": repr(permission), "description": describe(permission)},
            visit.session,
        )
    ip = request.client.host if request.client else None
    set_current(AuditContext(visit.actor, ip, request_id(request)))
    return Page(
        request,
        state,
        visit.session,
        visit.tenant,
        visit.role,
        visit.memberships,
        request_locale(request),
        active,
        disabled,
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
        "nav_sections": nav.sections(page.role, page.disabled),
        "active": page.active,
        "memberships": page.memberships,
        "current_url": this_url(page.request),
    }
    return templates.TemplateResponse(page.request, template, {**base, **(context or {})}, status_code=status)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
