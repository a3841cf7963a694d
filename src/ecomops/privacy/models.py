"""The PII vault, consents, privacy requests, marketing suppressions and retention policies.

Tables of the privacy module; every row carries ``tenant_id`` (FK to ``tenants``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id
from ecomops.platform.store.models import Base, UTCDateTime


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
