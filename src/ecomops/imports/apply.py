"""Apply staged rows to the tenant warehouse in one transaction.

Each staged table streams into a temp table on the private write cursor, flagged ``is_new``
by a join on the warehouse's key; only new rows are inserted, so a re-import adds nothing and
``rows_duplicate`` is exact. Orders whose totals are the sum of their lines gain the lines this
import added. Everything, including the ``_imports`` records, commits together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from ecomops.imports.staging import Staging
from ecomops.kernel.clock import utcnow
from ecomops.warehouse.connection import Warehouse

#: (staged query, name it is registered under on the write cursor, statements run after registering).
#: Order matters: translations before products (category lookup), products before items (category
#: fill), orders before items (totals of existing orders).
STEPS: list[tuple[str, str, list[str]]] = [
    (
        "SELECT * FROM u_translations",
        "src_translations",
        [
            """CREATE TEMP TABLE in_translations AS
           SELECT s.*, t.category IS NULL AS is_new FROM src_translations s
           LEFT JOIN product_category_translations t ON t.category = s.category AND t.language =
               s.language""",
            """INSERT INTO product_category_translations (category, language, translation)
           SELECT category, language, translation FROM in_translations WHERE is_new""",
        ],
    ),
    (
        "SELECT * FROM u_products",
        "src_products",
        [
            """CREATE TEMP TABLE in_products AS
           SELECT s.*, p.product_id IS NULL AS is_new FROM src_products s
           LEFT JOIN products p ON p.product_id = s.product_id""",
            """INSERT INTO products (product_id, sku, name, category, attributes, updated_at)
           SELECT s.product_id, s.sku, s.name,
                  CASE WHEN s.translate_category THEN coalesce(t.translation, s.category) ELSE s.category END,
                  s.attributes, now()
           FROM in_products s
           LEFT JOIN product_category_translations t
                  ON s.translate_category AND t.category = s.category AND t.language = 'en'
           WHERE s.is_new""",
        ],
    ),
    (
        "SELECT * FROM u_sellers",
        "src_sellers",
        [
            """CREATE TEMP TABLE in_sellers AS
           SELECT s.*, w.seller_id IS NULL AS is_new FROM src_sellers s
           LEFT JOIN sellers w ON w.seller_id = s.seller_id""",
            """INSERT INTO sellers (seller_id, source, zip_code_prefix, city, region, country)
           SELECT seller_id, source, zip_code_prefix, city, region, country FROM in_sellers WHERE is_new""",
        ],
    ),
    (
        "SELECT * FROM u_customers",
        "src_customers",
        [
            """CREATE TEMP TABLE in_customers AS
           SELECT s.*, c.customer_id IS NULL AS is_new FROM src_customers s
           LEFT JOIN customers c ON c.customer_id = s.customer_id""",
            """INSERT INTO customers (customer_id, source, first_seen_at, last_seen_at, channel, country,
                region,
                                  city, attributes)
           SELECT customer_id, source, first_seen_at, last_seen_at, channel, country, region, city, attributes
           FROM in_customers WHERE is_new""",
        ],
    ),
    (
        "SELECT * FROM u_orders",
        "src_orders",
        [
            """CREATE TEMP TABLE in_orders AS
           SELECT s.*, o.order_id IS NULL AS is_new FROM src_orders s
           LEFT JOIN orders o ON o.order_id = s.order_id""",
            """INSERT INTO orders (order_id, external_id, source, channel, customer_id, status,
                ordered_at, paid_at,
                               currency, subtotal, discount, shipping, tax, total, coupon, items_count,
                                   country,
                               region, city, properties)
           SELECT order_id, external_id, source, channel, customer_id, status, ordered_at, paid_at, currency,
                  subtotal, discount, shipping, tax, total, coupon, items_count, country, region, city,
                  properties
           FROM in_orders WHERE is_new ORDER BY order_id""",
        ],
    ),
    (
        "SELECT * FROM u_items",
        "src_items",
        [
            """CREATE TEMP TABLE in_items AS
           SELECT s.*, i.item_id IS NULL AS is_new FROM src_items s
           LEFT JOIN order_items i ON i.item_id = s.item_id""",
            # Sorted keys make the primary-key index inserts noticeably cheaper.
            """INSERT INTO order_items (item_id, order_id, product_id, sku, name, category, quantity,
                unit_price,
                                    discount, line_total, currency, ordered_at, seller_id)
           SELECT s.item_id, s.order_id, s.product_id, s.sku, s.name, coalesce(s.category, p.category),
                  s.quantity, s.unit_price, s.discount, s.line_total, s.currency, s.ordered_at, s.seller_id
           FROM in_items s LEFT JOIN products p ON s.category IS NULL AND p.product_id = s.product_id
           WHERE s.is_new ORDER BY s.item_id""",
        ],
    ),
    (
        "SELECT * FROM u_refunds",
        "src_refunds",
        [
            """CREATE TEMP TABLE in_refunds AS
           SELECT s.*, r.refund_id IS NULL AS is_new FROM src_refunds s
           LEFT JOIN refunds r ON r.refund_id = s.refund_id""",
            """INSERT INTO refunds (refund_id, order_id, product_id, sku, quantity, amount, currency,
                reason, source,
                                refunded_at)
           SELECT refund_id, order_id, product_id, sku, quantity, amount, currency, reason, source,
               refunded_at
           FROM in_refunds WHERE is_new ORDER BY refund_id""",
        ],
    ),
    (
        "SELECT * FROM u_payments",
        "src_payments",
        [
            """CREATE TEMP TABLE in_payments AS
           SELECT s.*, p.payment_id IS NULL AS is_new FROM src_payments s
           LEFT JOIN order_payments p ON p.payment_id = s.payment_id""",
            """INSERT INTO order_payments (payment_id, order_id, sequential, payment_type, installments,
                amount,
                                       currency, source)
           SELECT payment_id, order_id, sequential, payment_type, installments, amount, currency, source
           FROM in_payments WHERE is_new ORDER BY payment_id""",
        ],
    ),
    (
        "SELECT * FROM u_reviews",
        "src_reviews",
        [
            """CREATE TEMP TABLE in_reviews AS
           SELECT s.*, r.review_id IS NULL AS is_new FROM src_reviews s
           LEFT JOIN reviews r ON r.review_id = s.review_id""",
            """INSERT INTO reviews (review_id, order_id, product_id, customer_id, channel, rating, title,
                body,
                                language, created_at)
           SELECT review_id, order_id, product_id, customer_id, channel, rating, title, body, language,
                  created_at
           FROM in_reviews WHERE is_new""",
        ],
    ),
]

#: Lines added to orders that existed before this import raise those orders' totals.
ADD_LINES_TO_EXISTING_ORDERS = """
UPDATE orders SET subtotal = orders.subtotal + a.subtotal,
                  shipping = orders.shipping + a.shipping,
                  total = orders.total + a.subtotal + a.shipping,
                  items_count = orders.items_count + a.quantity
