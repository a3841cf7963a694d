"""Orders explorer over one tenant's warehouse: a filtered list with keyset pagination, and order details.

Read-only and parameterised: every value a caller gives travels as a DuckDB parameter, and the only SQL
text assembled here is a fixed set of ``WHERE`` fragments chosen by which filters are present. The
caller passes a DuckDB connection: the server a cursor on the file it owns, the CLI without a server
the file opened read-only (``warehouse.connection.connect(path, read_only=True)``).

Date filters are calendar days in the tenant's time zone (an operator in Shanghai asking for
"2026-11-11" means 00:00–24:00 Shanghai time, not UTC); they become a half-open UTC interval here, so
the ``ordered_at`` column keeps its index-friendly form.

The UTM filters (``utm_source``, ``utm_medium``, ``utm_campaign``) match the label the metric engine
gives an order in its ``source``/``campaign`` breakdowns (``analytics.catalogue.BREAKDOWNS``): the
column's own value, exactly; a missing or blank value is labelled ``NONE_LABEL`` ("(none)"), so the
filter value "(none)" finds the orders without one (and any literally named "(none)", which the engine
puts in the same row). A campaign row of the overview therefore links to exactly the orders carrying
that label; which of them the row's figures count (statuses, currency, attribution) is the engine's
business and is not repeated here.

Pagination is keyset on ``(ordered_at DESC, order_id DESC)``: the next page starts after the last row
of this one, so deep pages cost the same as the first and rows inserted meanwhile do not shift them.
The cursor is opaque to clients (URL-safe base64 of the last row's key).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from ecomops.analytics.service import NONE_LABEL
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.orders.results import OrderDetail, OrderPage, OrderSummary
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import CHUNK_ROWS, Column, ExportTable, Format, audit_export
from ecomops.platform.web.state import AppState

Cursor = duckdb.DuckDBPyConnection

DEFAULT_PAGE = 50
MAX_PAGE = 500
#: Longest filter value accepted (ids, channels, statuses, coupon codes are all short).
MAX_TEXT = 200
#: Filters on the order's UTM columns, matched like the engine's breakdown labels (see the module doc).
UTM_FILTERS = ("utm_source", "utm_medium", "utm_campaign")
#: Exact-match text filters: column name = filter name.
TEXT_FILTERS = ("channel", "status", "customer_id", "coupon", *UTM_FILTERS)
#: What the engine's breakdown label strips to decide that a value is blank (Python's ``str.strip``).
_BLANK_CHARS = " \t\n\r\x0b\x0c"

_LIST_COLUMNS = (
    "order_id",
    "external_id",
    "ordered_at",
    "status",
    "channel",
    "source",
    "customer_id",
    "currency",
    "total",
    "discount",
    "coupon",
    "items_count",
    "country",
    "region",
    "city",
    "utm_source",
    "utm_medium",
    "utm_campaign",
)
_DETAIL_COLUMNS = (
    *_LIST_COLUMNS,
    "anonymous_id",
    "paid_at",
    "subtotal",
    "shipping",
    "tax",
    "device",
    "live_session_id",
    "loaded_at",
)


@dataclass(frozen=True)
class OrderFilters:
    """What an operator narrows the list by; ``None`` means "any"."""

    date_from: date | None = None
    date_to: date | None = None  # inclusive, like a date picker
    channel: str | None = None
    status: str | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    customer_id: str | None = None
    coupon: str | None = None
    #: Exact UTM values; "(none)" = missing or blank (the engine's label), see the module doc.
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None

    def validate(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationFailed(
                f"date_from {self.date_from} is after date_to {self.date_to}",
                {"field": "date_from", "date_from": str(self.date_from), "date_to": str(self.date_to)},
            )
        if self.min_total is not None and self.max_total is not None and self.min_total > self.max_total:
            raise ValidationFailed(
                f"min_total {self.min_total} is greater than max_total {self.max_total}",
                {"field": "min_total"},
            )
        for name in TEXT_FILTERS:
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= MAX_TEXT:
                raise ValidationFailed(f"{name} must be 1..{MAX_TEXT} characters", {"field": name})

    def active(self) -> dict[str, str]:
        """The filters that are set, as strings (for links, CLI echo and the API's ``filters``)."""
        out: dict[str, str] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = str(value)
        return out


def day_bounds(day: date, timezone: str) -> datetime:
    """The UTC instant at which ``day`` starts in ``timezone``."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def encode_cursor(ordered_at: datetime, order_id: str) -> str:
    raw = json.dumps([ordered_at.astimezone(UTC).isoformat(), order_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, order_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None or not isinstance(order_id, str):
            raise ValueError("naive time or bad id")
        return parsed, order_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "invalid pagination cursor: pass back the next_cursor of the previous page unchanged",
            {"field": "cursor"},
        ) from exc


def _where(filters: OrderFilters, timezone: str) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.date_from is not None:
        clauses.append("ordered_at >= ?")
        params.append(day_bounds(filters.date_from, timezone))
    if filters.date_to is not None:
        clauses.append("ordered_at < ?")
        params.append(day_bounds(filters.date_to + timedelta(days=1), timezone))
    for column in TEXT_FILTERS:
        value = getattr(filters, column)
        if value is None:
            continue
        if column in UTM_FILTERS and value == NONE_LABEL:
            # The engine's label: NULL, blank (after stripping whitespace) or literally "(none)".
            clauses.append(f"({column} IS NULL OR trim({column}, ?) = '' OR {column} = ?)")
            params += [_BLANK_CHARS, NONE_LABEL]
        else:
            clauses.append(f"{column} = ?")
            params.append(value)
    if filters.min_total is not None:
        clauses.append("total >= ?")
        params.append(filters.min_total)
    if filters.max_total is not None:
        clauses.append("total <= ?")
        params.append(filters.max_total)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _rows(cur: Cursor, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    rel = cur.execute(sql, params)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def list_orders(
    cur: Cursor,
    timezone: str,
    filters: OrderFilters | None = None,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> OrderPage:
    """One page of orders, newest first, matching ``filters``; ``cursor`` continues a previous page."""
    filters = filters or OrderFilters()
    filters.validate()
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be 1..{MAX_PAGE}, got {limit}", {"field": "limit"})
    where, params = _where(filters, timezone)
    total_row = cur.execute(f"SELECT count(*) FROM orders{where}", params).fetchone()  # noqa: S608
    total = int(total_row[0]) if total_row else 0
    page_where, page_params = where, list(params)
    if cursor:
        at, order_id = decode_cursor(cursor)
        joiner = " AND " if where else " WHERE "
        page_where += joiner + "(ordered_at < ? OR (ordered_at = ? AND order_id < ?))"
        page_params += [at, at, order_id]
    columns = ", ".join(_LIST_COLUMNS)
    items = _rows(
        cur,
        # Only fixed column names and fixed WHERE fragments are interpolated; values are parameters.
        f"SELECT {columns} FROM orders{page_where} "  # noqa: S608
        "ORDER BY ordered_at DESC, order_id DESC LIMIT ?",
        [*page_params, limit + 1],
    )
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor(last["ordered_at"], last["order_id"])
    return OrderPage(
        items=[OrderSummary.model_validate(i) for i in items],
        total=total,
        next_cursor=next_cursor,
        limit=limit,
        filters=filters.active(),
    )


def find_orders(
    state: AppState,
    tenant: TenantInfo,
    filters: OrderFilters | None = None,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> OrderPage:
    """The "list orders" use case (API, CLI and console): one page on the tenant's warehouse."""
    with state.warehouses.get(tenant.id).reading() as cur:
        return list_orders(cur, tenant.timezone, filters, limit=limit, cursor=cursor)


#: The order list as a file (console, API ``?format=``, CLI ``--format``): every list column.
EXPORT_COLUMNS = (
    Column("order_id", N_("Order ID")),
    Column("external_id", N_("External ID")),
    Column("ordered_at", N_("Ordered at"), "datetime"),
    Column("status", N_("Status")),
    Column("channel", N_("Channel")),
    Column("source", N_("Source")),
    Column("customer_id", N_("Customer ID")),
    Column("items_count", N_("Items"), "int"),
    Column("total", N_("Total"), "money"),
    Column("discount", N_("Discount"), "money"),
    Column("currency", N_("Currency")),
    Column("coupon", N_("Coupon")),
    Column("country", N_("Country")),
    Column("region", N_("Region")),
    Column("city", N_("City")),
    Column("utm_source", N_("UTM source")),
    Column("utm_medium", N_("UTM medium")),
    Column("utm_campaign", N_("UTM campaign")),
)


def iter_orders(cur: Cursor, timezone: str, filters: OrderFilters) -> Iterator[dict[str, Any]]:
    """Every order matching ``filters``, newest first like the list, read a chunk at a time."""
    where, params = _where(filters, timezone)
    rel = cur.execute(
        # Only fixed column names and fixed WHERE fragments are interpolated; values are parameters.
        f"SELECT {', '.join(_LIST_COLUMNS)} FROM orders{where} "  # noqa: S608
        "ORDER BY ordered_at DESC, order_id DESC",
        params,
    )
    names = [d[0] for d in rel.description]
    while chunk := rel.fetchmany(CHUNK_ROWS):
        for row in chunk:
            yield dict(zip(names, row, strict=True))


def export_orders(
    state: AppState, tenant: TenantInfo, filters: OrderFilters, fmt: Format, *, via: str
) -> ExportTable:
    """The "export orders" use case: every order the filters match (not one page), audited as
    ``orders.export`` before the download starts; rows are read lazily on the writer's own cursor."""
    filters.validate()
    where, params = _where(filters, tenant.timezone)
    with state.warehouses.get(tenant.id).reading() as cur:
        row = cur.execute(f"SELECT count(*) FROM orders{where}", params).fetchone()  # noqa: S608
    total = int(row[0]) if row else 0
    audit_export(state.engine, tenant.id, "orders", fmt, filters=filters.active(), rows=total, via=via)

    def rows() -> Iterator[dict[str, Any]]:
        with state.warehouses.get(tenant.id).reading() as cur:
            yield from iter_orders(cur, tenant.timezone, filters)

    return ExportTable("orders", EXPORT_COLUMNS, rows(), tenant.timezone, total)


def find_order(state: AppState, tenant: TenantInfo, order_id: str) -> OrderDetail:
    """The "show an order" use case (API, CLI and console)."""
    with state.warehouses.get(tenant.id).reading() as cur:
        return get_order(cur, order_id)


def get_order(cur: Cursor, order_id: str) -> OrderDetail:
    """An order with its lines, refunds, payments and (for live-commerce orders) the live session."""
    if not 0 < len(order_id) <= MAX_TEXT:
        raise ValidationFailed(f"order id must be 1..{MAX_TEXT} characters", {"field": "order_id"})
    found = _rows(cur, f"SELECT {', '.join(_DETAIL_COLUMNS)} FROM orders WHERE order_id = ?", [order_id])  # noqa: S608
    if not found:
        raise NotFound(f"order {order_id!r} not found in this tenant's warehouse", {"order_id": order_id})
    order = found[0]
    order["items"] = _rows(
        cur,
        # The catalogue's names in other languages (the simulator's products carry both), for the console.
        "SELECT i.item_id, i.product_id, i.sku, i.name, "
        "json_extract_string(p.attributes, '$.name_en') AS name_en, "
        "json_extract_string(p.attributes, '$.name_zh') AS name_zh, i.category, i.quantity, i.unit_price, "
        "i.discount, i.line_total, i.currency FROM order_items i "
        "LEFT JOIN products p ON p.product_id = i.product_id WHERE i.order_id = ? ORDER BY i.item_id",
        [order_id],
    )
    order["refunds"] = _rows(
        cur,
        "SELECT refund_id, product_id, sku, quantity, amount, currency, reason, source, refunded_at "
        "FROM refunds WHERE order_id = ? ORDER BY refunded_at, refund_id",
        [order_id],
    )
    order["payments"] = _rows(
        cur,
        "SELECT payment_id, sequential, payment_type, installments, amount, currency FROM order_payments "
        "WHERE order_id = ? ORDER BY sequential NULLS LAST, payment_id",
        [order_id],
    )
    order["refunded_total"] = sum((r["amount"] or Decimal(0) for r in order["refunds"]), Decimal(0))
    order["live_session"] = None
    if order["live_session_id"]:
        sessions = _rows(
            cur,
            "SELECT live_session_id, channel, host, title, started_at, ended_at, peak_viewers "
            "FROM live_sessions WHERE live_session_id = ?",
            [order["live_session_id"]],
        )
        order["live_session"] = sessions[0] if sessions else None
    return OrderDetail.model_validate(order)


def facets(cur: Cursor) -> dict[str, list[str]]:
    """Channels, statuses and UTM values present, for the explorer's filter menus and suggestions
    (small: a few dozen values each, at most 100)."""
    out: dict[str, list[str]] = {}
    for column in ("channel", "status", *UTM_FILTERS):
        rows = cur.execute(
            f"SELECT DISTINCT {column} FROM orders WHERE {column} IS NOT NULL ORDER BY 1 LIMIT 100"  # noqa: S608
        ).fetchall()
        out[column] = [str(r[0]) for r in rows]
    return out
