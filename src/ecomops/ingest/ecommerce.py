"""Segment E-commerce spec events → ``orders`` / ``order_items`` / ``refunds`` rows.

Validation runs at the edge (so a bad order is rejected with its field, not lost in the
loader); derivation runs in the loader on the few order events of each load, with Decimal
arithmetic so totals never pass through floats.

Rules (documented in docs/ingest.md):
- ``Order Completed`` upserts the order (status ``paid``) and replaces its items.
  total = ``total`` else ``revenue`` + shipping + tax else Σ price×quantity − discount + shipping + tax;
  subtotal = ``subtotal`` else Σ price×quantity else total.
- ``Order Refunded`` adds a refund: ``total``/``revenue`` if given, else Σ price×quantity of the
  listed products, else the whole order total; status becomes ``refunded`` once refunds reach the total,
  ``partially_refunded`` before.
- ``Order Cancelled`` sets status ``cancelled``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from ecomops.kernel.ids import stable_id

ORDER_EVENTS = ("Order Completed", "Order Refunded", "Order Cancelled")
ZERO = Decimal("0")
_Q = Decimal("0.0001")
_MAX = Decimal("99999999999999.9999")
Id = str | int


class ProductLine(msgspec.Struct, kw_only=True):
    product_id: Id | None = None
    sku: Id | None = None
    name: str | None = None
    category: str | None = None
    price: Decimal | None = None
    quantity: int = 1


class OrderProperties(msgspec.Struct, kw_only=True):
    order_id: Id
    total: Decimal | None = None
    revenue: Decimal | None = None
    subtotal: Decimal | None = None
    discount: Decimal | None = None
    shipping: Decimal | None = None
    tax: Decimal | None = None
    coupon: str | None = None
    currency: str | None = None
    live_session_id: Id | None = None
    products: list[ProductLine] = []


#: JSON numbers decode straight to Decimal from their text: order money never passes through a float.
_order_decoder = msgspec.json.Decoder(OrderProperties)
MAX_QUANTITY = 2_147_483_647  # order_items.quantity is INTEGER


@dataclass(frozen=True)
class Amounts:
    lines_sum: Decimal
    subtotal: Decimal
    discount: Decimal
    shipping: Decimal
    tax: Decimal
    total: Decimal


def amounts(props: OrderProperties) -> Amounts:
    """The order's money, by the documented rules; shared by edge validation and derivation."""
    lines_sum = sum((_q((p.price or ZERO) * p.quantity) for p in props.products), ZERO)
    discount, shipping, tax = props.discount or ZERO, props.shipping or ZERO, props.tax or ZERO
    if props.total is not None:
        total = props.total
    elif props.revenue is not None:
        total = props.revenue + shipping + tax
    else:
        total = lines_sum - discount + shipping + tax
    subtotal = props.subtotal if props.subtotal is not None else (lines_sum if props.products else total)
    return Amounts(lines_sum, subtotal, discount, shipping, tax, total)


def parse_order_properties(raw: bytes | str) -> OrderProperties:
    return _order_decoder.decode(raw)


