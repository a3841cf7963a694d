"""Product analytics over one tenant's warehouse: units sold, revenue, stock on hand, margin, reviews.

Read-only and parameterised like ``orders.service``; the caller passes a DuckDB connection.

Definitions (the page, API and CLI all show these):

- **units sold / revenue**: ``order_items`` quantity and ``line_total`` of orders that are not cancelled,
  ordered inside the window (calendar days in the tenant's time zone; no window = all time).
- **refunded**: refund amounts recorded against the product in the window (whole-order refunds carry
  no product and are not attributed here).
- **gross margin**: revenue − units × unit cost, only when the catalogue knows the cost; the rate is
  margin / revenue. Unknown cost gives no margin rather than a flattering 100 %.
- **first/last sold, price range** (detail only): first and latest line of non-cancelled orders and
  the lowest/highest unit price above 0, all time.
- **stock on hand**: the latest ``inventory_snapshots`` row per product and warehouse, summed. The
  warehouse snapshot is the analytics copy; the operational ``stock_levels`` are the editable system
  of record and the demo keeps them equal to the last snapshot.
- **reviews**: count and average rating of ``reviews`` (all time).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.orders.service import day_bounds
from ecomops.platform.console.i18n import N_
from ecomops.platform.context import TenantInfo
from ecomops.platform.export import CHUNK_ROWS, Column, ExportTable, Format, audit_export
from ecomops.platform.web.state import AppState

# Catalogue writes, for other modules (explicit re-exports; this file otherwise reads the warehouse).
from ecomops.products.catalogue import ProductRow as ProductRow
from ecomops.products.catalogue import StockRow as StockRow
from ecomops.products.catalogue import WarehouseRow as WarehouseRow
from ecomops.products.catalogue import foreign_keys_in_use as foreign_keys_in_use
from ecomops.products.catalogue import upsert_catalogue as upsert_catalogue
from ecomops.products.results import ProductDetail, ProductPage, ProductSummary, ProductTrend, TrendDay

Cursor = duckdb.DuckDBPyConnection

DEFAULT_PAGE = 50
MAX_PAGE = 500
#: Offset pagination is bounded: a catalogue is thousands of products, not millions of orders.
MAX_OFFSET = 100_000
MAX_TEXT = 200
SORTS = {
    "revenue": "revenue DESC NULLS LAST, p.product_id",
    "units": "units_sold DESC NULLS LAST, p.product_id",
    "stock": "stock_on_hand ASC NULLS LAST, p.product_id",
    "rating": "avg_rating DESC NULLS LAST, review_count DESC, p.product_id",
    "margin": "gross_margin DESC NULLS LAST, p.product_id",
    "name": "p.name NULLS LAST, p.product_id",
}


@dataclass(frozen=True)
class ProductFilters:
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    category: str | None = None
    search: str | None = None  # part of the name or SKU, any case

    def validate(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValidationFailed(
                f"date_from {self.date_from} is after date_to {self.date_to}", {"field": "date_from"}
            )
        for name in ("category", "search"):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= MAX_TEXT:
                raise ValidationFailed(f"{name} must be 1..{MAX_TEXT} characters", {"field": name})

    def active(self) -> dict[str, str]:
        return {k: str(v) for k in self.__dataclass_fields__ if (v := getattr(self, k)) is not None}


def _window(filters: ProductFilters, timezone: str, column: str) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if filters.date_from is not None:
        clauses.append(f"{column} >= ?")
        params.append(day_bounds(filters.date_from, timezone))
    if filters.date_to is not None:
        clauses.append(f"{column} < ?")
        params.append(day_bounds(filters.date_to + timedelta(days=1), timezone))
    return "".join(" AND " + c for c in clauses), params


def _stats_sql(filters: ProductFilters, timezone: str) -> tuple[str, list[Any]]:
    """CTEs with per-product sales, refunds, stock and reviews (the fragments are fixed text)."""
    sales_window, sales_params = _window(filters, timezone, "i.ordered_at")
    refund_window, refund_params = _window(filters, timezone, "r.refunded_at")
    sql = f"""
