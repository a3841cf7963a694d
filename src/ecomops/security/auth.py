"""Console sign-in: server-side sessions, lockout, MFA stages and step-up.

Sessions live in the operational store, not in a signed cookie, so signing out, a role change or a
disabled account ends them at once everywhere. The cookie carries a random 256-bit token; the table
keeps only its SHA-256, so a leaked database backup holds no usable sessions. Every change of
privilege (password accepted → second factor accepted, step-up) issues a new token and deletes the
old row, which defeats session fixation.

Stages: ``mfa`` (password accepted; a TOTP or recovery code is due), ``enroll`` (the user is owner or
admin of a tenant whose policy requires MFA and has none yet: only enrolment is reachable),
``active``. A session expires after ``session_idle_minutes`` without requests and in any case
``session_absolute_hours`` after sign-in; an unfinished ``mfa`` stage lasts five minutes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.settings import Settings
from ecomops.platform.store.db import session_scope
from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.tenants import get_tenant
from ecomops.security import accounts, mfa, throttle
from ecomops.security.models import Membership, User, UserSession

MFA_ROLES = frozenset({"owner", "admin"})
PENDING_MFA_LIFETIME = timedelta(minutes=5)
#: Wrong codes tolerated in one ``mfa`` stage before the session is thrown away.
MAX_MFA_FAILURES = 5
#: ``last_seen_at`` is written at most this often: a write per request would serialise the console.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionInfo:
    id: str
    user_id: str
    email: str
    stage: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    mfa_at: datetime | None
    mfa_enabled: bool
    #: The person's colour of a rise (``red``/``green``), None to follow the console's language.
    rise_colour: str | None = None


@dataclass(frozen=True)
class SignIn:
    """A session just created or rotated: ``token`` goes into the cookie and is not stored."""

    token: str
    session: SessionInfo


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: UserSession, user: User) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        user_id=user.id,
        email=user.email,
        stage=row.stage,
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        expires_at=row.expires_at,
        mfa_at=row.mfa_at,
        mfa_enabled=user.mfa_enabled_at is not None,
        rise_colour=user.rise_colour,
    )


def _issue(s: Session, user: User, stage: str, expires_at: datetime, **fields: object) -> SignIn:
    token = secrets.token_urlsafe(32)
    row = UserSession(
        id=token_id(token),
        user_id=user.id,
        stage=stage,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=expires_at,
        **fields,
    )
    s.add(row)
    s.flush()
    return SignIn(token, _info(row, user))


def _rotate(s: Session, row: UserSession, user: User, stage: str, mfa_at: datetime | None) -> SignIn:
    """Replace ``row`` by a session with a new token (and CSRF token): privileges just changed."""
    now = utcnow()
    s.delete(row)
    s.flush()
    return _issue(
        s, user, stage, row.expires_at, mfa_at=mfa_at, last_seen_at=now, ip=row.ip, user_agent=row.user_agent
    )


def requires_mfa(engine: Engine, user_id: str) -> bool:
    """Is the user owner/admin of any tenant whose policy requires a second factor?"""
    with system_session(engine, "sign-in: tenant MFA policy of the user's memberships") as s:
        hit = s.scalar(
            select(Membership.id)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(
                Membership.user_id == user_id, Membership.role.in_(MFA_ROLES), Tenant.require_mfa.is_(True)
            )
            .limit(1)
        )
    return hit is not None


def _audit_on_user_tenants(
    engine: Engine, user_id: str, email: str, action: str, details: dict[str, object]
) -> None:
    """Account events belong to no tenant: record them on the chain of each tenant the user is in.

    Called after the change committed: on SQLite a second writer inside the first would deadlock.
    """
    with system_session(engine, "audit: tenants of a user") as sys:
        tenant_ids = sorted(
            sys.scalars(select(Membership.tenant_id).where(Membership.user_id == user_id)).all()
        )
    for tenant_id in tenant_ids:
        record_action(engine, tenant_id, action, "user", user_id, details={"email": email, **details})


def login(
    engine: Engine, settings: Settings, email: str, password: str, *, ip: str | None, user_agent: str | None
) -> SignIn:
    """Check the password and open a session in the stage the account's MFA state calls for.

    Every attempt is counted per (e-mail as typed, client address) before the password is checked
    (``security.throttle``): after ``login_max_failures`` failures the pair is locked with exponential
    back-off, for unknown e-mails exactly as for accounts. Unknown and disabled accounts get the same
    answer as a wrong password (and cost the same time).
    """
    subject, address = throttle.subject_of(email), ip or "unknown"
    throttle.reserve(engine, settings, subject, address)
    verified = accounts.verify_password(engine, email, password)
    if verified is None:
        until = throttle.failed(engine, settings, subject, address)
        if until is not None:
            _audit_lock(engine, email, address, until)
        raise Unauthorized("invalid email or password")
    throttle.clear(engine, subject, address)
    needs_enrolment = requires_mfa(engine, verified.id)
    now = utcnow()
    with session_scope(engine) as s:
        user = s.get_one(User, verified.id)
        if user.mfa_enabled_at is not None:
            stage, expires = "mfa", now + PENDING_MFA_LIFETIME
        else:
            stage = "enroll" if needs_enrolment else "active"
            expires = now + timedelta(hours=settings.session_absolute_hours)
        return _issue(s, user, stage, expires, ip=ip, user_agent=(user_agent or "")[:300] or None)


def _audit_lock(engine: Engine, email: str, ip: str, until: datetime) -> None:
    """A lock of an existing account's e-mail goes on its tenants' chains (unknown e-mails have none)."""
    try:
        normalized = accounts.normalize_email(email)
    except ValidationFailed:
        return
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.email == normalized))
        found = None if user is None else (user.id, user.email)
    if found is not None:
        details: dict[str, object] = {"until": until.isoformat(), "ip": ip}
        _audit_on_user_tenants(engine, found[0], found[1], "user.locked", details)


def unlock(engine: Engine, email: str) -> None:
    """Lift every lock on the account's e-mail, from every address."""
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.email == accounts.normalize_email(email)))
        if user is None:
            raise NotFound(f"user {email!r} not found", {"email": email})
        found = (user.id, user.email)
    throttle.clear(engine, throttle.subject_of(found[1]))
    _audit_on_user_tenants(engine, found[0], found[1], "user.unlock", {})


