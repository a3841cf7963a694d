"""Customers: warehouse attributes and order aggregates joined with the PII vault.

The warehouse knows customers only by pseudonymous id; names, emails and phones come from the vault
(``privacy.vault``), masked unless the caller may and asks to reveal them. Looking customers up by
email or phone goes through the vault's blind indexes, so the warehouse never sees the address.

Each use case (``find_customers``, ``find_customer``, ``customer_consents``) is one function that the
API, the CLI (here or through the server) and the console call; it returns the typed results of
``customers.results`` and audits revealed PII itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import duckdb
from sqlalchemy import Engine

from ecomops.customers.query import AGGREGATE_SQL, ATTRIBUTE_FILTERS, CustomerQuery, order_by, where
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
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import CHUNK_ROWS, Column, ExportTable, Format, audit_export
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
#: The customer list as a file (console, API ``?format=``, CLI ``--format``): PII as the page shows it.
EXPORT_COLUMNS = (
    Column("customer_id", N_("Customer ID")),
    Column("name", N_("Name")),
    Column("email", N_("Email")),
    Column("phone", N_("Phone")),
    Column("channel", N_("Channel")),
    Column("country", N_("Country")),
    Column("region", N_("Region")),
    Column("city", N_("City")),
    Column("orders_count", N_("Number of orders"), "int"),
    Column("spend", N_("Spend"), "money"),
    Column("aov", N_("Average order value"), "money"),
    Column("currency", N_("Currency")),
    Column("first_order_at", N_("First order"), "datetime"),
    Column("last_order_at", N_("Last order"), "datetime"),
    Column("first_seen_at", N_("First seen"), "datetime"),
    Column("last_seen_at", N_("Last seen"), "datetime"),
    Column("signup_at", N_("Signed up"), "datetime"),
)

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


def _query(query: CustomerQuery | None, email: str | None, phone: str | None) -> CustomerQuery:
    query = query or CustomerQuery()
    if email is not None:
        query = replace(query, email=email)
    if phone is not None:
        query = replace(query, phone=phone)
    query.validate()
    return query


def _vault_ids(engine: Engine, tenant_id: str, query: CustomerQuery) -> list[str] | None:
    """The vault's matches for an email/phone search (blind indexes, nothing decrypted); None: no search."""
    email, phone = query.vault_lookup()
    if email is None and phone is None:
        return None
    with tenant_session(engine, tenant_id) as session:
        return vault.find_customer_ids(session, tenant_id, email=email, phone=phone)


def _summaries(
    engine: Engine, tenant_id: str, rows: list[dict[str, Any]], reveal: bool
) -> list[CustomerSummary]:
    with tenant_session(engine, tenant_id) as session:
        pii = vault.get_many(session, tenant_id, [r["customer_id"] for r in rows])
    items = []
    for row in rows:
        row["spend"] = _money(row["spend"])
        row["aov"] = None if row["aov"] is None else _money(row["aov"])
        row["pii"] = _pii_view(pii.get(row["customer_id"]), reveal)
        items.append(CustomerSummary.model_validate(row))
    return items


