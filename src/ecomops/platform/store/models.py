"""Operational tables. Every tenant-owned table carries ``tenant_id`` (FK to tenants)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id

MONEY = Numeric(18, 4)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that stores UTC and always reads back an aware UTC datetime.

    PostgreSQL keeps the offset, but SQLite stores the wall-clock text without it and reads back a
    naive value: the same row would compare differently per backend, and a non-UTC aware value
    would be stored as the wrong instant. Converting on the way in and out makes both behave alike.
    Migrations render it as ``sa.DateTime(timezone=True)`` (see ``migrations/env.py``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store aware UTC datetimes (kernel.clock.utcnow)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("tn_"))
    slug: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    currency: Mapped[str] = mapped_column(String(3), nullable=False, default="USD")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    #: Owners and admins must sign in with a second factor (the default; an owner may relax it).
    require_mfa: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())


class Source(Base):
    """An event source (site, mini program, platform) with its ingest write key (stored hashed)."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("src_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[str] = mapped_column(String(40), nullable=False)
    write_key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    write_key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("tenant_id", "sku"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prd_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    sku: Mapped[str] = mapped_column(String(100), nullable=False)
    name: Mapped[str] = mapped_column(String(500), nullable=False)
    category: Mapped[str | None] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    cost: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active")
    attributes: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Warehouse(Base):
    __tablename__ = "warehouses"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("wh_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    code: Mapped[str] = mapped_column(String(50), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    region: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class StockLevel(Base):
    """On-hand and reserved units per product and warehouse; changed only by conditional UPDATEs."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "warehouse_id"),
        Index("ix_stock_levels_tenant_product", "tenant_id", "product_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("stk_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    warehouse_id: Mapped[str] = mapped_column(ForeignKey("warehouses.id", ondelete="CASCADE"), nullable=False)
    on_hand: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class ApiKey(Base):
    """Management API key: shown once, stored as SHA-256, scoped to one tenant and a role."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("key_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    key_prefix: Mapped[str] = mapped_column(String(24), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ImportJob(Base):
    """A bulk import run: its inputs, progress and summary survive restarts for the status endpoint."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("imp_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    preset: Mapped[str] = mapped_column(String(40), nullable=False)
    files: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="queued")
    bytes_total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    summary: Mapped[dict[str, object] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    """One entry of a tenant's hash-chained audit log (see ``ecomops.audit.service``).

    ``seq`` numbers each tenant's records 1, 2, 3…; ``prev_hash`` repeats the ``hash`` of the
    record before, and ``hash`` is an HMAC over the record's content and ``prev_hash``. Rows are
    only ever inserted: any edit, deletion, insertion or reordering breaks the chain at that point.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_audit_log_tenant_at", "tenant_id", "at"),
        Index("ix_audit_log_tenant_action", "tenant_id", "action"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("aud_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    target_type: Mapped[str] = mapped_column(String(50), nullable=False)
    target_id: Mapped[str] = mapped_column(String(200), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(100))
    before_digest: Mapped[str | None] = mapped_column(String(64))
    after_digest: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


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
    #: Consecutive failed sign-ins; reaching the limit sets ``locked_until``.
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


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


class TenantKey(Base):
    """A tenant's secret key, wrapped (AES-GCM) under the key-encryption key derived from the master key.

    ``purpose`` is ``data`` (versioned: encrypts PII; the newest unretired version takes new writes),
    ``index`` (blind indexes) or ``pseudonym`` (warehouse pseudonyms). ``kek_id`` fingerprints the
    master key the row is wrapped under, so a process holding another master fails with a clear message.
    """

    __tablename__ = "tenant_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "purpose", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("tkey_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    kek_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SystemKey(Base):
    """A key that belongs to no tenant (e.g. the one sealing users' TOTP secrets); wrapped like TenantKey."""

    __tablename__ = "system_keys"
    __table_args__ = (UniqueConstraint("purpose", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("skey_"))
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    kek_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CustomerPII(Base):
    """A customer's personal data, one AES-GCM ciphertext per field (``privacy.vault``).

    ``customer_id`` is the warehouse's pseudonymous id; the warehouse never holds these fields. The
    blind indexes (keyed HMACs of the normalised email / phone) allow exact-match lookup without
    decrypting every row.
    """

    __tablename__ = "customer_pii"
    __table_args__ = (
        UniqueConstraint("tenant_id", "customer_id"),
        Index("ix_customer_pii_email_bidx", "tenant_id", "email_bidx"),
        Index("ix_customer_pii_phone_bidx", "tenant_id", "phone_bidx"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pii_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    customer_id: Mapped[str] = mapped_column(String(200), nullable=False)
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    first_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    birthday_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_bidx: Mapped[str | None] = mapped_column(String(64))
    phone_bidx: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Consent(Base):
    """One consent decision (``privacy.consents``): rows are only appended, the latest per purpose wins.

    Keeping every decision (not just the current state) is what lets a shop show when and how a
    customer agreed or withdrew, which GDPR art. 7(1) and PIPL art. 14 ask the shop to prove.
    """

    __tablename__ = "consents"
    __table_args__ = (
        Index("ix_consents_tenant_customer", "tenant_id", "customer_id", "purpose", "recorded_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cns_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    customer_id: Mapped[str] = mapped_column(String(200), nullable=False)
    purpose: Mapped[str] = mapped_column(String(40), nullable=False)
    granted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    source: Mapped[str] = mapped_column(String(40), nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class PrivacyRequest(Base):
    """A data-subject request (export or erasure) and its outcome (``privacy.requests``).

    ``summary`` holds counts only, never personal data. ``bundle`` is the export's JSON sealed with the
    tenant's data key (it contains PII), kept until ``bundle_expires_at`` and removed by retention.
    """

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prq_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    lookup: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, object] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    bundle: Mapped[bytes | None] = mapped_column(LargeBinary)
    bundle_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MarketingSuppression(Base):
    """An erased person's email or phone, as the vault's blind index only, barred from marketing.

    A re-import or re-identify of the same address creates a new customer id; this record is what
    keeps that new id out of marketing without keeping the address itself.
    """

    __tablename__ = "marketing_suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "blind_index"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sup_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    blind_index: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(40), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class RetentionPolicy(Base):
    """How long a tenant keeps raw events, dead letters and import reject files (``privacy.retention``).

    A NULL number of days keeps that kind of data forever (the default: deleting is opt-in).
    """

    __tablename__ = "retention_policies"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    events_days: Mapped[int | None] = mapped_column(Integer)
    events_action: Mapped[str] = mapped_column(String(12), nullable=False, default="anonymise")
    dead_letters_days: Mapped[int | None] = mapped_column(Integer)
    reject_files_days: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_summary: Mapped[dict[str, object] | None] = mapped_column(JSON)


class AlertRule(Base):
    """A tenant's alert rule on a catalogue metric or on product stock cover (``ecomops.alerts``).

    ``threshold`` is an absolute value (``above``/``below``), a percentage (``drop``/``rise`` against
    ``compare_to``) or days of stock cover (``kind = stock``). ``webhook_secret`` is the HMAC signing
    secret sealed with the tenant's data key: it must be recoverable to sign, so it is not hashed.
    """

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("alr_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    metric: Mapped[str | None] = mapped_column(String(40))
    breakdown: Mapped[str | None] = mapped_column(String(40))
    breakdown_value: Mapped[str | None] = mapped_column(String(200))
    window: Mapped[str] = mapped_column(String(10), nullable=False)
    condition: Mapped[str] = mapped_column(String(10), nullable=False)
    compare_to: Mapped[str | None] = mapped_column(String(20))
    threshold: Mapped[Decimal] = mapped_column(Numeric(24, 6), nullable=False)
    volume_metric: Mapped[str | None] = mapped_column(String(40))
    min_volume: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cooldown_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(30))
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertEvent(Base):
    """One firing of a rule (or a test delivery) and the state of its webhook delivery."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_tenant_fired", "tenant_id", "fired_at"),
        Index("ix_alert_events_rule_fired", "rule_id", "fired_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ale_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    period: Mapped[str] = mapped_column(String(60), nullable=False)
    value: Mapped[Decimal | None] = mapped_column(Numeric(24, 6))
    baseline: Mapped[Decimal | None] = mapped_column(Numeric(24, 6))
    message: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
