"""Customers: warehouse attributes and order aggregates joined with the PII vault.

The warehouse knows customers only by pseudonymous id; names, emails and phones come from the vault
(``privacy.vault``), masked unless the caller may and asks to reveal them. Looking customers up by
email or phone goes through the vault's blind indexes, so the warehouse never sees the address.

Each use case (``find_customers``, ``find_customer``, ``customer_consents``) is one function that the
API, the CLI (here or through the server) and the console call; it returns the typed results of
``customers.results`` and audits revealed PII itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
from sqlalchemy import Engine

from ecomops.customers.results import (
    ConsentView,
    CustomerConsents,
    CustomerPage,
    CustomerProfile,
    CustomerSummary,
    EligibilityView,
    PiiView,
)
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.audit import record_action
from ecomops.platform.context import TenantInfo
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.web.state import AppState
from ecomops.privacy import service as vault

MAX_PAGE = 500
RECENT_ORDERS = 10

_CUSTOMER_COLUMNS = (
    "customer_id",
    "source",
    "first_seen_at",
    "last_seen_at",
    "signup_at",
    "channel",
    "country",
    "region",
    "city",
    "orders_count",
    "spend",
    "last_order_at",
)
_AGG_SQL = """
WITH o AS (
    SELECT customer_id, count(*) AS orders_count,
           coalesce(sum(total) FILTER (WHERE status <> 'cancelled'), 0) AS spend,
           max(ordered_at) AS last_order_at
    FROM orders WHERE customer_id IS NOT NULL GROUP BY customer_id
)
SELECT c.customer_id, c.source, c.first_seen_at, c.last_seen_at, c.signup_at, c.channel, c.country,
       c.region, c.city, coalesce(o.orders_count, 0) AS orders_count, coalesce(o.spend, 0) AS spend,
       o.last_order_at
