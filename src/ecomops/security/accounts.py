"""User accounts, passwords and tenant memberships.

Passwords are hashed with argon2id; unlike API keys, human passwords have little entropy, so the hash
must be slow. The cost is chosen so one verification takes 50–150 ms on the 2-core reference machine
(``bench/auth.py``, docs/benchmarks.md): slow for guessing, bearable for a sign-in, and affordable when
several sign-ins arrive at once (argon2-cffi's defaults, 64 MiB × 3 passes × 4 lanes, took 300–600 ms
there). Hashes carry their parameters, so hashes made with other parameters still verify, and
``verify_password`` re-hashes them with these at the next successful sign-in.

Audit: membership changes are tenant-scoped and go to that tenant's chain. Account creation and
disabling are not tenant-scoped; the audit log only has per-tenant chains, so ``user.disable`` is
recorded on the chain of every tenant the user belongs to (those tenants are the ones whose access
changed), and ``user.create`` is not recorded: a fresh account belongs to no tenant and can reach
nothing until ``member.add``, which is recorded.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.console.i18n import N_
from ecomops.platform.console.labels import RISE_COLOURS
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import Column, ExportTable, Format, audit_export
from ecomops.platform.roles import ROLES
from ecomops.platform.store.db import session_scope
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.tenants import get_tenant
from ecomops.security import throttle
from ecomops.security.models import Membership, User, UserSession

MIN_PASSWORD_LENGTH = 12
ACTIVE, DISABLED = "active", "disabled"
#: Deliberately loose: the mailbox is not verified here, this only rejects obvious typos.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")

#: argon2id cost: 3 passes over 24 MiB in one lane (above OWASP's 19 MiB × 2 passes minimum).
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 24 * 1024
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM
)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of well-known passwords, lower-cased (comments and blank lines skipped)."""
    text = resources.files("ecomops.security").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str) -> None:
    """Length first (the best single predictor of strength), then the common-password list."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", {"field": "password"}
        )
    if password.lower() in common_passwords():
        raise ValidationFailed("password is too common; choose another", {"field": "password"})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalize_email(email: str) -> str:
    """Lower-cased and trimmed, so ``Ann@Shop.com`` and ``ann@shop.com`` are one account."""
    normalized = email.strip().lower()
    if len(normalized) > 320 or not _EMAIL.match(normalized):
        raise ValidationFailed(f"{email!r} is not an email address", {"field": "email"})
    return normalized


@dataclass(frozen=True)
class UserInfo:
    id: str
    email: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, u: User) -> UserInfo:
        return cls(u.id, u.email, u.status, u.created_at)


@dataclass(frozen=True)
class MemberInfo:
    tenant_id: str
    user_id: str
    email: str
    role: str


def create_user(engine: Engine, email: str, password: str) -> UserInfo:
    """Create an active account; not audited (no tenant yet, see the module docstring)."""
    normalized = normalize_email(email)
    check_password_policy(password)
    user = User(email=normalized, password_hash=hash_password(password), status=ACTIVE)
    try:
        with session_scope(engine) as s:
            s.add(user)
            s.flush()
    except IntegrityError as exc:
        raise Conflict(f"user {normalized!r} already exists", {"field": "email"}) from exc
    return UserInfo.of(user)


def list_users(engine: Engine) -> list[UserInfo]:
    with session_scope(engine) as s:
        return [UserInfo.of(u) for u in s.scalars(select(User).order_by(User.email))]


def _user(s: Session, email: str) -> User:
    normalized = normalize_email(email)
    user = s.scalar(select(User).where(User.email == normalized))
    if user is None:
        raise NotFound(f"user {normalized!r} not found", {"email": normalized})
    return user


def get_user(engine: Engine, email: str) -> UserInfo:
    with session_scope(engine) as s:
        return UserInfo.of(_user(s, email))


def end_user_sessions(s: Session, user_id: str) -> int:
    """End every console session of a user: their access just changed (role, removal, password…).

    Sessions carry no role; ending them makes the next request sign in again under the new rules
    instead of trusting a session opened under the old ones.
    """
    return s.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount or 0  # type: ignore[attr-defined]


def set_password(engine: Engine, email: str, password: str) -> UserInfo:
    """New password (policy-checked), lockout cleared, every session ended; audited per tenant."""
    check_password_policy(password)
    with session_scope(engine) as s:
        user = _user(s, email)
        user.password_hash = hash_password(password)
        end_user_sessions(s, user.id)
        info = UserInfo.of(user)
    throttle.clear(engine, throttle.subject_of(info.email))
    with system_session(engine, "password change: tenants of the user") as s:
        tenant_ids = sorted(
            s.scalars(select(Membership.tenant_id).where(Membership.user_id == info.id)).all()
        )
    for tenant_id in tenant_ids:
        record_action(engine, tenant_id, "user.password_set", "user", info.id, details={"email": info.email})
    return info


def disable_user(engine: Engine, email: str) -> UserInfo:
    """Disable an account (it stays, with its memberships, so the history keeps its meaning).

    Recorded as ``user.disable`` on every tenant the user is a member of. Disabling an owner is
    allowed: the owner row remains and can be re-enabled; refusing would let a departed owner's
    account stay usable.

    System scope: the user's memberships span tenants, and each of those tenants' chains is written.
    """
    with system_session(engine, "disabling a user: memberships and audit chains of every tenant") as s:
        user = _user(s, email)
        if user.status == DISABLED:
            return UserInfo.of(user)
        user.status = DISABLED
        end_user_sessions(s, user.id)
        s.flush()
        tenant_ids = s.scalars(select(Membership.tenant_id).where(Membership.user_id == user.id)).all()
        for tenant_id in sorted(tenant_ids):
            record_action(
                s,
                tenant_id,
                "user.disable",
                "user",
                user.id,
                before={"email": user.email, "status": ACTIVE},
                after={"email": user.email, "status": DISABLED},
            )
        return UserInfo.of(user)


def set_rise_colour(engine: Engine, email: str, colour: str | None) -> str | None:
    """A person's colour of a rise in the console (``red``/``green``; None follows the language).

    Audited as ``user.preferences_set`` on every tenant the person belongs to, like a password change.
    """
    if colour is not None and colour not in RISE_COLOURS:
        raise ValidationFailed(
            f"rise_colour must be one of {', '.join(RISE_COLOURS)} or null; got {colour!r}",
            {"field": "rise_colour"},
        )
    with session_scope(engine) as s:
        user = _user(s, email)
        before = user.rise_colour
        user.rise_colour = colour
        user_id, address = user.id, user.email
    with system_session(engine, "preference change: tenants of the user") as s:
        tenant_ids = sorted(
            s.scalars(select(Membership.tenant_id).where(Membership.user_id == user_id)).all()
        )
    for tenant_id in tenant_ids:
        record_action(
            engine,
            tenant_id,
            "user.preferences_set",
            "user",
            user_id,
            before={"rise_colour": before},
            after={"rise_colour": colour},
            details={"email": address},
        )
    return colour


@cache
def _dummy_hash() -> str:
    """A hash of a fixed string: verifying against it when the user does not exist costs the same time
    as a real verification, so response time does not reveal which emails have accounts. Made on first
    use, not at import: an argon2 hash is a quarter of a CPU second that every CLI command paid."""
    return _hasher.hash("ecomops-dummy-password-for-timing")


def verify_password(engine: Engine, email: str, password: str) -> UserInfo | None:
    """The active user whose password this is, else None (unknown, disabled or wrong: same answer)."""
    try:
        normalized = normalize_email(email)
    except ValidationFailed:
        return None
    with session_scope(engine) as s:
        user = s.scalar(select(User).where(User.email == normalized))
        try:
            _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.status != ACTIVE:
            return None
        # Parameters raised since the hash was made: upgrade it while the password is at hand.
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return UserInfo.of(user)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", {"field": "role"})


def _owner_count(s: Session, tenant_id: str) -> int:
    """Owners of a tenant, with their rows locked (PostgreSQL) so two concurrent demotions of the
    last two owners serialise and the second sees only one owner left."""
    rows = s.scalars(
        select(Membership.id)
        .where(Membership.tenant_id == tenant_id, Membership.role == "owner")
        .with_for_update()
    ).all()
    return len(rows)


def _membership(s: Session, tenant_id: str, user: User) -> Membership:
    row = s.scalar(select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user.id))
    if row is None:
        raise NotFound(f"{user.email!r} is not a member of this tenant", {"email": user.email})
    return row


def add_member(engine: Engine, tenant_slug: str, email: str, role: str) -> MemberInfo:
    _check_role(role)
    tenant = get_tenant(engine, tenant_slug)
    try:
        with tenant_session(engine, tenant.id) as s:
            user = _user(s, email)
            row = Membership(tenant_id=tenant.id, user_id=user.id, role=role)
            s.add(row)
            s.flush()
            record_action(
                s, tenant.id, "member.add", "user", user.id, after={"email": user.email, "role": role}
            )
            return MemberInfo(tenant.id, user.id, user.email, role)
    except IntegrityError as exc:
        raise Conflict(
            f"{normalize_email(email)!r} is already a member of {tenant_slug!r}", {"field": "email"}
        ) from exc


def list_members(engine: Engine, tenant_slug: str) -> list[MemberInfo]:
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        rows = s.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant.id)
            .order_by(User.email)
        ).all()
        return [MemberInfo(m.tenant_id, u.id, u.email, m.role) for m, u in rows]


#: Members as a file (the members page and ``GET …/members?format=``).
MEMBER_COLUMNS = (
    Column("email", N_("Email")),
    Column("role", N_("Role")),
    Column("user_id", N_("User ID")),
)


def export_members(engine: Engine, tenant: TenantInfo, fmt: Format, *, via: str) -> ExportTable:
    """The "export members" use case: :func:`list_members`'s rows; audited as ``members.export``."""
    members = list_members(engine, tenant.slug)
    audit_export(engine, tenant.id, "members", fmt, filters={}, rows=len(members), via=via)
    rows = (asdict(m) for m in members)
    return ExportTable("members", MEMBER_COLUMNS, rows, tenant.timezone, len(members))


