"""Session cookie and CSRF rules shared by the console pages and the JSON ``/auth`` API.

The session cookie is HttpOnly (scripts cannot read it), SameSite=Lax (not sent on cross-site POSTs)
and Secure when the request arrived over TLS (directly or through a trusted proxy's
X-Forwarded-Proto). SameSite alone is not CSRF protection everywhere (older browsers, same-site
subdomains), so every state-changing request made with the cookie must also prove it comes from our
own page: forms carry a hidden ``csrf_token``, scripts send ``X-CSRF-Token``, both equal to the
session's token (synchronizer token). Before sign-in there is no session, so the login form uses a
double-submit cookie instead: a random ``eco_csrf`` cookie that the form must echo.

A double-submit cookie alone fails against an attacker who can set cookies for our host (a sibling
subdomain, a plain-HTTP hop): they plant their own token and post the form with it, signing the
victim in to the attacker's account (login CSRF). So the sign-in form must also come from our own
origin: a browser says where a form was posted from (``Sec-Fetch-Site``, ``Origin``), and a cross-site
answer is refused whatever the token. Over TLS the cookie is ``__Host-eco_csrf``, a name browsers let
only this exact host set.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.errors import Forbidden
from ecomops.platform.context import AuditContext, set_current
from ecomops.platform.web.requestid import request_id
from ecomops.platform.web.state import AppState
from ecomops.security import auth

SESSION_COOKIE = "eco_session"
PRE_CSRF_COOKIE = "eco_csrf"
#: Over TLS: a ``__Host-`` cookie can be set only by this host, over HTTPS, for path ``/``.
SECURE_PRE_CSRF_COOKIE = "__Host-eco_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age_seconds: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age_seconds,
        httponly=True,
        secure=_secure(request),
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=_secure(request), samesite="lax")


def session_max_age(state: AppState) -> int:
    return state.settings.session_absolute_hours * 3600


def audit_as(request: Request, actor: str) -> None:
    """Make ``actor`` (with this request's IP and id) the author of audit records written from here."""
    ip = request.client.host if request.client else None
    set_current(AuditContext(actor, ip, request_id(request)))


async def current_session(request: Request, state: AppState) -> auth.SessionInfo | None:
    """The request's live session; also makes its user the audit actor (``anonymous`` without one),
    so records written by sign-in steps (MFA enabled, recovery code used…) name the person."""
    token = request.cookies.get(SESSION_COOKIE)
    session = None
    if token:
        session = await run_in_threadpool(auth.current, state.engine, state.settings, token)
    audit_as(request, f"user:{session.email}" if session else "anonymous")
    return session


def tokens_match(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


def check_csrf(given: str | None, session: auth.SessionInfo) -> None:
    if not tokens_match(given, session.csrf_token):
        raise Forbidden(
            "missing or wrong CSRF token: reload the page (scripts send the X-CSRF-Token header)",
            code="csrf_failed",
        )


def _pre_cookie(request: Request) -> str:
    return SECURE_PRE_CSRF_COOKIE if _secure(request) else PRE_CSRF_COOKIE


def pre_session_csrf(request: Request) -> tuple[str, bool]:
    """The login form's token: the visitor's ``eco_csrf`` cookie, or a new one (second item True)."""
    token = request.cookies.get(_pre_cookie(request))
    if token and len(token) <= 100:
        return token, False
    return secrets.token_urlsafe(32), True


def set_pre_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        _pre_cookie(request), token, httponly=True, secure=_secure(request), samesite="strict", path="/"
    )


def _same_origin(request: Request) -> bool:
    """What the browser says about where the form was posted from. Current browsers send
    ``Sec-Fetch-Site`` (it does not depend on how a proxy rewrites ``Host``); older ones only ``Origin``;
    clients that send neither (scripts, curl) cannot be made to post by another site and pass."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def check_pre_session_csrf(request: Request, given: str | None) -> None:
    if not _same_origin(request):
        raise Forbidden("sign-in forms are accepted only from this site's own pages", code="csrf_failed")
    cookie = request.cookies.get(_pre_cookie(request))
    if not cookie or not tokens_match(given, cookie):
        raise Forbidden("the sign-in form expired; reload the page and try again", code="csrf_failed")