FROM customers c LEFT JOIN o ON o.customer_id = c.customer_id
"""

Cursor = duckdb.DuckDBPyConnection
#: Opens a DuckDB connection on the tenant's warehouse and closes it when done.
CursorFactory = Callable[[], Cursor]


@dataclass(frozen=True)
class Viewer:
    """How PII is shown to this caller: ``reveal`` only after the permission check passed."""

    reveal: bool


def _money(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.01"))


def _rows(cur: Cursor, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    rel = cur.execute(sql, params)
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def _pii_view(fields: dict[str, str] | None, reveal: bool) -> PiiView | None:
    if fields is None:
        return None
    return PiiView.model_validate(dict(fields) if reveal else vault.mask_all(fields))


def list_customers(
    cur: Cursor,
    engine: Engine,
    tenant_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    email: str | None = None,
    phone: str | None = None,
    reveal: bool = False,
) -> CustomerPage:
    """One page of customers (most recently seen first) with order counts, spend and PII (masked or not)."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be 1..{MAX_PAGE}, got {limit}", {"field": "limit"})
    if offset < 0:
        raise ValidationFailed(f"offset must be >= 0, got {offset}", {"field": "offset"})
    where, params = "", []
    if email is not None or phone is not None:
        with tenant_session(engine, tenant_id) as session:
            ids = vault.find_customer_ids(session, tenant_id, email=email, phone=phone)
        if not ids:
            return CustomerPage(items=[], total=0, limit=limit, offset=offset)
        where, params = " WHERE c.customer_id IN (SELECT unnest(?))", [ids]
    total_row = cur.execute(f"SELECT count(*) FROM customers c{where}", params).fetchone()  # noqa: S608
    total = int(total_row[0]) if total_row else 0
    rows = _rows(
        cur,
        # Only the constant WHERE above is interpolated; values are parameters.
        _AGG_SQL + where + " ORDER BY c.last_seen_at DESC NULLS LAST, c.customer_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    with tenant_session(engine, tenant_id) as session:
        pii = vault.get_many(session, tenant_id, [r["customer_id"] for r in rows])
    items = []
    for row in rows:
        row["spend"] = _money(row["spend"])
        row["pii"] = _pii_view(pii.get(row["customer_id"]), reveal)
        items.append(CustomerSummary.model_validate(row))
    return CustomerPage(items=items, total=total, limit=limit, offset=offset)


def find_customers(
    state: AppState,
    tenant: TenantInfo,
    *,
    limit: int = 50,
    offset: int = 0,
    email: str | None = None,
    phone: str | None = None,
    reveal: bool = False,
    via: str,
) -> CustomerPage:
    """The "list customers" use case (API, CLI and console). A revealed page is audited here, whoever
    asked (``via``: session, api_key, local for the CLI through the server, cli without one); the
    caller has checked that it may reveal. A search by email or phone is audited too, found or not
    (``audit_lookup``): the answer alone tells whether someone is a customer of the shop."""
    with state.warehouses.get(tenant.id).reading() as cur:
        page = list_customers(
            cur, state.engine, tenant.id, limit=limit, offset=offset, email=email, phone=phone, reveal=reveal
        )
    if email is not None or phone is not None:
        by = [name for name, value in (("email", email), ("phone", phone)) if value is not None]
        audit_lookup(state.engine, tenant.id, by, page, via)
    if reveal:
        audit_reveal(state.engine, tenant.id, [i.customer_id for i in page.items if i.pii], via)
    return page


def find_customer(
    state: AppState, tenant: TenantInfo, customer_id: str, *, reveal: bool = False, via: str
) -> CustomerProfile:
    """The "show a customer" use case (API, CLI and console); a reveal is audited like the list's."""
    with state.warehouses.get(tenant.id).reading() as cur:
        profile = get_customer(cur, state.engine, tenant.id, customer_id, reveal=reveal)
    if reveal and profile.pii:
        audit_reveal(state.engine, tenant.id, [customer_id], via)
    return profile


def _consent(record: Any) -> ConsentView:
    return ConsentView.model_validate(record, from_attributes=True)


def customer_consents(state: AppState, tenant: TenantInfo, customer_id: str) -> CustomerConsents:
    """A customer's consents: the current decision per purpose, the history, marketing eligibility.

    An id this tenant has never seen is "not found", not an empty record: the same answer for another
    tenant's customer ids and for typos.
    """
    history = vault.consent_history(state.engine, tenant.id, customer_id)
    if not history:
        with state.warehouses.get(tenant.id).reading() as cur:
            known = customer_known(cur, state.engine, tenant.id, customer_id)
        if not known:
            raise NotFound(f"customer {customer_id!r} not found", {"customer_id": customer_id})
    return CustomerConsents(
        customer_id=customer_id,
        current={
            p: ConsentView.model_validate(r, from_attributes=True) for p, r in vault.latest(history).items()
        },
        history=[ConsentView.model_validate(r, from_attributes=True) for r in history],
        marketing={
            p: EligibilityView.model_validate(
                vault.marketing_allowed(state.engine, tenant.id, customer_id, p), from_attributes=True
            )
            for p in vault.MARKETING_PURPOSES
        },
    )


def customer_known(cur: Cursor, engine: Engine, tenant_id: str, customer_id: str) -> bool:
    """Does this tenant know the customer at all (warehouse profile, orders or vault entry)?"""
    hit = cur.execute(
        "SELECT 1 FROM customers WHERE customer_id = ? "
        "UNION ALL SELECT 1 FROM orders WHERE customer_id = ? LIMIT 1",
        [customer_id, customer_id],
    ).fetchone()
    if hit is not None:
        return True
    with tenant_session(engine, tenant_id) as session:
        return vault.get_pii(session, tenant_id, customer_id) is not None


def get_customer(
    cur: Cursor, engine: Engine, tenant_id: str, customer_id: str, *, reveal: bool
) -> CustomerProfile:
    """The profile: warehouse attributes, an orders summary with the latest orders, and PII."""
    found = _rows(cur, _AGG_SQL + " WHERE c.customer_id = ?", [customer_id])
    with tenant_session(engine, tenant_id) as session:
        pii = vault.get_pii(session, tenant_id, customer_id)
    if not found and pii is None:
        raise NotFound(f"customer {customer_id!r} not found", {"customer_id": customer_id})
    profile: dict[str, Any] = found[0] if found else {c: None for c in _CUSTOMER_COLUMNS}
    profile["customer_id"] = customer_id
    attrs = cur.execute("SELECT attributes FROM customers WHERE customer_id = ?", [customer_id]).fetchone()
    profile["attributes"] = attrs[0] if attrs else None
    summary = _rows(
        cur,
        """SELECT count(*) AS orders_count,
                  coalesce(sum(total) FILTER (WHERE status <> 'cancelled'), 0) AS spend,
                  count(*) FILTER (WHERE status IN ('refunded', 'partially_refunded')) AS refunded_orders,
                  min(ordered_at) AS first_order_at, max(ordered_at) AS last_order_at,
                  any_value(currency) AS currency
           FROM orders WHERE customer_id = ?""",
        [customer_id],
    )[0]
    summary["spend"] = _money(summary["spend"])
    recent = _rows(
        cur,
        """SELECT order_id, external_id, ordered_at, status, channel, currency, total, items_count
           FROM orders WHERE customer_id = ? ORDER BY ordered_at DESC, order_id LIMIT ?""",
        [customer_id, RECENT_ORDERS],
    )
    for order in recent:
        order["total"] = _money(order["total"])
    profile.pop("orders_count", None)
    profile.pop("spend", None)
    profile.pop("last_order_at", None)
    profile["orders"] = {**summary, "recent": recent}
    profile["pii"] = _pii_view(pii, reveal)
    return CustomerProfile.model_validate(profile)


def audit_lookup(engine: Engine, tenant_id: str, by: list[str], page: CustomerPage, via: str) -> None:
    """Every search by email or phone leaves a record naming the actor, whether it matched or not.

    Finding a customer by a known address is a read of personal data (it confirms that this person
    buys here), so it is accountable like a reveal; the searched value itself is not recorded (the
    audit log would become a second copy of the PII), only what was searched by and what it found."""
    found = [i.customer_id for i in page.items]
    target_type, target_id = ("customer", found[0]) if page.total == 1 and found else ("customers", "search")
    record_action(
        engine,
        tenant_id,
        "customer.pii_lookup",
        target_type,
        target_id,
        details={"via": via, "by": by, "matches": page.total, "customer_ids": found},
    )


def audit_reveal(engine: Engine, tenant_id: str, customer_ids: list[str], via: str) -> None:
    """Every clear-text read of PII leaves an audit record (one per customer profile, one per list page)."""
    if not customer_ids:
        return
    if len(customer_ids) == 1:
        record_action(
            engine, tenant_id, "customer.pii_read", "customer", customer_ids[0], details={"via": via}
        )
    else:
        record_action(
            engine,
            tenant_id,
            "customer.pii_read",
            "customers",
            f"{len(customer_ids)} customers",
            details={"via": via, "customer_ids": customer_ids},
        )