def _last_owner(row: Membership, what: str) -> Conflict:
    return Conflict(
        f"cannot {what} the last owner of the tenant; make someone else owner first",
        {"tenant_id": row.tenant_id},
    )


def _refuse_last_owner(s: Session, row: Membership, what: str) -> None:
    if row.role == "owner" and _owner_count(s, row.tenant_id) <= 1:
        raise _last_owner(row, what)


def _unless_last_owner(row: Membership) -> ColumnElement[bool]:
    """``row``, provided it is not an owner or another owner remains, as one condition of the statement
    that demotes or removes it. The check and the change are one statement, so they are atomic on
    SQLite too, where ``FOR UPDATE`` is a no-op and two owners demoting each other at the same moment
    would otherwise both pass the count (each sees two owners) and leave the tenant with none."""
    others = aliased(Membership)
    owners = (
        select(func.count(others.id))
        .where(others.tenant_id == row.tenant_id, others.role == "owner")
        .scalar_subquery()
    )
    return and_(
        Membership.id == row.id,
        Membership.tenant_id == row.tenant_id,
        or_(Membership.role != "owner", owners > 1),
    )


def remove_member(engine: Engine, tenant_slug: str, email: str) -> None:
    """Remove a membership; refused for the tenant's last owner (nobody could manage it after)."""
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        user = _user(s, email)
        row = _membership(s, tenant.id, user)
        _refuse_last_owner(s, row, "remove")
        before = {"email": user.email, "role": row.role}
        if s.execute(delete(Membership).where(_unless_last_owner(row))).rowcount != 1:  # type: ignore[attr-defined]
            raise _last_owner(row, "remove")
        s.expunge(row)
        end_user_sessions(s, user.id)
        s.flush()
        # After: the same user with no role here, so the digest pair shows what the removal changed.
        after = {"email": user.email, "role": None}
        record_action(s, tenant.id, "member.remove", "user", user.id, before=before, after=after)


def set_role(engine: Engine, tenant_slug: str, email: str, role: str) -> MemberInfo:
    """Change a member's role; demoting the last owner is refused."""
    _check_role(role)
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        user = _user(s, email)
        row = _membership(s, tenant.id, user)
        if row.role == role:
            return MemberInfo(tenant.id, user.id, user.email, role)
        if role != "owner":
            _refuse_last_owner(s, row, "demote")
        before = {"email": user.email, "role": row.role}
        changed = s.execute(update(Membership).where(_unless_last_owner(row)).values(role=role))
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            raise _last_owner(row, "demote")
        s.expire(row)
        end_user_sessions(s, user.id)
        s.flush()
        record_action(
            s,
            tenant.id,
            "member.role",
            "user",
            user.id,
            before=before,
            after={"email": user.email, "role": role},
        )
        return MemberInfo(tenant.id, user.id, user.email, role)