WITH sales AS (
    SELECT i.product_id, sum(i.quantity) AS units_sold, sum(i.line_total) AS revenue,
           count(DISTINCT i.order_id) AS orders
    FROM order_items i JOIN orders o ON o.order_id = i.order_id
    WHERE o.status <> 'cancelled'{sales_window}
    GROUP BY i.product_id
), refunded AS (
    SELECT r.product_id, sum(r.amount) AS refunded, count(*) AS refunds
    FROM refunds r WHERE r.product_id IS NOT NULL{refund_window}
    GROUP BY r.product_id
), latest_stock AS (
    SELECT product_id, warehouse_code, arg_max(on_hand, snapshot_at) AS on_hand,
           arg_max(reserved, snapshot_at) AS reserved, max(snapshot_at) AS snapshot_at
    FROM inventory_snapshots GROUP BY product_id, warehouse_code
), stock AS (
    SELECT product_id, sum(on_hand) AS stock_on_hand, sum(reserved) AS stock_reserved,
           max(snapshot_at) AS stock_at
    FROM latest_stock GROUP BY product_id
), rated AS (
    SELECT product_id, count(*) AS review_count, avg(rating) AS avg_rating
    FROM reviews WHERE product_id IS NOT NULL GROUP BY product_id
)"""  # noqa: S608 - only the fixed window fragments above are interpolated
    return sql, [*sales_params, *refund_params]


_SELECT = """
SELECT p.product_id, p.sku, p.name, json_extract_string(p.attributes, '$.name_en') AS name_en,
       json_extract_string(p.attributes, '$.name_zh') AS name_zh, p.category, p.brand,
       json_extract_string(p.attributes, '$.brand_zh') AS brand_zh, p.price, p.cost,
       p.currency, p.status,
       coalesce(s.units_sold, 0) AS units_sold, coalesce(s.revenue, 0) AS revenue,
       coalesce(s.orders, 0) AS orders, coalesce(f.refunded, 0) AS refunded,
       coalesce(f.refunds, 0) AS refunds,
       CASE WHEN p.cost IS NULL THEN NULL
            ELSE coalesce(s.revenue, 0) - coalesce(s.units_sold, 0) * p.cost END AS gross_margin,
       st.stock_on_hand, st.stock_reserved, st.stock_at,
       coalesce(rv.review_count, 0) AS review_count, rv.avg_rating
FROM products p
LEFT JOIN sales s ON s.product_id = p.product_id
LEFT JOIN refunded f ON f.product_id = p.product_id
LEFT JOIN stock st ON st.product_id = p.product_id
LEFT JOIN rated rv ON rv.product_id = p.product_id
"""


def _rows(cur: Cursor, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    rel = cur.execute(sql, params)
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Add the margin rate and round the average rating (presentation-neutral numbers)."""
    revenue, margin = row["revenue"], row["gross_margin"]
    row["margin_rate"] = (
        (Decimal(margin) / Decimal(revenue)).quantize(Decimal("0.0001"))
        if margin is not None and revenue
        else None
    )
    if row["avg_rating"] is not None:
        row["avg_rating"] = round(float(row["avg_rating"]), 2)
    return row


def _list_sql(filters: ProductFilters, timezone: str, sort: str) -> tuple[str, list[Any], str, list[Any]]:
    """The list's ordered query (fixed fragments only) and its parameters, plus the bare product filter."""
    where, where_params = [], []
    if filters.category is not None:
        where.append("p.category = ?")
        where_params.append(filters.category)
    if filters.search is not None:
        where.append(
            "(contains(lower(p.name), lower(?)) OR contains(lower(p.sku), lower(?))"
            " OR contains(lower(coalesce(json_extract_string(p.attributes, '$.name_en'), '')), lower(?)))"
        )
        where_params += [filters.search, filters.search, filters.search]
    where_sql = (" WHERE " + " AND ".join(where)) if where else ""
    ctes, cte_params = _stats_sql(filters, timezone)
    sql = f"{ctes}{_SELECT}{where_sql} ORDER BY {SORTS[sort]}"
    return sql, [*cte_params, *where_params], where_sql, where_params


