"""People: user accounts, their console sessions, MFA recovery codes and tenant memberships.

Tables of the security module; every row carries ``tenant_id`` (FK to ``tenants``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id
from ecomops.platform.store.models import Base, UTCDateTime


class User(Base):
    """A person who signs in; not tenant-scoped (one account may belong to several tenants).

    ``email`` is stored lower-cased so uniqueness holds whatever case people type; the password is
    an argon2id hash (``security.accounts``), never the password itself.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("usr_"))
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: TOTP secret sealed under the system data key (``security.keyring``); set at enrolment start.
    mfa_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: When enrolment was confirmed with a valid code; MFA is on only once this is set.
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Last accepted TOTP time step: a code is never accepted twice (replay within its 30 s window).
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: The colour of a rise in the console, ``red`` or ``green`` (a fall takes the other); NULL follows the
    #: language (zh-CN: red, the A-share convention; English: green).
    rise_colour: Mapped[str | None] = mapped_column(String(10))


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored here.

    ``stage`` is ``mfa`` (password accepted, code pending), ``enroll`` (policy requires MFA the user
    has not set up yet) or ``active``. ``mfa_at`` is the last TOTP verification, for step-up.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    stage: Mapped[str] = mapped_column(String(10), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    mfa_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mfa_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class RecoveryCode(Base):
    """One-time MFA recovery code, stored as SHA-256 (80 random bits: not guessable offline)."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rc_"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Membership(Base):
    """A user's role in one tenant; at most one membership (one role) per user and tenant."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        Index("ix_memberships_user", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("mem_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class LoginThrottle(Base):
    """Sign-in attempts of one e-mail (as typed, account or not) from one client address
    (``security.throttle``); no tenant: accounts are platform-wide."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_updated_at", "updated_at"),)

    #: SHA-256 of the normalised e-mail (the address itself is not kept for addresses that are no account).
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Attempts since the last success or lock, counted before the password is checked.
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: Locks so far: each lasts twice as long as the one before, up to the configured lockout.
    locks: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Invitation(Base):
    """An offer of a role in one tenant to whoever signs in with ``email`` and presents the token.

    Members join only this way from the API, console and CLI, so the answer to "add this e-mail" never
    depends on whether the platform has an account for it. ``email`` is normalised the way ``users.email``
    is (lower-cased, trimmed) and kept like it, so the tenant's admins can see whom they invited; the
    link's token is random and only its SHA-256 is stored, like console session tokens.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_tenant_created", "tenant_id", "created_at"),
        Index("ix_invitations_tenant_email", "tenant_id", "email"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("inv_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    #: The audit actor who invited (``user:…``, ``key:…``, ``cli:…``): invitations outlive sessions and keys.
    invited_by: Mapped[str] = mapped_column(String(200), nullable=False)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