def validate_order_properties(event: str, raw: bytes) -> str | None:
    """Return ``None`` when valid, else ``"reason|$.path"`` for the caller to report.

    Everything the loader will compute must fit its column here, at the edge: a value that only
    failed at load time would be acknowledged and then never stored."""
    try:
        parsed = parse_order_properties(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        reason, _, loc = str(exc).partition(" - at `")
        path = loc.rstrip("`")
        return f"{event}: {reason}|$.properties{path[1:] if path.startswith('$') else ''}"
    if str(parsed.order_id) == "":
        return f"{event}: order_id must not be empty|$.properties.order_id"
    if parsed.currency is not None and not (len(parsed.currency) == 3 and parsed.currency.isalpha()):
        return f"{event}: currency must be a 3-letter ISO 4217 code|$.properties.currency"
    for name in ("total", "revenue", "subtotal", "discount", "shipping", "tax"):
        value = getattr(parsed, name)
        if value is not None and (not value.is_finite() or abs(value) > _MAX):
            return f"{event}: {name} out of range for DECIMAL(18,4)|$.properties.{name}"
    for i, line in enumerate(parsed.products):
        if line.quantity <= 0 or line.quantity > MAX_QUANTITY:
            return (
                f"{event}: quantity must be between 1 and {MAX_QUANTITY}|$.properties.products[{i}].quantity"
            )
        if line.price is not None and (not line.price.is_finite() or line.price < 0 or line.price > _MAX):
            return f"{event}: price must be a non-negative amount|$.properties.products[{i}].price"
        if (line.price or ZERO) * line.quantity > _MAX:
            return f"{event}: price × quantity out of range for DECIMAL(18,4)|$.properties.products[{i}]"
    money = amounts(parsed)
    for name in ("lines_sum", "subtotal", "total"):
        if abs(getattr(money, name)) > _MAX:
            what = name.replace("_", " ")
            return f"{event}: the order's {what} is out of range for DECIMAL(18,4)|$.properties"
    if sum(line.quantity for line in parsed.products) > MAX_QUANTITY:
        return f"{event}: total quantity out of range|$.properties.products"
    return None


@dataclass
class OrderEvent:
    """The columns of an ``events`` row the derivation needs."""

    message_id: str
    event: str
    ts: datetime
    user_id: str | None
    anonymous_id: str | None
    source_id: str | None
    channel: str | None
    country: str | None
    region: str | None
    city: str | None
    device: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    properties: str | None


@dataclass
class Derived:
    orders: list[dict[str, Any]]
    items: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    cancelled: list[str]


def _q(value: Decimal) -> Decimal:
    return value.quantize(_Q)


def derive(events: list[OrderEvent], default_currency: str) -> Derived:
    out = Derived([], [], [], [])
    #: An order completed again replaces its lines: only the latest completion's items survive.
    items_by_order: dict[str, list[dict[str, Any]]] = {}
    for ev in sorted(events, key=lambda e: e.ts):
        props = parse_order_properties(ev.properties or "{}")
        order_id = str(props.order_id)
        currency = (props.currency or default_currency).upper()
        money = amounts(props)
        lines_sum = money.lines_sum
        if ev.event == "Order Completed":
            discount, shipping, tax, total, subtotal = (
                money.discount,
                money.shipping,
                money.tax,
                money.total,
                money.subtotal,
            )
            out.orders.append(
                {
                    "order_id": order_id,
                    "external_id": order_id,
                    "source": ev.source_id,
                    "channel": ev.channel,
                    "customer_id": ev.user_id,
                    "anonymous_id": ev.anonymous_id,
                    "status": "paid",
                    "ordered_at": ev.ts,
                    "paid_at": ev.ts,
                    "currency": currency,
                    "subtotal": _q(subtotal),
                    "discount": _q(discount),
                    "shipping": _q(shipping),
                    "tax": _q(tax),
                    "total": _q(total),
                    "coupon": props.coupon,
                    "items_count": sum(p.quantity for p in props.products),
                    "country": ev.country,
                    "region": ev.region,
                    "city": ev.city,
                    "device": ev.device,
                    "utm_source": ev.utm_source,
                    "utm_medium": ev.utm_medium,
                    "utm_campaign": ev.utm_campaign,
                    "live_session_id": str(props.live_session_id)
                    if props.live_session_id is not None
                    else None,
                    "properties": ev.properties,
                }
            )
            lines = items_by_order[order_id] = []
            for n, p in enumerate(props.products):
                price = p.price or ZERO
                lines.append(
                    {
                        "item_id": stable_id("event-order", order_id, n),
                        "order_id": order_id,
                        "product_id": str(p.product_id) if p.product_id is not None else None,
                        "sku": str(p.sku) if p.sku is not None else None,
                        "name": p.name,
                        "category": p.category,
                        "quantity": p.quantity,
                        "unit_price": _q(price),
                        "discount": ZERO,
                        "line_total": _q(price * p.quantity),
                        "currency": currency,
                        "ordered_at": ev.ts,
                    }
                )
        elif ev.event == "Order Refunded":
            amount = props.total if props.total is not None else props.revenue
            if amount is None and props.products:
                amount = lines_sum
            out.refunds.append(
                {
                    "refund_id": stable_id("event-refund", ev.message_id),
                    "order_id": order_id,
                    "product_id": (
                        str(props.products[0].product_id)
                        if len(props.products) == 1 and props.products[0].product_id is not None
                        else None
                    ),
                    "sku": None,
                    "quantity": sum(p.quantity for p in props.products) or None,
                    # None = whole order: resolved against the stored order total in SQL.
                    "amount": _q(amount) if amount is not None else None,
                    "currency": currency,
                    "reason": None,
                    "source": ev.source_id,
                    "refunded_at": ev.ts,
                }
            )
        elif ev.event == "Order Cancelled":
            out.cancelled.append(order_id)
    out.items = [item for lines in items_by_order.values() for item in lines]
    return out