def list_products(
    cur: Cursor,
    timezone: str,
    filters: ProductFilters | None = None,
    *,
    sort: str = "revenue",
    limit: int = DEFAULT_PAGE,
    offset: int = 0,
) -> ProductPage:
    """One page of products with their sales, stock, margin and review figures."""
    filters = filters or ProductFilters()
    filters.validate()
    if sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}; got {sort!r}", {"field": "sort"})
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be 1..{MAX_PAGE}, got {limit}", {"field": "limit"})
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed(f"offset must be 0..{MAX_OFFSET}, got {offset}", {"field": "offset"})
    sql, params, where_sql, where_params = _list_sql(filters, timezone, sort)
    total_row = cur.execute(f"SELECT count(*) FROM products p{where_sql}", where_params).fetchone()  # noqa: S608
    items = _rows(cur, sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
    return ProductPage(
        items=[ProductSummary.model_validate(_finish(r)) for r in items],
        total=int(total_row[0]) if total_row else 0,
        limit=limit,
        offset=offset,
        sort=sort,
        filters=filters.active(),
    )


#: The products list as a file (console, API ``?format=``, CLI ``--format``).
EXPORT_COLUMNS = (
    Column("product_id", N_("Product ID")),
    Column("sku", N_("SKU")),
    Column("name", N_("Product")),
    Column("category", N_("Category")),
    Column("brand", N_("Brand")),
    Column("status", N_("Status")),
    Column("price", N_("Price"), "money"),
    Column("cost", N_("Cost"), "money"),
    Column("currency", N_("Currency")),
    Column("units_sold", N_("Units sold"), "int"),
    Column("orders", N_("Number of orders"), "int"),
    Column("revenue", N_("Revenue"), "money"),
    Column("refunded", N_("Refunded"), "money"),
    Column("refunds", N_("Refunds"), "int"),
    Column("gross_margin", N_("Gross margin"), "money"),
    Column("margin_rate", N_("Margin rate"), "number"),
    Column("stock_on_hand", N_("Stock on hand"), "int"),
    Column("stock_reserved", N_("Reserved"), "int"),
    Column("review_count", N_("Reviews"), "int"),
    Column("avg_rating", N_("Rating"), "number"),
)


def export_products(
    state: AppState, tenant: TenantInfo, filters: ProductFilters, fmt: Format, *, sort: str, via: str
) -> ExportTable:
    """The "export products" use case: every product the filters match, in the list's order and with its
    figures for the same window; audited as ``products.export``; rows read a chunk at a time."""
    filters.validate()
    if sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}; got {sort!r}", {"field": "sort"})
    sql, params, where_sql, where_params = _list_sql(filters, tenant.timezone, sort)
    with state.warehouses.get(tenant.id).reading() as cur:
        row = cur.execute(f"SELECT count(*) FROM products p{where_sql}", where_params).fetchone()  # noqa: S608
    total = int(row[0]) if row else 0
    audit_export(
        state.engine,
        tenant.id,
        "products",
        fmt,
        filters={**filters.active(), "sort": sort},
        rows=total,
        via=via,
    )

    def rows() -> Iterator[dict[str, Any]]:
        with state.warehouses.get(tenant.id).reading() as cur:
            rel = cur.execute(sql, params)
            names = [d[0] for d in rel.description]
            while chunk := rel.fetchmany(CHUNK_ROWS):
                for values in chunk:
                    yield _finish(dict(zip(names, values, strict=True)))

    return ExportTable("products", EXPORT_COLUMNS, rows(), tenant.timezone, total)


def find_products(
    state: AppState,
    tenant: TenantInfo,
    filters: ProductFilters | None = None,
    *,
    sort: str = "revenue",
    limit: int = DEFAULT_PAGE,
    offset: int = 0,
) -> ProductPage:
    """The "list products" use case (API, CLI and console) on the tenant's warehouse."""
    with state.warehouses.get(tenant.id).reading() as cur:
        return list_products(cur, tenant.timezone, filters, sort=sort, limit=limit, offset=offset)


def find_product(
    state: AppState, tenant: TenantInfo, product_id: str, filters: ProductFilters | None = None
) -> ProductDetail:
    """The "show a product" use case (API, CLI and console)."""
    with state.warehouses.get(tenant.id).reading() as cur:
        return get_product(cur, tenant.timezone, product_id, filters)


