"""The FX table of a tenant: dated rates from a currency into the tenant's currency.

One row per (currency, valid_from): a rate is in effect from its local day until the next row of the
same currency. Rows carry ``tenant_id`` (FK to ``tenants``) like every tenant-owned table."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ecomops.kernel.clock import utcnow
from ecomops.kernel.ids import new_id
from ecomops.platform.store.models import Base, UTCDateTime

#: Rates keep 8 decimal places (1 JPY = 0.04812345 CNY); money stays DECIMAL(18,4).
RATE = Numeric(18, 8)


class FxRate(Base):
    __tablename__ = "fx_rates"
    __table_args__ = (UniqueConstraint("tenant_id", "currency", "valid_from"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("fx_"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    rate: Mapped[Decimal] = mapped_column(RATE, nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
