"""Invitations: how people join a tenant.

Adding a member by e-mail used to look the account up and answer "not found" for unknown addresses,
which told any admin of any tenant which e-mails have accounts on the platform. Inviting answers the
same for every address: the invitation is stored whether or not an account exists, and only the
person who signs in with that e-mail and presents the link's token becomes a member. The only
difference an inviter can see is "already a member" for the tenant's own members, whom they can list
anyway.

The token (256 random bits) is returned once, to the inviter, who forwards the link (ecomops sends no
e-mail); only its SHA-256 is stored, so the table cannot be used to accept. An invitation is spent by
one conditional update, so two concurrent accepts of one token cannot both succeed. Each tenant may
create ``invitations_per_hour`` invitations (revoked ones count), so inviting cannot be used to spam
addresses or, through timing, to probe them in bulk.

Audit (tenant chain): ``invitation.create``, ``invitation.revoke`` (also when a new invitation to the
same e-mail replaces a pending one), ``invitation.accept`` and ``member.add``; never the token.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Engine, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ecomops.kernel.clock import utcnow
from ecomops.kernel.errors import Conflict, NotFound, Overloaded, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import current
from ecomops.platform.roles import ROLES
from ecomops.platform.store.models import Tenant
from ecomops.platform.store.scoping import system_session, tenant_session
from ecomops.platform.tenants import get_tenant
from ecomops.security.accounts import ACTIVE, normalize_email
from ecomops.security.models import Invitation, Membership, User

PENDING, ACCEPTED, REVOKED, EXPIRED = "pending", "accepted", "revoked", "expired"
RATE_WINDOW = timedelta(hours=1)
#: One answer for every token that cannot be used by this account: telling "expired" from "for someone
#: else" would let a token holder learn about an invitation that is not theirs.
INVALID_MESSAGE = (
    "this invitation cannot be used: it has expired, was revoked or already used, or was sent to "
    "another e-mail address than the one you signed in with; ask the shop for a new one"
)

#: The console page that accepts an invitation. The token goes in the query string: access lines keep
#: paths but drop query strings, so the token never reaches the server log.
ACCEPT_PATH = "/invitations/accept"


def link(token: str) -> str:
    """The invitation's console path (relative: the caller prefixes its own origin)."""
    return f"{ACCEPT_PATH}?{urlencode({'token': token})}"


@dataclass(frozen=True)
class InvitationInfo:
    id: str
    tenant_id: str
    email: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime
    status: str

    @classmethod
    def of(cls, row: Invitation, now: datetime) -> InvitationInfo:
        return cls(
            row.id,
            row.tenant_id,
            row.email,
            row.role,
            row.invited_by,
            row.created_at,
            row.expires_at,
            _status(row, now),
        )


@dataclass(frozen=True)
class Invited:
    """A new invitation and its token: the only time the token exists outside the inviter's hands."""

    invitation: InvitationInfo
    token: str


@dataclass(frozen=True)
class Offer:
    """What a valid invitation offers the signed-in person: a role in a shop."""

    invitation_id: str
    tenant_slug: str
    tenant_name: str
    role: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _status(row: Invitation, now: datetime) -> str:
    if row.accepted_at is not None:
        return ACCEPTED
    if row.revoked_at is not None:
        return REVOKED
    return PENDING if row.expires_at > now else EXPIRED


def _pending(now: datetime) -> list[ColumnElement[bool]]:
    return [Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now]


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", {"field": "role"})


def _refuse_member(s: Session, tenant_id: str, email: str, tenant_slug: str) -> None:
    """ "Already a member" is said for the tenant's own members only: its admins can list them anyway."""
    member = s.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id, User.email == email)
    )
    if member is not None:
        raise Conflict(f"{email!r} is already a member of {tenant_slug!r}", {"field": "email"})


def _enforce_rate(s: Session, tenant_id: str, per_hour: int, now: datetime) -> None:
    """Counted after this invitation is written and the tenant's audit lock is held (``record_action``
    locks the tenant row on PostgreSQL; on SQLite the insert holds the database write lock), so
    concurrent invitations see each other and the limit holds exactly."""
    since = now - RATE_WINDOW
    count, oldest = s.execute(
        select(func.count(Invitation.id), func.min(Invitation.created_at)).where(
            Invitation.tenant_id == tenant_id, Invitation.created_at > since
        )
    ).one()
    if count > per_hour:
        seconds = max(1, math.ceil((oldest + RATE_WINDOW - now).total_seconds()))
        raise Overloaded(
            f"this shop has created {per_hour} invitations in the last hour; try again later",
            retry_after=seconds,
            details={"limit_per_hour": per_hour, "retry_after": seconds},
            code="invitation_rate_limited",
        )