def current(engine: Engine, settings: Settings, token: str | None) -> SessionInfo | None:
    """The live session for a cookie token, or None (unknown, expired, idle too long, user disabled)."""
    if not token or len(token) > 200:
        return None
    now = utcnow()
    with session_scope(engine) as s:
        row = s.get(UserSession, token_id(token))
        if row is None:
            return None
        user = s.get_one(User, row.user_id)
        idle_limit = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
        if row.expires_at <= now or idle_limit <= now or user.status != accounts.ACTIVE:
            s.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_INTERVAL:
            row.last_seen_at = now
        return _info(row, user)


def _live(s: Session, token: str) -> tuple[UserSession, User]:
    row = s.get(UserSession, token_id(token))
    if row is None or row.expires_at <= utcnow():
        raise Unauthorized("not signed in or the session expired; sign in again")
    return row, s.get_one(User, row.user_id)


def complete_mfa(engine: Engine, settings: Settings, token: str, code: str) -> SignIn:
    """Second step of sign-in with a TOTP code or a recovery code; rotates the session."""
    with session_scope(engine) as s:
        row, user = _live(s, token)
        if row.stage != "mfa":
            raise Conflict("this session is not waiting for a second factor", {"stage": row.stage})
        if mfa.verify_totp(engine, s, user, code):
            used_recovery = False
        elif mfa.use_recovery_code(s, user, code):
            used_recovery = True
        else:
            row.mfa_failures += 1
            if row.mfa_failures >= MAX_MFA_FAILURES:
                s.delete(row)
                s.commit()
                raise Unauthorized("too many wrong codes; sign in again")
            s.commit()
            raise Unauthorized("wrong or already used code", {"field": "code"})
        now = utcnow()
        row.expires_at = now + timedelta(hours=settings.session_absolute_hours)
        signed_in = _rotate(s, row, user, "active", now)
        left = mfa.remaining_recovery_codes(s, user) if used_recovery else None
    if left is not None:
        _audit_on_user_tenants(engine, user.id, user.email, "user.mfa_recovery_used", {"remaining": left})
    return signed_in


