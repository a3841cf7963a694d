"""Sign-in pages (password, second factor, MFA enrolment with QR, step-up, sign-out), the console's
entry ``/``, the language switcher ``POST /lang``, the members page and accepting an invitation
(``/invitations/accept?token=…``: in the query string, which the access log drops, never in the path).

Plain HTML forms that work without JavaScript. Each POST checks a CSRF token (``security.signin``) and,
on a refused attempt, renders the form again with the reason; a successful step redirects to the next
stage, so refreshing a page never re-submits a code.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import EcomopsError
from ecomops.platform.console import i18n
from ecomops.platform.console.downloads import download, export_links
from ecomops.platform.console.shell import Page, error_page, open_page, render
from ecomops.platform.console.templating import templates
from ecomops.platform.roles import ROLES
from ecomops.platform.web.deps import StateDep
from ecomops.platform.web.state import AppState
from ecomops.security import accounts, auth, invitations, signin

router = APIRouter(include_in_schema=False)
#: A year: the language is a preference, not a secret.
LANG_COOKIE_SECONDS = 365 * 24 * 3600

FormStr = Annotated[str, Form(max_length=1024)]
NextField = Annotated[str, Form(max_length=2048)]
TokenField = Annotated[str, Form(max_length=200)]
CodeField = Annotated[str, Form(max_length=64)]


def safe_next(target: str | None) -> str:
    """Only same-site paths: ``//evil.example`` or ``https://…`` would make us an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _for_stage(stage: str, next_url: str) -> str:
    if stage == "mfa":
        return f"/login/mfa?{urlencode({'next': next_url})}"
    if stage == "enroll":
        return "/account/mfa"
    return next_url


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _issue_cookie(response: Response, request: Request, state: AppState, signed_in: auth.SignIn) -> None:
    signin.set_session_cookie(response, request, signed_in.token, signin.session_max_age(state))