def invite(engine: Engine, tenant_slug: str, email: str, role: str, *, days: int, per_hour: int) -> Invited:
    """Invite ``email`` to the tenant with ``role``; the same answer whether an account exists or not.

    A pending invitation to the same address is replaced (revoked), so there is one live link per
    person. Only owners may invite owners: the caller checks that, as for every grant of a role.
    """
    _check_role(role)
    normalized = normalize_email(email)
    tenant = get_tenant(engine, tenant_slug)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with tenant_session(engine, tenant.id) as s:
        _refuse_member(s, tenant.id, normalized, tenant_slug)
        row = Invitation(
            tenant_id=tenant.id,
            email=normalized,
            role=role,
            invited_by=current().actor,
            token_digest=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        s.add(row)
        s.flush()
        record_action(
            s,
            tenant.id,
            "invitation.create",
            "invitation",
            row.id,
            after={"email": normalized, "role": role},
            details={"expires_at": row.expires_at.isoformat(timespec="seconds")},
        )
        _enforce_rate(s, tenant.id, per_hour, now)
        replaced = s.scalars(
            select(Invitation).where(
                Invitation.tenant_id == tenant.id,
                Invitation.email == normalized,
                Invitation.id != row.id,
                *_pending(now),
            )
        ).all()
        for old in replaced:
            old.revoked_at = now
            record_action(
                s,
                tenant.id,
                "invitation.revoke",
                "invitation",
                old.id,
                before={"email": old.email, "role": old.role, "status": PENDING},
                after={"email": old.email, "role": old.role, "status": REVOKED},
                details={"replaced_by": row.id},
            )
        return Invited(InvitationInfo.of(row, now), token)


def list_pending(engine: Engine, tenant_slug: str) -> list[InvitationInfo]:
    """Invitations that can still be accepted, newest first."""
    tenant = get_tenant(engine, tenant_slug)
    now = utcnow()
    with tenant_session(engine, tenant.id) as s:
        rows = s.scalars(
            select(Invitation)
            .where(Invitation.tenant_id == tenant.id, *_pending(now))
            .order_by(Invitation.created_at.desc(), Invitation.id)
        ).all()
        return [InvitationInfo.of(r, now) for r in rows]


def _invitation(s: Session, tenant_id: str, invitation_id: str) -> Invitation:
    row = s.scalar(
        select(Invitation).where(Invitation.tenant_id == tenant_id, Invitation.id == invitation_id)
    )
    if row is None:
        raise NotFound(f"invitation {invitation_id!r} not found", {"invitation_id": invitation_id})
    return row


def get_invitation(engine: Engine, tenant_slug: str, invitation_id: str) -> InvitationInfo:
    tenant = get_tenant(engine, tenant_slug)
    with tenant_session(engine, tenant.id) as s:
        return InvitationInfo.of(_invitation(s, tenant.id, invitation_id), utcnow())


def revoke(engine: Engine, tenant_slug: str, invitation_id: str) -> InvitationInfo:
    """Make a pending invitation unusable; one already accepted, revoked or expired is a conflict."""
    tenant = get_tenant(engine, tenant_slug)
    now = utcnow()
    with tenant_session(engine, tenant.id) as s:
        row = _invitation(s, tenant.id, invitation_id)
        status = _status(row, now)
        if status != PENDING:
            raise Conflict(f"invitation {invitation_id!r} is {status}, not pending", {"status": status})
        row.revoked_at = now
        s.flush()
        record_action(
            s,
            tenant.id,
            "invitation.revoke",
            "invitation",
            row.id,
            before={"email": row.email, "role": row.role, "status": PENDING},
            after={"email": row.email, "role": row.role, "status": REVOKED},
        )
        return InvitationInfo.of(row, now)


def _usable(s: Session, token: str, user_id: str, now: datetime) -> tuple[Invitation, Tenant, User]:
    """The pending invitation of this token addressed to this (active) user, else the one error."""
    found = s.execute(
        select(Invitation, Tenant, User)
        .join(Tenant, Tenant.id == Invitation.tenant_id)
        .join(User, User.email == Invitation.email)
        .where(
            Invitation.token_digest == token_digest(token),
            User.id == user_id,
            User.status == ACTIVE,
            *_pending(now),
        )
    ).first()
    if found is None:
        raise NotFound(INVALID_MESSAGE, code="invitation_invalid")
    return found[0], found[1], found[2]


def offer(engine: Engine, token: str, user_id: str) -> Offer:
    """What the token offers this user, without accepting it (the console shows it before "Accept").

    System scope: the token, not the caller, names the tenant.
    """
    with system_session(engine, "invitation lookup by token digest") as s:
        row, tenant, _ = _usable(s, token, user_id, utcnow())
        return Offer(row.id, tenant.slug, tenant.name, row.role)


def accept(engine: Engine, token: str, user_id: str) -> Offer:
    """Spend the invitation and make the user a member with its role.

    System scope: the token names the tenant (looked up by its digest across tenants). The spend is one
    conditional update, so of two concurrent accepts only one finds the invitation still pending.
    """
    now = utcnow()
    try:
        with system_session(engine, "accepting an invitation: the token names the tenant") as s:
            row, tenant, user = _usable(s, token, user_id, now)
            spent = s.execute(
                update(Invitation)
                .where(Invitation.id == row.id, Invitation.tenant_id == row.tenant_id, *_pending(now))
                .values(accepted_at=now)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound(INVALID_MESSAGE, code="invitation_invalid")
            s.add(Membership(tenant_id=tenant.id, user_id=user.id, role=row.role))
            s.flush()
            after = {"email": user.email, "role": row.role}
            record_action(
                s, tenant.id, "invitation.accept", "invitation", row.id, after={**after, "user_id": user.id}
            )
            record_action(
                s, tenant.id, "member.add", "user", user.id, after=after, details={"invitation": row.id}
            )
            return Offer(row.id, tenant.slug, tenant.name, row.role)
    except IntegrityError as exc:
        raise Conflict("you are already a member of this shop", {"field": "token"}) from exc
