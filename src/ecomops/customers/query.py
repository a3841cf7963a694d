"""What the customer list is narrowed and ordered by: search, filters, sort, and the SQL they make.

Search (``q``) never reads personal data in clear: an address with ``@`` is looked up as an email and a
phone-like value (digits with ``+``, spaces, dashes, brackets) as a phone, both through the vault's
blind indexes (exact match on the normalised value, as a keyed hash can only match exactly), and only
by callers who may read PII; anything else matches the pseudonymous customer id as a substring (ids are
not personal data, so a partial match leaks nothing). Names have no blind index in the vault, so they
are not searchable.

Filters are on the warehouse's attributes and order aggregates: channel, country, region and city
exactly; first and last order dates as calendar days in the shop's time zone (half-open UTC intervals
here, like the orders explorer); orders count and spend ranges (inclusive). The SQL text assembled here
is a fixed set of fragments chosen by which filters are set and a sort column chosen from a fixed
map; every value travels as a parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ecomops.kernel.errors import ValidationFailed

#: Longest search or filter text accepted.
MAX_TEXT = 200
#: ``sort`` values and the aggregate column each orders by.
SORTS = {
    "last_seen": "last_seen_at",
    "first_seen": "first_seen_at",
    "signup": "signup_at",
    "customer_id": "customer_id",
    "channel": "channel",
    "country": "country",
    "region": "region",
    "city": "city",
    "orders": "orders_count",
    "spend": "spend",
    "aov": "aov",
    "first_order": "first_order_at",
    "last_order": "last_order_at",
}
SortKey = Literal[
    "last_seen",
    "first_seen",
    "signup",
    "customer_id",
    "channel",
    "country",
    "region",
    "city",
    "orders",
    "spend",
    "aov",
    "first_order",
    "last_order",
]
DEFAULT_SORT = "last_seen"
Direction = Literal["asc", "desc"]
#: Exact-match attribute filters: column name = filter name.
ATTRIBUTE_FILTERS = ("channel", "country", "region", "city")
_PHONE = re.compile(r"^\+?[\d\s\-().]{5,40}$")

#: One row per customer: warehouse attributes joined with order aggregates (spend and AOV count the
#: orders that are not cancelled; ``currency`` is the orders' currency when they all share one).
AGGREGATE_SQL = """
WITH o AS (
    SELECT customer_id, count(*) AS orders_count,
           coalesce(sum(total) FILTER (WHERE status <> 'cancelled'), 0) AS spend,
           count(*) FILTER (WHERE status <> 'cancelled') AS kept_orders,
           min(ordered_at) AS first_order_at, max(ordered_at) AS last_order_at,
           CASE WHEN count(DISTINCT currency) = 1 THEN min(currency) END AS currency
    FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id
)
SELECT c.customer_id, c.source, c.first_seen_at, c.last_seen_at, c.signup_at, c.channel, c.country,
       c.region, c.city, coalesce(o.orders_count, 0) AS orders_count, coalesce(o.spend, 0) AS spend,
       CASE WHEN o.kept_orders > 0 THEN o.spend / o.kept_orders END AS aov,
       o.first_order_at, o.last_order_at, o.currency
FROM customers c LEFT JOIN o ON o.customer_id = c.customer_id
"""


def day_start(day: date, timezone: str) -> datetime:
    """The UTC instant at which ``day`` starts in the shop's time zone."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def search_kind(q: str) -> Literal["email", "phone", "customer_id"]:
    """What a free-text search looks up: an email, a phone, or (anything else) part of a customer id."""
    if "@" in q:
        return "email"
    if _PHONE.match(q) and sum(ch.isdigit() for ch in q) >= 5:
        return "phone"
    return "customer_id"


