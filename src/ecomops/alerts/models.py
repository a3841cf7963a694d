"""Alert rules and their firings.

Tables of the alerts module; every row carries ``tenant_id`` (FK to ``tenants``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id
from ecomops.platform.store.models import Base, UTCDateTime


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
