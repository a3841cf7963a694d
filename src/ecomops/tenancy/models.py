"""Event sources (write keys) and management API keys of a tenant.

Tables of the tenancy module; every row carries ``tenant_id`` (FK to ``tenants``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id
from ecomops.platform.store.models import Base, UTCDateTime


class Source(Base):
    """An event source (site, mini program, platform) with its ingest write key (stored hashed)."""

    __tablename__ = "sources"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("previous_key_hash", name="uq_sources_previous_key_hash"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("src_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[str] = mapped_column(String(40), nullable=False)
    write_key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    write_key_prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: After a rotation, the old key keeps working until ``previous_key_expires_at`` (store branch
    #: ``tenancy_0001``).
    previous_key_hash: Mapped[str | None] = mapped_column(String(64))
    previous_key_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