@dataclass(frozen=True)
class CustomerQuery:
    """Search, filters and order of the customer list; ``None`` means "any"."""

    q: str | None = None
    email: str | None = None
    phone: str | None = None
    channel: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    first_order_from: date | None = None
    first_order_to: date | None = None  # inclusive
    last_order_from: date | None = None
    last_order_to: date | None = None  # inclusive
    min_orders: int | None = None
    max_orders: int | None = None
    min_spend: Decimal | None = None
    max_spend: Decimal | None = None
    sort: str = DEFAULT_SORT
    order: Direction = "desc"

    def validate(self) -> None:
        """422 naming the field for anything out of range or contradictory."""
        for name in ("q", "email", "phone", *ATTRIBUTE_FILTERS):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= MAX_TEXT:
                raise ValidationFailed(f"{name} must be 1..{MAX_TEXT} characters", {"field": name})
        if self.sort not in SORTS:
            raise ValidationFailed(
                f"sort must be one of {', '.join(SORTS)}, got {self.sort!r}", {"field": "sort"}
            )
        if self.order not in ("asc", "desc"):
            raise ValidationFailed(f"order must be asc or desc, got {self.order!r}", {"field": "order"})
        for name in ("min_orders", "max_orders"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 10**9:
                raise ValidationFailed(f"{name} must be 0..1000000000, got {value}", {"field": name})
        for name in ("min_spend", "max_spend"):
            value = getattr(self, name)
            if value is not None and (not value.is_finite() or not 0 <= value <= Decimal("1e14")):
                raise ValidationFailed(f"{name} must be a non-negative amount, got {value}", {"field": name})
        for low, high in (
            ("first_order_from", "first_order_to"),
            ("last_order_from", "last_order_to"),
            ("min_orders", "max_orders"),
            ("min_spend", "max_spend"),
        ):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValidationFailed(f"{low} {a} is after {high} {b}", {"field": low})

    @property
    def pii_search(self) -> list[str]:
        """Which personal fields this query looks customers up by (each needs customers:read_pii)."""
        by = [name for name in ("email", "phone") if getattr(self, name) is not None]
        if self.q is not None and search_kind(self.q) != "customer_id":
            by.append(search_kind(self.q))
        return sorted(set(by))

    def vault_lookup(self) -> tuple[str | None, str | None]:
        """(email, phone) to find in the vault, from the explicit fields and the search box."""
        email, phone = self.email, self.phone
        if self.q is not None:
            kind = search_kind(self.q)
            if kind == "email":
                email = email if email is not None else self.q
            elif kind == "phone":
                phone = phone if phone is not None else self.q
        return email, phone

    def active(self) -> dict[str, str]:
        """The parameters that differ from the defaults, as strings (links, the audit record)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != f.default:
                out[f.name] = str(value)
        return out


def where(query: CustomerQuery, timezone: str, ids: list[str] | None) -> tuple[str, list[Any]]:
    """The ``WHERE`` over :data:`AGGREGATE_SQL`'s columns (``ids``: the vault's matches, if searched)."""
    clauses: list[str] = []
    params: list[Any] = []
    if ids is not None:
        clauses.append("customer_id IN (SELECT unnest(?))")
        params.append(ids)
    if query.q is not None and search_kind(query.q) == "customer_id":
        clauses.append("contains(lower(customer_id), lower(?))")
        params.append(query.q)
    for name in ATTRIBUTE_FILTERS:
        value = getattr(query, name)
        if value is not None:
            clauses.append(f"{name} = ?")
            params.append(value)
    for column, low, high in (
        ("first_order_at", query.first_order_from, query.first_order_to),
        ("last_order_at", query.last_order_from, query.last_order_to),
    ):
        if low is not None:
            clauses.append(f"{column} >= ?")
            params.append(day_start(low, timezone))
        if high is not None:
            clauses.append(f"{column} < ?")
            params.append(day_start(high + timedelta(days=1), timezone))
    ranges: tuple[tuple[str, Any, Any], ...] = (
        ("orders_count", query.min_orders, query.max_orders),
        ("spend", query.min_spend, query.max_spend),
    )
    for column, least, most in ranges:
        if least is not None:
            clauses.append(f"{column} >= ?")
            params.append(least)
        if most is not None:
            clauses.append(f"{column} <= ?")
            params.append(most)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def order_by(query: CustomerQuery) -> str:
    """The sort column (from the fixed map) in the asked direction; missing values last, id breaks ties."""
    direction = "ASC" if query.order == "asc" else "DESC"
    return f" ORDER BY {SORTS[query.sort]} {direction} NULLS LAST, customer_id {direction}"
