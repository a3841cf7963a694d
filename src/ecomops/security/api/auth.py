"""``/auth``: JSON sign-in API for the console's scripts and for tests (the pages post to /login).

JSON-only on purpose: a cross-site HTML form cannot send ``application/json`` without a CORS
preflight, which this server never grants, so the login call needs no CSRF token; every call made
with an existing session must carry ``X-CSRF-Token`` (see ``web.signin``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import EcomopsError, StepUpRequired, Unauthorized
from ecomops.platform.web.deps import StateDep
from ecomops.platform.web.state import AppState
from ecomops.platform.web.stepup import STEP_UP_WINDOW
from ecomops.security import accounts, auth, signin

router = APIRouter(prefix="/auth", tags=["auth"])


class UnsupportedMediaType(EcomopsError):
    status_code = 415
    code = "unsupported_media_type"


def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json", {"content_type": content_type})


JsonOnly = Depends(require_json)


class LoginIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class CodeIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="6-digit TOTP code or a recovery code")


class SessionOut(BaseModel):
    stage: str = Field(description="mfa: code due; enroll: MFA set-up required; active: signed in")
    csrf_token: str
    expires_at: datetime
    step_up_until: datetime | None


class TenantOut(BaseModel):
    slug: str
    name: str
    role: str


class MeOut(SessionOut):
    email: str
    mfa_enabled: bool
    tenants: list[TenantOut]
    rise_colour: str | None = Field(
        None, description="The colour of a rise in the console (red or green); null follows the language"
    )


class PreferencesIn(BaseModel):
    model_config = ConfigDict(strict=True)

    rise_colour: Literal["red", "green"] | None = Field(
        description="red: a rise is red and a fall green (A-share); green: the reverse; null: as the "
        "console's language (zh-CN red, English green)"
    )


class PreferencesOut(BaseModel):
    rise_colour: str | None


class EnrolmentOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]
    csrf_token: str


def _out(info: auth.SessionInfo) -> SessionOut:
    until = info.mfa_at + STEP_UP_WINDOW if info.mfa_at else None
    return SessionOut(
        stage=info.stage, csrf_token=info.csrf_token, expires_at=info.expires_at, step_up_until=until
    )


def _issued(request: Request, response: Response, state: AppState, signed_in: auth.SignIn) -> SessionOut:
    signin.set_session_cookie(response, request, signed_in.token, signin.session_max_age(state))
    return _out(signed_in.session)


async def _session(request: Request, state: AppState, *, csrf: bool = True) -> tuple[str, auth.SessionInfo]:
    token = request.cookies.get(signin.SESSION_COOKIE)
    info = await signin.current_session(request, state)
    if token is None or info is None:
        raise Unauthorized("not signed in or the session expired; sign in again")
    if csrf:
        signin.check_csrf(request.headers.get(signin.CSRF_HEADER), info)
    return token, info


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/login", response_model=SessionOut, dependencies=[JsonOnly], summary="Sign in with a password")
async def login(body: LoginIn, request: Request, response: Response, state: StateDep) -> SessionOut:
    signin.audit_as(request, "anonymous")  # a lockout is recorded as caused by this attempt
    signed_in = await run_in_threadpool(
        auth.login,
        state.engine,
        state.settings,
        body.email,
        body.password,
        ip=_client(request),
        user_agent=request.headers.get("user-agent"),
    )
    return _issued(request, response, state, signed_in)


@router.post("/mfa", response_model=SessionOut, dependencies=[JsonOnly], summary="Second sign-in step")
async def second_factor(body: CodeIn, request: Request, response: Response, state: StateDep) -> SessionOut:
    token, _ = await _session(request, state)
    signed_in = await run_in_threadpool(auth.complete_mfa, state.engine, state.settings, token, body.code)
    return _issued(request, response, state, signed_in)


@router.post("/step-up", response_model=SessionOut, dependencies=[JsonOnly], summary="Re-verify a TOTP code")
async def step_up(body: CodeIn, request: Request, response: Response, state: StateDep) -> SessionOut:
    token, _ = await _session(request, state)
    signed_in = await run_in_threadpool(auth.step_up, state.engine, token, body.code)
    return _issued(request, response, state, signed_in)


@router.post("/mfa/enroll", response_model=EnrolmentOut, summary="Start TOTP enrolment (secret + QR)")
async def enroll(request: Request, state: StateDep) -> EnrolmentOut:
    token, _ = await _session(request, state)
    enrolment = await run_in_threadpool(auth.begin_enrolment, state.engine, token)
    return EnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri, qr_svg=enrolment.qr_svg)


@router.post(
    "/mfa/confirm", response_model=RecoveryCodesOut, dependencies=[JsonOnly], summary="Finish TOTP enrolment"
)
async def confirm(body: CodeIn, request: Request, response: Response, state: StateDep) -> RecoveryCodesOut:
    token, _ = await _session(request, state)
    signed_in, codes = await run_in_threadpool(
        auth.confirm_enrolment, state.engine, state.settings, token, body.code
    )
    _issued(request, response, state, signed_in)
    return RecoveryCodesOut(recovery_codes=codes, csrf_token=signed_in.session.csrf_token)


@router.post("/mfa/recovery-codes", response_model=RecoveryCodesOut, summary="Replace the recovery codes")
async def new_recovery_codes(request: Request, state: StateDep) -> RecoveryCodesOut:
    token, info = await _session(request, state)
    if info.mfa_at is None or utcnow() - info.mfa_at > STEP_UP_WINDOW:
        raise StepUpRequired("new recovery codes need a fresh second factor: POST /auth/step-up first")
    codes = await run_in_threadpool(auth.regenerate_recovery_codes, state.engine, token)
    return RecoveryCodesOut(recovery_codes=codes, csrf_token=info.csrf_token)


@router.post("/logout", status_code=204, summary="Sign out (ends the session server-side)")
async def logout(request: Request, state: StateDep) -> Response:
    token = request.cookies.get(signin.SESSION_COOKIE)
    info = await signin.current_session(request, state)
    if info is not None:
        signin.check_csrf(request.headers.get(signin.CSRF_HEADER), info)
        await run_in_threadpool(auth.logout, state.engine, token)
    response = Response(status_code=204)
    signin.clear_session_cookie(response, request)
    return response


@router.get("/me", response_model=MeOut, summary="The signed-in user, session stage and tenants")
async def me(request: Request, state: StateDep) -> MeOut:
    _, info = await _session(request, state, csrf=False)
    tenants = await run_in_threadpool(auth.user_tenants, state.engine, info.user_id)
    base = _out(info)
    return MeOut(
        **base.model_dump(),
        email=info.email,
        mfa_enabled=info.mfa_enabled,
        rise_colour=info.rise_colour,
        tenants=[TenantOut(slug=t.slug, name=t.name, role=t.role) for t in tenants]
        if info.stage == "active"
        else [],
    )


@router.put(
    "/me/preferences",
    response_model=PreferencesOut,
    dependencies=[JsonOnly],
    summary="Set the signed-in person's console preferences (the colour of a rise)",
)
async def set_preferences(body: PreferencesIn, request: Request, state: StateDep) -> PreferencesOut:
    _, info = await _session(request, state)
    if info.stage != "active":
        raise Unauthorized("finish signing in (the second factor) first")
    colour = await run_in_threadpool(accounts.set_rise_colour, state.engine, info.email, body.rise_colour)
    return PreferencesOut(rise_colour=colour)