def step_up(engine: Engine, token: str, code: str) -> SignIn:
    """Re-verify a TOTP code inside an active session; opens the step-up window and rotates."""
    with session_scope(engine) as s:
        row, user = _live(s, token)
        if row.stage != "active":
            raise Conflict("finish signing in first", {"stage": row.stage})
        if user.mfa_enabled_at is None:
            raise Forbidden("set up two-factor authentication first (account → MFA)", code="mfa_not_enrolled")
        if mfa.verify_totp(engine, s, user, code):
            row.mfa_failures = 0
            return _rotate(s, row, user, "active", utcnow())
        # Wrong codes count against the session as at sign-in: a stolen session cookie must not be
        # able to guess its way through the 10^6 codes, and every miss is on the record.
        row.mfa_failures += 1
        ended = row.mfa_failures >= MAX_MFA_FAILURES
        if ended:
            s.delete(row)
        user_id, email, failures = user.id, user.email, row.mfa_failures
    _audit_on_user_tenants(
        engine, user_id, email, "user.step_up_failed", {"failures": failures, "signed_out": ended}
    )
    if ended:
        raise Unauthorized("too many wrong codes; sign in again")
    raise Unauthorized("wrong or already used code", {"field": "code"})


def begin_enrolment(engine: Engine, token: str) -> mfa.Enrolment:
    with session_scope(engine) as s:
        row, user = _live(s, token)
        if row.stage == "mfa":
            raise Conflict("finish signing in first", {"stage": row.stage})
        return mfa.begin_enrolment(engine, s, user)


def pending_enrolment(engine: Engine, token: str) -> mfa.Enrolment | None:
    with session_scope(engine) as s:
        _, user = _live(s, token)
        return mfa.pending_enrolment(engine, user)


def confirm_enrolment(engine: Engine, settings: Settings, token: str, code: str) -> tuple[SignIn, list[str]]:
    """MFA on: returns the rotated session (now active, step-up fresh) and the recovery codes."""
    with session_scope(engine) as s:
        row, user = _live(s, token)
        if row.stage == "mfa":
            raise Conflict("finish signing in first", {"stage": row.stage})
        codes = mfa.confirm_enrolment(engine, s, user, code)
        now = utcnow()
        row.expires_at = min(row.expires_at, now + timedelta(hours=settings.session_absolute_hours))
        signed_in = _rotate(s, row, user, "active", now)
    _audit_on_user_tenants(engine, user.id, user.email, "user.mfa_enabled", {})
    return signed_in, codes


def regenerate_recovery_codes(engine: Engine, token: str) -> list[str]:
    with session_scope(engine) as s:
        row, user = _live(s, token)
        if row.stage != "active" or user.mfa_enabled_at is None:
            raise Conflict("two-factor authentication is not enabled", {"stage": row.stage})
        codes = mfa.issue_recovery_codes(s, user)
    _audit_on_user_tenants(engine, user.id, user.email, "user.mfa_recovery_regenerated", {})
    return codes


def reset_mfa(engine: Engine, email: str) -> None:
    """Administrator recovery for a lost device: MFA off, sessions ended, next sign-in re-enrols."""
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.email == accounts.normalize_email(email)))
        if user is None:
            raise NotFound(f"user {email!r} not found", {"email": email})
        mfa.reset(s, user)
        accounts.end_user_sessions(s, user.id)
    _audit_on_user_tenants(engine, user.id, user.email, "user.mfa_reset", {})