def get_product(
    cur: Cursor, timezone: str, product_id: str, filters: ProductFilters | None = None
) -> ProductDetail:
    """One product: the list figures plus sales by channel, stock by warehouse and recent reviews."""
    filters = filters or ProductFilters()
    filters.validate()
    if not 0 < len(product_id) <= MAX_TEXT:
        raise ValidationFailed(f"product id must be 1..{MAX_TEXT} characters", {"field": "product_id"})
    ctes, cte_params = _stats_sql(filters, timezone)
    found = _rows(cur, f"{ctes}{_SELECT} WHERE p.product_id = ?", [*cte_params, product_id])
    if not found:
        raise NotFound(
            f"product {product_id!r} not found in this tenant's catalogue", {"product_id": product_id}
        )
    product = _finish(found[0])
    window, window_params = _window(filters, timezone, "i.ordered_at")
    # Only the fixed window fragment is interpolated; values are parameters.
    by_channel_sql = (
        "SELECT coalesce(o.channel, 'unknown') AS channel, sum(i.quantity) AS units_sold, "  # noqa: S608
        "sum(i.line_total) AS revenue, count(DISTINCT i.order_id) AS orders "
        "FROM order_items i JOIN orders o ON o.order_id = i.order_id "
        f"WHERE i.product_id = ? AND o.status <> 'cancelled'{window} "
        "GROUP BY 1 ORDER BY revenue DESC"
    )
    product["by_channel"] = _rows(cur, by_channel_sql, [product_id, *window_params])
    # When and at what prices it sold, all time (imports fill catalogues from these lines).
    product.update(
        _rows(
            cur,
            "SELECT min(i.ordered_at) AS first_sold_at, max(i.ordered_at) AS last_sold_at, "
            "min(i.unit_price) FILTER (WHERE i.unit_price > 0) AS min_price, "
            "max(i.unit_price) FILTER (WHERE i.unit_price > 0) AS max_price "
            "FROM order_items i JOIN orders o ON o.order_id = i.order_id "
            "WHERE i.product_id = ? AND o.status <> 'cancelled'",
            [product_id],
        )[0]
    )
    product["stock"] = _rows(
        cur,
        "SELECT warehouse_code, arg_max(on_hand, snapshot_at) AS on_hand, "
        "arg_max(reserved, snapshot_at) AS reserved, max(snapshot_at) AS snapshot_at "
        "FROM inventory_snapshots WHERE product_id = ? GROUP BY warehouse_code ORDER BY warehouse_code",
        [product_id],
    )
    product["rating_histogram"] = {
        int(r[0]): int(r[1])
        for r in cur.execute(
            "SELECT rating, count(*) FROM reviews WHERE product_id = ? GROUP BY rating ORDER BY rating",
            [product_id],
        ).fetchall()
    }
    product["recent_reviews"] = _rows(
        cur,
        "SELECT review_id, rating, title, body, channel, language, created_at FROM reviews "
        "WHERE product_id = ? ORDER BY created_at DESC, review_id LIMIT 10",
        [product_id],
    )
    product["window"] = filters.active()
    return ProductDetail.model_validate(product)


def categories(cur: Cursor) -> list[str]:
    rows = cur.execute(
        "SELECT DISTINCT category FROM products WHERE category IS NOT NULL ORDER BY 1 LIMIT 500"
    ).fetchall()
    return [str(r[0]) for r in rows]


#: Longest trend window (a year of days, like the overview's custom range).
MAX_TREND_DAYS = 366
DEFAULT_TREND_DAYS = 30
_TREND_SQL = """
WITH d AS (SELECT unnest(?::DATE[]) AS day, unnest(?::TIMESTAMPTZ[]) AS lo, unnest(?::TIMESTAMPTZ[]) AS hi),
l AS (
    SELECT i.ordered_at AS ts, i.quantity, i.line_total, i.order_id
    FROM order_items i JOIN orders o ON o.order_id = i.order_id
    WHERE i.product_id = ? AND o.status <> 'cancelled' AND i.ordered_at >= ? AND i.ordered_at < ?
), e AS (
    SELECT ts, event FROM events
    WHERE product_id = ? AND type = 'track' AND event IN (?, ?) AND ts >= ? AND ts < ?
)
SELECT d.day,
       (SELECT coalesce(sum(quantity), 0) FROM l WHERE l.ts >= d.lo AND l.ts < d.hi) AS units,
       (SELECT coalesce(sum(line_total), 0) FROM l WHERE l.ts >= d.lo AND l.ts < d.hi) AS revenue,
       (SELECT count(DISTINCT order_id) FROM l WHERE l.ts >= d.lo AND l.ts < d.hi) AS orders,
       (SELECT count(*) FROM e WHERE e.event = ? AND e.ts >= d.lo AND e.ts < d.hi) AS views,
       (SELECT count(*) FROM e WHERE e.event = ? AND e.ts >= d.lo AND e.ts < d.hi) AS carts
FROM d ORDER BY d.day
"""
PRODUCT_VIEWED, PRODUCT_ADDED = "Product Viewed", "Product Added"


