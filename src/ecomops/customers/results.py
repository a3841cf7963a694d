"""What the customers API answers: typed results that the service returns, the API serialises (its
``response_model``), the CLI decodes from the server or gets from the service, and the console reads.

Spend and order totals are ``Decimal`` rounded to cents (JSON: ``"120.50"``, as the API always
answered); times are ``datetime``. PII is a :class:`PiiView`: masked unless the caller revealed it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class PiiView(_Result):
    """Vault fields present for the customer; masked unless revealed."""

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    birthday: str | None = None


class _CustomerFacts(_Result):
    """What a list row and a profile both show (fields in this order in both answers)."""

    customer_id: str
    source: str | None
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    signup_at: datetime | None
    channel: str | None
    country: str | None
    region: str | None
    city: str | None


class CustomerSummary(_CustomerFacts):
    orders_count: int
    spend: Decimal = Field(description="Sum of non-cancelled order totals, as a decimal string")
    last_order_at: datetime | None
    pii: PiiView | None
    first_order_at: datetime | None = None
    aov: Decimal | None = Field(None, description="Average value of the non-cancelled orders")
    currency: str | None = Field(None, description="The orders' currency when they all share one")


class CustomerPage(_Result):
    items: list[CustomerSummary]
    total: int
    limit: int
    offset: int


class OrderBrief(_Result):
    order_id: str
    external_id: str | None
    ordered_at: datetime
    status: str
    channel: str | None
    currency: str
    total: Decimal
    items_count: int


class OrdersSummary(_Result):
    orders_count: int
    spend: Decimal
    refunded_orders: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    currency: str | None
    recent: list[OrderBrief]


class CustomerProfile(_CustomerFacts):
    attributes: Any = None
    orders: OrdersSummary
    pii: PiiView | None


class ConsentView(_Result):
    id: str
    customer_id: str
    purpose: str
    granted: bool
    source: str
    recorded_by: str
    recorded_at: datetime


class EligibilityView(_Result):
    allowed: bool
    reason: str


class CustomerConsents(_Result):
    """A customer's current consent per purpose, the full history and marketing eligibility."""

    customer_id: str
    current: dict[str, ConsentView]
    history: list[ConsentView]
    marketing: dict[str, EligibilityView]