def list_customers(
    cur: Cursor,
    engine: Engine,
    tenant_id: str,
    *,
    query: CustomerQuery | None = None,
    timezone: str = "UTC",
    limit: int = 50,
    offset: int = 0,
    email: str | None = None,
    phone: str | None = None,
    reveal: bool = False,
) -> CustomerPage:
    """One page of customers matching ``query`` (default: most recently seen first) with order counts,
    spend, AOV and PII (masked or not). ``email``/``phone`` are shorthands for the query's fields."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be 1..{MAX_PAGE}, got {limit}", {"field": "limit"})
    if offset < 0:
        raise ValidationFailed(f"offset must be >= 0, got {offset}", {"field": "offset"})
    query = _query(query, email, phone)
    ids = _vault_ids(engine, tenant_id, query)
    if ids == []:
        return CustomerPage(items=[], total=0, limit=limit, offset=offset)
    clause, params = where(query, timezone, ids)
    # Only fixed fragments (filters present, a sort column from a fixed map) are interpolated.
    base = f"SELECT * FROM ({AGGREGATE_SQL}) a{clause}"  # noqa: S608
    total_row = cur.execute(f"SELECT count(*) FROM ({base}) n", params).fetchone()  # noqa: S608
    total = int(total_row[0]) if total_row else 0
    rows = _rows(cur, base + order_by(query) + " LIMIT ? OFFSET ?", [*params, limit, offset])
    items = _summaries(engine, tenant_id, rows, reveal)
    return CustomerPage(items=items, total=total, limit=limit, offset=offset)


def iter_customers(
    cur: Cursor,
    engine: Engine,
    tenant_id: str,
    query: CustomerQuery,
    timezone: str,
    ids: list[str] | None,
    *,
    reveal: bool,
) -> Iterator[dict[str, Any]]:
    """Every customer matching ``query`` in its order, as flat rows (PII fields masked unless revealed),
    read a chunk at a time so an export of a million customers never holds them all."""
    if ids == []:
        return
    clause, params = where(query, timezone, ids)
    rel = cur.execute(f"SELECT * FROM ({AGGREGATE_SQL}) a{clause}" + order_by(query), params)  # noqa: S608
    names = [d[0] for d in rel.description]
    while chunk := rel.fetchmany(CHUNK_ROWS):
        rows = [dict(zip(names, row, strict=True)) for row in chunk]
        for item in _summaries(engine, tenant_id, rows, reveal):
            flat = item.model_dump(exclude={"pii"})
            pii = item.pii
            if pii is not None:
                flat["name"] = pii.name or " ".join(p for p in (pii.first_name, pii.last_name) if p) or None
                flat["email"], flat["phone"] = pii.email, pii.phone
            yield flat


def _audit_filters(query: CustomerQuery) -> dict[str, str]:
    """The query for the audit log, without searched addresses (the log must not copy PII)."""
    active = query.active()
    for name in ("email", "phone"):
        if name in active:
            active[name] = "(searched)"
    if query.q is not None and query.pii_search:
        active["q"] = "(searched)"
    return active


def find_customers(
    state: AppState,
    tenant: TenantInfo,
    *,
    query: CustomerQuery | None = None,
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
    query = _query(query, email, phone)
    with state.warehouses.get(tenant.id).reading() as cur:
        page = list_customers(
            cur,
            state.engine,
            tenant.id,
            query=query,
            timezone=tenant.timezone,
            limit=limit,
            offset=offset,
            reveal=reveal,
        )
    if query.pii_search:
        audit_lookup(state.engine, tenant.id, query.pii_search, page, via)
    if reveal:
        audit_reveal(state.engine, tenant.id, [i.customer_id for i in page.items if i.pii], via)
    return page


def export_customers(
    state: AppState, tenant: TenantInfo, query: CustomerQuery, fmt: Format, *, reveal: bool, via: str
) -> ExportTable:
    """The "export customers" use case: every customer the query matches, as the page shows them.

    Audited before the first byte leaves (``customers.export``, with the row count and whether PII was
    revealed; searched addresses are not copied into the log); the rows are read lazily by the writer
    on a cursor of its own, which the generator closes when the download ends."""
    query.validate()
    ids = _vault_ids(state.engine, tenant.id, query)
    clause, params = where(query, tenant.timezone, ids)
    if ids == []:
        total = 0
    else:
        with state.warehouses.get(tenant.id).reading() as cur:
            row = cur.execute(f"SELECT count(*) FROM ({AGGREGATE_SQL}) a{clause}", params).fetchone()  # noqa: S608
        total = int(row[0]) if row else 0
    audit_export(
        state.engine,
        tenant.id,
        "customers",
        fmt,
        filters=_audit_filters(query),
        rows=total,
        via=via,
        details={"pii": "revealed" if reveal else "masked"},
    )

    def rows() -> Iterator[dict[str, Any]]:
        with state.warehouses.get(tenant.id).reading() as cur:
            yield from iter_customers(
                cur, state.engine, tenant.id, query, tenant.timezone, ids, reveal=reveal
            )

    return ExportTable("customers", EXPORT_COLUMNS, rows(), tenant.timezone, total)


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
    found = _rows(cur, AGGREGATE_SQL + " WHERE c.customer_id = ?", [customer_id])
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
    for aggregate in ("last_order_at", "first_order_at", "aov", "currency"):
        profile.pop(aggregate, None)
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


def customer_facets(state: AppState, tenant: TenantInfo, limit: int = 200) -> dict[str, list[str]]:
    """The values present in each attribute filter (for the page's drop-downs), most frequent first."""
    out: dict[str, list[str]] = {}
    with state.warehouses.get(tenant.id).reading() as cur:
        for column in ATTRIBUTE_FILTERS:
            rows = cur.execute(
                # The column comes from a fixed tuple; the limit is a parameter.
                f"SELECT {column} FROM customers WHERE {column} IS NOT NULL "  # noqa: S608
                f"GROUP BY {column} ORDER BY count(*) DESC, {column} LIMIT ?",
                [limit],
            ).fetchall()
            out[column] = [str(r[0]) for r in rows]
    return out