def enroll_totp(engine: Engine, email: str) -> mfa.Enrolment | None:
    """MFA on with a fresh TOTP secret, for the operator at the machine (``user bootstrap --enroll-totp``):
    the local demo's owner scans the secret printed in the terminal instead of enrolling in the browser
    between password and dashboard.

    The secret goes to whoever runs the command, like ``--reset-password``'s password, so it needs the
    same access (the operational store). An account with MFA already on keeps its authenticator
    (``None``): a second ``make demo`` must not invalidate the app the owner set up.
    """
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.email == accounts.normalize_email(email)))
        if user is None:
            raise NotFound(f"user {email!r} not found", {"email": email})
        if user.mfa_enabled_at is not None:
            return None
        enrolment = mfa.begin_enrolment(engine, s, user)
        user.mfa_enabled_at = utcnow()
        user_id, user_email = user.id, user.email
    _audit_on_user_tenants(engine, user_id, user_email, "user.mfa_enabled", {"via": "cli"})
    return enrolment


def logout(engine: Engine, token: str | None) -> None:
    if not token:
        return
    with session_scope(engine) as s:
        s.execute(delete(UserSession).where(UserSession.id == token_id(token)))


@dataclass(frozen=True)
class TenantRole:
    tenant_id: str
    slug: str
    name: str
    role: str
    require_mfa: bool


def user_tenants(engine: Engine, user_id: str) -> list[TenantRole]:
    """The tenants a user may switch between in the console, with the role in each."""
    with system_session(engine, "console: tenants of the signed-in user") as s:
        rows = s.execute(
            select(Tenant, Membership.role)
            .join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user_id)
            .order_by(Tenant.slug)
        ).all()
        return [TenantRole(t.id, t.slug, t.name, role, t.require_mfa) for t, role in rows]


def role_in(engine: Engine, user_id: str, tenant_id: str) -> TenantRole | None:
    return next((t for t in user_tenants(engine, user_id) if t.tenant_id == tenant_id), None)


def set_mfa_policy(engine: Engine, tenant_id: str, required: bool) -> bool:
    """Whether the tenant's owners and admins must use MFA; returns the previous setting."""
    with tenant_session(engine, tenant_id) as s:
        tenant = s.get_one(Tenant, tenant_id)
        before = tenant.require_mfa
        tenant.require_mfa = required
        s.flush()
        if before != required:
            record_action(
                s,
                tenant_id,
                "tenant.mfa_policy",
                "tenant",
                tenant_id,
                before={"require_mfa": before},
                after={"require_mfa": required},
            )
        return before


def mfa_policy(engine: Engine, tenant_id: str) -> bool:
    with tenant_session(engine, tenant_id) as s:
        return s.get_one(Tenant, tenant_id).require_mfa


@dataclass(frozen=True)
class Bootstrap:
    email: str
    password: str | None
    created: bool
    mfa_required: bool
    mfa_enabled: bool


def bootstrap_owner(engine: Engine, tenant_slug: str, email: str, *, reset_password: bool) -> Bootstrap:
    """First-run owner: create the account (random password) and make it owner of the tenant.

    Idempotent: an existing account keeps its password unless ``reset_password`` (which ends its
    sessions); an existing membership is left as it is.
    """
    tenant = get_tenant(engine, tenant_slug)
    password: str | None = None
    created = False
    try:
        user = accounts.get_user(engine, email)
    except NotFound:
        password = secrets.token_urlsafe(18)
        user = accounts.create_user(engine, email, password)
        created = True
    if password is None and reset_password:
        password = secrets.token_urlsafe(18)
        accounts.set_password(engine, email, password)
    if role_in(engine, user.id, tenant.id) is None:
        accounts.add_member(engine, tenant_slug, email, "owner")
    with session_scope(engine) as s:
        enabled = s.get_one(User, user.id).mfa_enabled_at is not None
    return Bootstrap(user.email, password, created, mfa_policy(engine, tenant.id), enabled)