FROM (SELECT order_id, sum(line_total) AS subtotal, sum(shipping) AS shipping, sum(quantity) AS quantity
      FROM in_items
      WHERE is_new AND order_id NOT IN (SELECT order_id FROM in_orders WHERE is_new)
      GROUP BY order_id) a
WHERE orders.order_id = a.order_id
"""

#: Customers seen again widen their first/last-seen range.
WIDEN_CUSTOMERS = """
UPDATE customers SET first_seen_at = least(customers.first_seen_at, s.first_seen_at),
                     last_seen_at = greatest(customers.last_seen_at, s.last_seen_at)
FROM in_customers s
WHERE customers.customer_id = s.customer_id AND NOT s.is_new
  AND (s.first_seen_at < customers.first_seen_at OR s.last_seen_at > customers.last_seen_at
       OR (customers.first_seen_at IS NULL AND s.first_seen_at IS NOT NULL))
"""

INSERTED = """
SELECT 'product_category_translations', count(*) FILTER (WHERE is_new) FROM in_translations
UNION ALL SELECT 'products', count(*) FILTER (WHERE is_new) FROM in_products
UNION ALL SELECT 'sellers', count(*) FILTER (WHERE is_new) FROM in_sellers
UNION ALL SELECT 'customers', count(*) FILTER (WHERE is_new) FROM in_customers
UNION ALL SELECT 'orders', count(*) FILTER (WHERE is_new) FROM in_orders
UNION ALL SELECT 'order_items', count(*) FILTER (WHERE is_new) FROM in_items
UNION ALL SELECT 'refunds', count(*) FILTER (WHERE is_new) FROM in_refunds
UNION ALL SELECT 'order_payments', count(*) FILTER (WHERE is_new) FROM in_payments
UNION ALL SELECT 'reviews', count(*) FILTER (WHERE is_new) FROM in_reviews
"""

#: Rows of each input file whose record was newly inserted (derived records have no file).
LOADED_BY_FILE = """
SELECT _file, count(*) FROM (
    SELECT _file FROM in_translations WHERE is_new
    UNION ALL SELECT _file FROM in_products WHERE is_new
    UNION ALL SELECT _file FROM in_sellers WHERE is_new
    UNION ALL SELECT _file FROM in_customers WHERE is_new
    UNION ALL SELECT _file FROM in_orders WHERE is_new
    UNION ALL SELECT _file FROM in_items WHERE is_new
    UNION ALL SELECT _file FROM in_refunds WHERE is_new
    UNION ALL SELECT _file FROM in_payments WHERE is_new
    UNION ALL SELECT _file FROM in_reviews WHERE is_new
) WHERE _file IS NOT NULL GROUP BY _file
"""

TEMP_TABLES = (
    "in_translations",
    "in_products",
    "in_sellers",
    "in_customers",
    "in_orders",
    "in_items",
    "in_refunds",
    "in_payments",
    "in_reviews",
)


@dataclass(frozen=True)
class FileRecord:
    """What ``_imports`` records for one input file."""

    import_id: str
    preset: str
    file_name: str
    file_sha256: str
    rows_read: int
    rows_rejected: int
    file_index: int


@dataclass
class ApplyResult:
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    loaded_by_file: dict[int, int] = field(default_factory=dict)


def _count(cur: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = cur.execute(sql).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def apply_staged(
    warehouse: Warehouse,
    staging: Staging,
    files: list[FileRecord],
    *,
    totals_from_items: bool,
) -> ApplyResult:
    """Insert every staged table's new rows and record the files, atomically."""
    result = ApplyResult()
    with warehouse.write() as cur:
        for query, name, statements in STEPS:
            cur.register(name, staging.reader(query))
            try:
                for statement in statements:
                    cur.execute(statement)
            finally:
                cur.unregister(name)
        if totals_from_items:
            result.updated["orders"] = _count(cur, ADD_LINES_TO_EXISTING_ORDERS)
        result.updated["customers"] = _count(cur, WIDEN_CUSTOMERS)
        result.inserted = {str(t): int(n) for t, n in cur.execute(INSERTED).fetchall()}
        result.loaded_by_file = {int(f): int(n) for f, n in cur.execute(LOADED_BY_FILE).fetchall()}
        now = utcnow()
        cur.executemany(
            "INSERT INTO _imports (import_id, preset, file_name, file_sha256, rows_read, rows_loaded, "
            "rows_rejected, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    f.import_id,
                    f.preset,
                    f.file_name,
                    f.file_sha256,
                    f.rows_read,
                    result.loaded_by_file.get(f.file_index, 0),
                    f.rows_rejected,
                    now,
                ]
                for f in files
            ],
        )
        for table in TEMP_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
    return result