def _login_page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    token, new = signin.pre_session_csrf(request)
    state: AppState = request.app.state.ecomops
    context = {**context, "csrf_token": token, "demo_hint": state.settings.demo_signin_hint}
    response = _page(request, "auth/login.html", context, status)
    if new:
        signin.set_pre_session_cookie(response, request, token)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, state: StateDep, next: str = "/") -> Response:
    session = await signin.current_session(request, state)
    if session is not None:
        return _redirect(_for_stage(session.stage, safe_next(next)))
    return _login_page(request, {"next": safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    state: StateDep,
    email: FormStr,
    password: FormStr,
    csrf_token: TokenField = "",
    next: NextField = "/",
) -> Response:
    target = safe_next(next)
    signin.audit_as(request, "anonymous")  # a lockout is recorded as caused by this attempt
    try:
        signin.check_pre_session_csrf(request, csrf_token)
        signed_in = await run_in_threadpool(
            auth.login,
            state.engine,
            state.settings,
            email,
            password,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
    except EcomopsError as exc:
        context = {"next": target, "email": email, "error": exc.message}
        return _login_page(request, context, exc.status_code)
    response = _redirect(_for_stage(signed_in.session.stage, target))
    _issue_cookie(response, request, state, signed_in)
    return response


async def _signed_in(request: Request, state: AppState) -> tuple[str, auth.SessionInfo] | None:
    token = request.cookies.get(signin.SESSION_COOKIE)
    session = await signin.current_session(request, state)
    return (token, session) if token and session else None


def _code_page(
    request: Request,
    session: auth.SessionInfo,
    *,
    step_up: bool,
    next_url: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "csrf_token": session.csrf_token,
        "next": next_url,
        "error": error,
        "recovery": not step_up,
        "action": "/step-up" if step_up else "/login/mfa",
        "heading": "Confirm it's you" if step_up else "Two-factor authentication",
        "lead": (
            "This action needs a fresh code (valid for 10 minutes)."
            if step_up
            else f"Signing in as {session.email}."
        ),
        "demo_hint": request.app.state.ecomops.settings.demo_signin_hint and not step_up,
    }
    return _page(request, "auth/mfa.html", context, status)


@router.get("/login/mfa", response_class=HTMLResponse)
async def mfa_form(request: Request, state: StateDep, next: str = "/") -> Response:
    current = await _signed_in(request, state)
    if current is None:
        return _redirect("/login")
    if current[1].stage != "mfa":
        return _redirect(_for_stage(current[1].stage, safe_next(next)))
    return _code_page(request, current[1], step_up=False, next_url=safe_next(next))


async def _submit_code(
    request: Request, state: AppState, code: str, csrf_token: str, next_url: str, *, step_up: bool
) -> Response:
    """Second sign-in step or step-up: verify the code, rotate the session, go on to ``next_url``."""
    current = await _signed_in(request, state)
    if current is None:
        return _redirect("/login")
    token, session = current
    try:
        signin.check_csrf(csrf_token, session)
        if step_up:
            signed_in = await run_in_threadpool(auth.step_up, state.engine, token, code)
        else:
            signed_in = await run_in_threadpool(auth.complete_mfa, state.engine, state.settings, token, code)
    except EcomopsError as exc:
        if not step_up and await _signed_in(request, state) is None:  # too many wrong codes ended it
            return _login_page(request, {"next": next_url, "error": exc.message}, exc.status_code)
        return _code_page(
            request, session, step_up=step_up, next_url=next_url, error=exc.message, status=exc.status_code
        )
    response = _redirect(next_url)
    _issue_cookie(response, request, state, signed_in)
    return response


@router.post("/login/mfa", response_class=HTMLResponse)
async def mfa_submit(
    request: Request, state: StateDep, code: CodeField, csrf_token: TokenField = "", next: NextField = "/"
) -> Response:
    return await _submit_code(request, state, code, csrf_token, safe_next(next), step_up=False)


@router.get("/step-up", response_class=HTMLResponse)
async def step_up_form(request: Request, state: StateDep, next: str = "/") -> Response:
    current = await _signed_in(request, state)
    if current is None or current[1].stage != "active":
        return _redirect(f"/login?next={safe_next(next)}")
    return _code_page(request, current[1], step_up=True, next_url=safe_next(next))


@router.post("/step-up", response_class=HTMLResponse)
async def step_up_submit(
    request: Request, state: StateDep, code: CodeField, csrf_token: TokenField = "", next: NextField = "/"
) -> Response:
    return await _submit_code(request, state, code, csrf_token, safe_next(next), step_up=True)


async def _enrol_page(
    request: Request,
    session: auth.SessionInfo,
    *,
    enrolment: Any = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "csrf_token": session.csrf_token,
        "email": session.email,
        "enabled": session.mfa_enabled,
        "required": session.stage == "enroll",
        "enrolment": enrolment,
        "error": error,
    }
    return _page(request, "auth/enroll.html", context, status)


@router.get("/account/mfa", response_class=HTMLResponse)
async def mfa_settings(request: Request, state: StateDep) -> Response:
    current = await _signed_in(request, state)
    if current is None or current[1].stage == "mfa":
        return _redirect("/login?next=/account/mfa")
    return await _enrol_page(request, current[1])


@router.post("/account/mfa/start", response_class=HTMLResponse)
async def mfa_start(request: Request, state: StateDep, csrf_token: TokenField = "") -> Response:
    current = await _signed_in(request, state)
    if current is None or current[1].stage == "mfa":
        return _redirect("/login?next=/account/mfa")
    token, session = current
    try:
        signin.check_csrf(csrf_token, session)
        enrolment = await run_in_threadpool(auth.begin_enrolment, state.engine, token)
    except EcomopsError as exc:
        return await _enrol_page(request, session, error=exc.message, status=exc.status_code)
    return await _enrol_page(request, session, enrolment=enrolment)


@router.post("/account/mfa/confirm", response_class=HTMLResponse)
async def mfa_confirm(
    request: Request, state: StateDep, code: CodeField, csrf_token: TokenField = ""
) -> Response:
    current = await _signed_in(request, state)
    if current is None or current[1].stage == "mfa":
        return _redirect("/login?next=/account/mfa")
    token, session = current
    try:
        signin.check_csrf(csrf_token, session)
        signed_in, codes = await run_in_threadpool(
            auth.confirm_enrolment, state.engine, state.settings, token, code
        )
    except EcomopsError as exc:
        # The pending secret stays; show the same QR again so the user can retry with a fresh code.
        pending = await run_in_threadpool(auth.pending_enrolment, state.engine, token)
        return await _enrol_page(
            request, session, enrolment=pending, error=exc.message, status=exc.status_code
        )
    response = _page(request, "auth/recovery.html", {"codes": codes})
    _issue_cookie(response, request, state, signed_in)
    return response


@router.post("/logout")
async def logout(request: Request, state: StateDep, csrf_token: TokenField = "") -> Response:
    current = await _signed_in(request, state)
    if current is not None:
        signin.check_csrf(csrf_token, current[1])
        await run_in_threadpool(auth.logout, state.engine, current[0])
    response = _redirect("/login")
    signin.clear_session_cookie(response, request)
    return response


@router.get("/t/{slug}/settings/members", response_class=HTMLResponse)
async def members_page(request: Request, slug: str) -> Response:
    page = await open_page(request, slug, "members:manage", "members")
    if not isinstance(page, Page):
        return page
    engine = page.state.engine
    file = await download(page, lambda fmt: accounts.export_members(engine, page.tenant, fmt, via="session"))
    if file is not None:
        return file
    members = await run_in_threadpool(accounts.list_members, page.state.engine, page.tenant.slug)
    pending = await run_in_threadpool(invitations.list_pending, page.state.engine, page.tenant.slug)
    policy = await run_in_threadpool(auth.mfa_policy, page.state.engine, page.tenant.id)
    context = {
        "members": members,
        "invitations": pending,
        "invitation_days": page.state.settings.invitation_days,
        "roles": ROLES,
        "require_mfa": policy,
        "exports": export_links(f"{page.base}/settings/members"),
    }
    return render(page, "security/members.html", context)


#: The token travels in the query string: access lines keep paths but drop query strings, so the token
#: never reaches the server log (nor, on the way to sign-in, the ``next`` path).
InvitationToken = Annotated[str, Query(max_length=200)]


async def _invitee(request: Request, state: AppState, token: str) -> auth.SessionInfo | Response:
    """The signed-in invitee, or the redirect that gets them signed in and back here."""
    session = await signin.current_session(request, state)
    here = invitations.link(token)
    if session is None:
        return _redirect(f"/login?{urlencode({'next': here})}")
    if session.stage != "active":
        return _redirect(_for_stage(session.stage, here))
    return session


def _invitation_page(
    request: Request,
    session: auth.SessionInfo,
    token: str,
    offer: invitations.Offer | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "offer": offer,
        "error": error,
        "email": session.email,
        "csrf_token": session.csrf_token,
        "action": invitations.link(token),
    }
    return _page(request, "auth/invitation.html", context, status)


@router.get(invitations.ACCEPT_PATH, response_class=HTMLResponse)
async def invitation_page(request: Request, state: StateDep, token: InvitationToken) -> Response:
    """Show the offer before accepting: a GET changes nothing (link previews and prefetches open it)."""
    session = await _invitee(request, state, token)
    if isinstance(session, Response):
        return session
    try:
        offer = await run_in_threadpool(invitations.offer, state.engine, token, session.user_id)
    except EcomopsError as exc:
        return _invitation_page(request, session, token, error=exc.message, status=exc.status_code)
    return _invitation_page(request, session, token, offer)


@router.post(invitations.ACCEPT_PATH, response_class=HTMLResponse)
async def invitation_accept(
    request: Request, state: StateDep, token: InvitationToken, csrf_token: TokenField = ""
) -> Response:
    session = await _invitee(request, state, token)
    if isinstance(session, Response):
        return session
    try:
        signin.check_csrf(csrf_token, session)
        joined = await run_in_threadpool(invitations.accept, state.engine, token, session.user_id)
    except EcomopsError as exc:
        return _invitation_page(request, session, token, error=exc.message, status=exc.status_code)
    return _redirect(f"/t/{joined.tenant_slug}/")


@router.get("/", response_class=HTMLResponse)
async def entry(request: Request) -> Response:
    """Signed in: the first shop's home (the tenant switcher reaches the others)."""
    state: AppState = request.app.state.ecomops
    session = await signin.current_session(request, state)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    if session.stage != "active":
        return RedirectResponse("/login/mfa" if session.stage == "mfa" else "/account/mfa", status_code=303)
    memberships = await run_in_threadpool(auth.user_tenants, state.engine, session.user_id)
    if memberships:
        return RedirectResponse(f"/t/{memberships[0].slug}/", status_code=303)
    return templates.TemplateResponse(request, "console/no_tenants.html", {"session": session})


@router.post("/lang")
async def set_language(
    request: Request,
    lang: Annotated[str, Form(max_length=10)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Remember the chosen language in a cookie; CSRF-checked like every other form."""
    state: AppState = request.app.state.ecomops
    session = await signin.current_session(request, state)
    try:
        if session is not None:
            signin.check_csrf(csrf_token, session)
        else:
            signin.check_pre_session_csrf(request, csrf_token)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, i18n.N_("Not allowed"), exc.message, session)
    if lang not in i18n.LOCALES:
        return error_page(request, 422, i18n.N_("Unknown language"), f"unknown language {lang!r}", session)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        i18n.COOKIE,
        lang,
        max_age=LANG_COOKIE_SECONDS,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/",
    )
    return response


@router.post("/account/preferences")
async def set_preferences(
    request: Request,
    rise_colour: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """The settings page's preferences form: the colour of a rise (empty: follow the language)."""
    state: AppState = request.app.state.ecomops
    session = await signin.current_session(request, state)
    if session is None or session.stage != "active":
        return RedirectResponse("/login", status_code=303)
    try:
        signin.check_csrf(csrf_token, session)
        await run_in_threadpool(accounts.set_rise_colour, state.engine, session.email, rise_colour or None)
    except EcomopsError as exc:
        return error_page(request, exc.status_code, i18n.N_("Invalid request"), exc.message, session)
    return RedirectResponse(safe_next(next), status_code=303)