def trend_window(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """[first, last] local days (default: the 30 days ending today), checked like the overview's range."""
    last = last or (first + timedelta(days=DEFAULT_TREND_DAYS - 1) if first else today)
    first = first or last - timedelta(days=DEFAULT_TREND_DAYS - 1)
    if first > last:
        raise ValidationFailed(f"date_from {first} is after date_to {last}", {"field": "date_from"})
    if (last - first).days + 1 > MAX_TREND_DAYS:
        raise ValidationFailed(
            f"the trend window {first} – {last} is longer than {MAX_TREND_DAYS} days", {"field": "date_to"}
        )
    return first, last


def _daily(cur: Cursor, timezone: str, product_id: str, first: date, n: int) -> list[tuple[Any, ...]]:
    days = [first + timedelta(days=k) for k in range(n)]
    lo = [day_bounds(d, timezone) for d in days]
    hi = [day_bounds(d + timedelta(days=1), timezone) for d in days]
    params = [
        days, lo, hi, product_id, lo[0], hi[-1],
        product_id, PRODUCT_VIEWED, PRODUCT_ADDED, lo[0], hi[-1],
        PRODUCT_VIEWED, PRODUCT_ADDED,
    ]  # fmt: skip
    return cur.execute(_TREND_SQL, params).fetchall()


def get_trend(cur: Cursor, timezone: str, product_id: str, first: date, last: date) -> ProductTrend:
    """Daily units sold, revenue and orders of one product over local days [first, last] beside the
    same number of days right before (the previous period), with product views and add-to-carts when the
    shop records those events. Same definitions as the product's totals (orders not cancelled)."""
    if not 0 < len(product_id) <= MAX_TEXT:
        raise ValidationFailed(f"product id must be 1..{MAX_TEXT} characters", {"field": "product_id"})
    if cur.execute("SELECT 1 FROM products WHERE product_id = ?", [product_id]).fetchone() is None:
        raise NotFound(
            f"product {product_id!r} not found in this tenant's catalogue", {"product_id": product_id}
        )
    n = (last - first).days + 1
    prev_first = first - timedelta(days=n)
    now_rows = _daily(cur, timezone, product_id, first, n)
    prev_rows = _daily(cur, timezone, product_id, prev_first, n)
    has_events = (
        cur.execute(
            "SELECT 1 FROM events WHERE type = 'track' AND event IN (?, ?) "
            "AND product_id IS NOT NULL LIMIT 1",
            [PRODUCT_VIEWED, PRODUCT_ADDED],
        ).fetchone()
        is not None
    )
    days = tuple(
        TrendDay(
            day=row[0],
            units_sold=int(row[1]),
            revenue=Decimal(row[2]),
            orders=int(row[3]),
            views=int(row[4]) if has_events else None,
            add_to_cart=int(row[5]) if has_events else None,
            previous_day=prev[0],
            previous_units_sold=int(prev[1]),
            previous_revenue=Decimal(prev[2]),
            previous_orders=int(prev[3]),
        )
        for row, prev in zip(now_rows, prev_rows, strict=True)
    )
    return ProductTrend(
        product_id=product_id,
        date_from=first,
        date_to=last,
        previous_from=prev_first,
        previous_to=first - timedelta(days=1),
        has_events=has_events,
        days=days,
        total_units_sold=sum(d.units_sold for d in days),
        total_revenue=sum((d.revenue for d in days), Decimal(0)),
        total_orders=int(_distinct_orders(cur, timezone, product_id, first, last + timedelta(days=1))),
        previous_units_sold=sum(d.previous_units_sold for d in days),
        previous_revenue=sum((d.previous_revenue for d in days), Decimal(0)),
        previous_orders=int(_distinct_orders(cur, timezone, product_id, prev_first, first)),
    )


def _distinct_orders(cur: Cursor, timezone: str, product_id: str, first: date, end: date) -> int:
    """Orders containing the product in [first, end) (an order counts once however many days it spans)."""
    row = cur.execute(
        "SELECT count(DISTINCT i.order_id) FROM order_items i JOIN orders o ON o.order_id = i.order_id "
        "WHERE i.product_id = ? AND o.status <> 'cancelled' AND i.ordered_at >= ? AND i.ordered_at < ?",
        [product_id, day_bounds(first, timezone), day_bounds(end, timezone)],
    ).fetchone()
    return int(row[0]) if row else 0


def find_trend(
    state: AppState, tenant: TenantInfo, product_id: str, first: date | None, last: date | None, today: date
) -> ProductTrend:
    """The "product trend" use case (API and console)."""
    first, last = trend_window(first, last, today)
    with state.warehouses.get(tenant.id).reading() as cur:
        return get_trend(cur, tenant.timezone, product_id, first, last)
