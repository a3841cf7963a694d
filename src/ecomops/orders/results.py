"""What the orders explorer answers: typed results that the service returns, the API serialises (its
``response_model``), the CLI decodes from the server or gets from the service, and the console reads.

Money is ``Decimal`` (JSON: the decimal string, e.g. ``"518.5000"``, as the API always answered) and
times are ``datetime`` (JSON: ISO 8601). Frozen: a result is a snapshot of the warehouse, not a form.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrderSummary(_Result):
    """One row of the list."""

    order_id: str
    external_id: str | None
    ordered_at: datetime
    status: str
    channel: str | None
    source: str | None
    customer_id: str | None
    currency: str
    total: Decimal = Field(description="Decimal string")
    discount: Decimal
    coupon: str | None
    items_count: int
    country: str | None
    region: str | None
    city: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None


class OrderPage(_Result):
    items: list[OrderSummary]
    total: int = Field(description="Orders matching the filters, all pages")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    limit: int
    filters: dict[str, str]


class OrderItem(_Result):
    item_id: str
    product_id: str | None
    sku: str | None
    name: str | None
    name_en: str | None = Field(None, description="The catalogue's English name, when it has one")
    name_zh: str | None = Field(None, description="The catalogue's Chinese name, when it has one")
    category: str | None
    quantity: int
    unit_price: Decimal
    discount: Decimal
    line_total: Decimal
    currency: str


class OrderRefund(_Result):
    refund_id: str
    product_id: str | None
    sku: str | None
    quantity: int | None
    amount: Decimal | None
    currency: str
    reason: str | None
    source: str | None
    refunded_at: datetime


class OrderPayment(_Result):
    payment_id: str
    sequential: int | None
    payment_type: str | None
    installments: int | None
    amount: Decimal
    currency: str


class LiveSessionBrief(_Result):
    live_session_id: str
    channel: str
    host: str | None
    title: str | None
    started_at: datetime
    ended_at: datetime | None
    peak_viewers: int | None


class OrderDetail(OrderSummary):
    """An order with its lines, refunds, payments and (live-commerce orders) the live session."""

    anonymous_id: str | None
    paid_at: datetime | None
    subtotal: Decimal
    shipping: Decimal
    tax: Decimal
    device: str | None
    live_session_id: str | None
    loaded_at: datetime | None
    items: list[OrderItem]
    refunds: list[OrderRefund]
    payments: list[OrderPayment]
    refunded_total: Decimal
    live_session: LiveSessionBrief | None
