"""Apply staged rows to the tenant warehouse in one transaction.

Staged rows are flagged in place, never copied: ``is_dup`` marks the losers of in-import
de-duplication (same record twice, the first file and row win), then, inside the warehouse
transaction, the staged keys stream to the warehouse, which returns the ones it already holds, and
``is_new`` is cleared on those. Only new rows stream into the warehouse's ``INSERT``, so a re-import
adds nothing and ``rows_duplicate`` is exact; de-duplication never depends on a warehouse index
(``order_items`` has none: its ids stay unique because only absent ids are inserted). Orders whose
totals are the sum of their lines gain the lines this import added. Everything, including the
``_imports`` records, commits together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from ecomops.imports.staging import Staging, arrow_table
from ecomops.kernel.clock import utcnow
from ecomops.platform.warehouse import facts
from ecomops.platform.warehouse.connection import Warehouse


@dataclass(frozen=True)
class Step:
    """One staged table: ``st_<name>`` in staging → ``table`` in the warehouse, keyed by ``key``.

    ``insert`` reads the new rows as ``new_rows`` (registered on the write cursor).
    """

    name: str
    table: str
    key: tuple[str, ...]
    insert: str


#: Order matters: translations before products (category lookup), products before items (category
#: fill), orders before items (totals of existing orders). The items' category fill joins products on
#: their key alone (``coalesce`` keeps a line's own category): a join condition that also tested
#: ``s.category IS NULL`` is not a hash-join key, and DuckDB ran it as a nested loop of every new line
#: against every product (5.4 of 13 CPU-s importing Online Retail II year 1, once imports fill the
#: catalogue).
STEPS: list[Step] = [
    Step(
        "translations",
        "product_category_translations",
        ("category", "language"),
        """INSERT INTO product_category_translations (category, language, translation)
           SELECT category, language, translation FROM new_rows""",
    ),
    Step(
        "products",
        "products",
        ("product_id",),
        """INSERT INTO products (product_id, sku, name, category, attributes, price, currency, updated_at)
           SELECT s.product_id, s.sku, s.name,
                  CASE WHEN s.translate_category THEN coalesce(t.translation, s.category) ELSE s.category END,
                  s.attributes, s.price, s.currency, now()
           FROM new_rows s
           LEFT JOIN product_category_translations t
                  ON s.translate_category AND t.category = s.category AND t.language = 'en'""",
    ),
    Step(
        "sellers",
        "sellers",
        ("seller_id",),
        """INSERT INTO sellers (seller_id, source, zip_code_prefix, city, region, country)
           SELECT seller_id, source, zip_code_prefix, city, region, country FROM new_rows""",
    ),
    Step(
        "customers",
        "customers",
        ("customer_id",),
        """INSERT INTO customers (customer_id, source, first_seen_at, last_seen_at, channel, country,
                                  region, city, attributes)
           SELECT customer_id, source, first_seen_at, last_seen_at, channel, country, region, city, attributes
           FROM new_rows""",
    ),
    Step(
        "orders",
        "orders",
        ("order_id",),
        """INSERT INTO orders (order_id, external_id, source, channel, customer_id, status, ordered_at,
                               paid_at, currency, subtotal, discount, shipping, tax, total, coupon,
                               items_count, country, region, city, properties)
           SELECT order_id, external_id, source, channel, customer_id, status, ordered_at, paid_at, currency,
                  subtotal, discount, shipping, tax, total, coupon, items_count, country, region, city,
                  properties
           FROM new_rows""",
    ),
    Step(
        "items",
        "order_items",
        ("item_id",),
        """INSERT INTO order_items (item_id, order_id, product_id, sku, name, category, quantity,
                                    unit_price, discount, line_total, currency, ordered_at, seller_id)
           SELECT s.item_id, s.order_id, s.product_id, s.sku, s.name, coalesce(s.category, p.category),
                  s.quantity, s.unit_price, s.discount, s.line_total, s.currency, s.ordered_at, s.seller_id
           FROM new_rows s LEFT JOIN products p ON p.product_id = s.product_id""",
    ),
    Step(
        "refunds",
        "refunds",
        ("refund_id",),
        """INSERT INTO refunds (refund_id, order_id, product_id, sku, quantity, amount, currency, reason,
                                source, refunded_at, customer_id, country)
           SELECT refund_id, order_id, product_id, sku, quantity, amount, currency, reason, source,
                  refunded_at, customer_id, country
           FROM new_rows""",
    ),
    Step(
        "charges",
        "order_charges",
        ("charge_id",),
        """INSERT INTO order_charges (charge_id, order_id, kind, code, description, quantity, amount,
                                      currency, customer_id, country, source, charged_at)
           SELECT charge_id, order_id, kind, code, description, quantity, amount, currency, customer_id,
                  country, source, charged_at
           FROM new_rows""",
    ),
    Step(
        "payments",
        "order_payments",
        ("payment_id",),
        """INSERT INTO order_payments (payment_id, order_id, sequential, payment_type, installments,
                                       amount, currency, source)
           SELECT payment_id, order_id, sequential, payment_type, installments, amount, currency, source
           FROM new_rows""",
    ),
    Step(
        "events",
        "events",
        ("message_id",),
        """INSERT INTO events (message_id, type, event, anonymous_id, ts, received_at, source_id, channel,
                               session_id, utm_source, page_path, device, os, country, region, city,
                               revenue, currency, properties)
           SELECT message_id, type, event, anonymous_id, ts, now(), source_id, channel, session_id,
                  utm_source, page_path, device, os, country, region, city, revenue, currency, properties
           FROM new_rows""",
    ),
    Step(
        "reviews",
        "reviews",
        ("review_id",),
        """INSERT INTO reviews (review_id, order_id, product_id, customer_id, channel, rating, title, body,
                                language, created_at)
           SELECT review_id, order_id, product_id, customer_id, channel, rating, title, body, language,
                  created_at
           FROM new_rows""",
    ),
]

#: Lines added to orders that existed before this import raise those orders' totals (computed in
#: staging, applied in the warehouse as ``added_lines``): goods, and shipping and discount charges.
ADDED_LINES = """
SELECT order_id, sum(subtotal) AS subtotal, sum(shipping) AS shipping, sum(discount) AS discount,
       sum(quantity) AS quantity
FROM (SELECT order_id, line_total AS subtotal, shipping, CAST(0 AS DECIMAL(18,4)) AS discount, quantity
      FROM st_items WHERE is_new
      UNION ALL
      SELECT order_id, 0, CASE WHEN kind = 'shipping' THEN amount ELSE 0 END,
             CASE WHEN kind = 'discount' THEN -amount ELSE 0 END, 0
      FROM st_charges WHERE is_new AND kind IN ('shipping', 'discount'))
WHERE order_id NOT IN (SELECT order_id FROM st_orders WHERE is_new)
GROUP BY order_id
"""
ADD_LINES_TO_EXISTING_ORDERS = """
UPDATE orders SET subtotal = orders.subtotal + a.subtotal,
                  shipping = orders.shipping + a.shipping,
                  discount = orders.discount + a.discount,
                  total = orders.total + a.subtotal + a.shipping - a.discount,
                  items_count = orders.items_count + a.quantity
FROM added_lines a
WHERE orders.order_id = a.order_id
"""

#: Presets whose returns are separate documents: an order's status follows the units refunded against
#: it (all units: refunded; some: partially refunded), for the orders this import touched. Orders in
#: another state (cancelled, shipped…) keep it.
REFUND_STATUS = """
UPDATE orders SET status = CASE WHEN r.units >= orders.items_count THEN 'refunded'
                                WHEN r.units > 0 THEN 'partially_refunded' ELSE 'paid' END
FROM (SELECT t.order_id, coalesce(sum(refunds.quantity), 0) AS units
      FROM touched_orders t LEFT JOIN refunds ON refunds.order_id = t.order_id
      GROUP BY t.order_id) r
WHERE orders.order_id = r.order_id AND orders.status IN ('paid', 'partially_refunded', 'refunded')
"""

#: Products seen again by an import that builds the catalogue from sales widen their first/last sale
#: and price range; the latest price and name follow the latest sale.
SOLD_AGAIN = """
SELECT product_id, name, price, attributes->>'first_sold_at' AS first_sold_at,
       attributes->>'last_sold_at' AS last_sold_at, TRY_CAST(attributes->>'min_price' AS DECIMAL(18,4)) AS lo,
       TRY_CAST(attributes->>'max_price' AS DECIMAL(18,4)) AS hi
FROM st_products WHERE NOT is_dup AND NOT is_new AND (attributes->>'first_sold_at') IS NOT NULL
"""
WIDEN_PRODUCTS = """
UPDATE products SET
    attributes = json_merge_patch(coalesce(products.attributes, '{}'), json_object(
        'first_sold_at', least(products.attributes->>'first_sold_at', s.first_sold_at),
        'last_sold_at', greatest(products.attributes->>'last_sold_at', s.last_sold_at),
        'min_price', CAST(least(TRY_CAST(products.attributes->>'min_price' AS DECIMAL(18,4)), s.lo)
                          AS VARCHAR),
        'max_price', CAST(greatest(TRY_CAST(products.attributes->>'max_price' AS DECIMAL(18,4)), s.hi)
                          AS VARCHAR))),
    price = CASE WHEN (products.attributes->>'last_sold_at') IS NULL
                   OR s.last_sold_at >= (products.attributes->>'last_sold_at') THEN s.price
                 ELSE products.price END,
    name = coalesce(products.name, s.name),
    updated_at = now()
FROM sold_again s
WHERE products.product_id = s.product_id
"""

#: Customers seen again widen their first/last-seen range (``seen_again`` from staging).
SEEN_AGAIN = (
    "SELECT customer_id, first_seen_at, last_seen_at FROM st_customers WHERE NOT is_dup AND NOT is_new"
)
WIDEN_CUSTOMERS = """
UPDATE customers SET first_seen_at = least(customers.first_seen_at, s.first_seen_at),
                     last_seen_at = greatest(customers.last_seen_at, s.last_seen_at)
FROM seen_again s
WHERE customers.customer_id = s.customer_id
  AND (s.first_seen_at < customers.first_seen_at OR s.last_seen_at > customers.last_seen_at
       OR (customers.first_seen_at IS NULL AND s.first_seen_at IS NOT NULL))
"""

#: Orders whose rollups this import changes: new orders, orders that gained lines or refunds.
TOUCHED_ORDERS = """
SELECT order_id FROM st_orders WHERE is_new
UNION SELECT order_id FROM st_items WHERE is_new
UNION SELECT order_id FROM st_refunds WHERE is_new
UNION SELECT order_id FROM st_charges WHERE is_new
"""

#: Events this import inserted, with the columns the rollups merge (as inserted: no user id or campaign).
NEW_EVENTS = """SELECT ts, type, event, anonymous_id, NULL::VARCHAR AS user_id, channel, utm_source,
    NULL::VARCHAR AS utm_campaign, region, country, device FROM st_events WHERE is_new"""
NEW_EVENT_TIMES = "imported_events"

#: Rows of each input file whose record was newly inserted (derived records have no file). A row may
#: give several records (a cancellation line split over the sales it undoes, a session's events): rows are
#: counted once.
LOADED_BY_FILE = """
SELECT _file, count(DISTINCT _row) FROM (
    SELECT _file, _row FROM st_translations WHERE is_new
    UNION ALL SELECT _file, _row FROM st_products WHERE is_new
    UNION ALL SELECT _file, _row FROM st_sellers WHERE is_new
    UNION ALL SELECT _file, _row FROM st_customers WHERE is_new
    UNION ALL SELECT _file, _row FROM st_orders WHERE is_new
    UNION ALL SELECT _file, _row FROM st_items WHERE is_new
    UNION ALL SELECT _file, _row FROM st_refunds WHERE is_new
    UNION ALL SELECT _file, _row FROM st_charges WHERE is_new
    UNION ALL SELECT _file, _row FROM st_payments WHERE is_new
    UNION ALL SELECT _file, _row FROM st_reviews WHERE is_new
    UNION ALL SELECT _file, _row FROM st_events WHERE is_new AND _record
) WHERE _file IS NOT NULL GROUP BY _file
"""


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


#: Non-product lines of this import's files per class (duplicates within the import counted once).
CHARGE_COUNTS = "SELECT kind, count(*) FROM u_charges GROUP BY kind ORDER BY kind"
#: Cancellation lines by how much of them was linked to earlier sales (presets that link returns).
CANCELLATION_COUNTS = """
SELECT count(*) FILTER (WHERE all_matched), count(*) FILTER (WHERE any_matched AND NOT all_matched),
       count(*) FILTER (WHERE NOT any_matched)
FROM (SELECT bool_and(matched) AS all_matched, bool_or(matched) AS any_matched
      FROM u_refunds WHERE matched IS NOT NULL GROUP BY _file, _row)
"""


@dataclass(frozen=True)
class ClassifiedLines:
    """What the import summary reports about lines that are not plain sales."""

    #: class (shipping, discount, fee, adjustment, sample) → lines.
    non_product_lines: dict[str, int]
    #: matched / partly_matched / unmatched → cancellation lines; empty when the preset links none.
    cancellations: dict[str, int]


def classified_lines(staging: Staging) -> ClassifiedLines:
    charges = {str(kind): int(n) for kind, n in staging.run(CHARGE_COUNTS).fetchall()}
    matched, partly, unmatched = staging.run(CANCELLATION_COUNTS).fetchall()[0]
    cancellations = (
        {"matched": int(matched), "partly_matched": int(partly), "unmatched": int(unmatched)}
        if matched + partly + unmatched
        else {}
    )
    return ClassifiedLines(charges, cancellations)


def _count(cur: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = cur.execute(sql).fetchall()
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def _flag_duplicates(staging: Staging, step: Step) -> None:
    """Add ``is_dup``/``is_new`` to a staged table; in-import duplicates are neither kept nor new.

    Staging only, so it runs before the warehouse transaction. Adding constant columns and flagging
    the (few) duplicates costs next to nothing; copying the kept rows cost a tenth of the import.
    """
    table = f"st_{step.name}"
    staging.run(f"ALTER TABLE {table} ADD COLUMN is_dup BOOLEAN DEFAULT false")
    staging.run(f"ALTER TABLE {table} ADD COLUMN is_new BOOLEAN DEFAULT true")
    staging.run(
        f"UPDATE {table} SET is_dup = true, is_new = false "  # noqa: S608
        f"WHERE rowid IN (SELECT rid FROM dup_{step.name})"
    )


def _apply_step(cur: duckdb.DuckDBPyConnection, staging: Staging, step: Step) -> int:
    """Clear ``is_new`` on staged rows the warehouse already holds, insert the rest; returns their count."""
    table = f"st_{step.name}"
    if not staging.scalar(f"SELECT count(*) FROM {table} WHERE is_new"):  # noqa: S608
        return 0
    keys = ", ".join(step.key)
    # Table, step and key names are module constants.
    if cur.execute(f"SELECT 1 FROM {step.table} LIMIT 1").fetchall():  # noqa: S608
        match = " AND ".join(f"w.{k} = s.{k}" for k in step.key)
        cur.register("staged_keys", staging.reader(f"SELECT {keys} FROM {table} WHERE is_new"))  # noqa: S608
        try:
            existing = arrow_table(cur, f"SELECT s.* FROM staged_keys s SEMI JOIN {step.table} w ON {match}")  # noqa: S608
        finally:
            cur.unregister("staged_keys")
        if existing.num_rows:
            # A key part that is NULL never matches: the row stays new (and the insert rejects it).
            staging.register("existing_keys", existing)
            try:
                on = " AND ".join(f"w.{k} = {table}.{k}" for k in step.key)
                staging.run(f"UPDATE {table} SET is_new = false FROM existing_keys w WHERE {on} AND is_new")  # noqa: S608
            finally:
                staging.con.unregister("existing_keys")
    new = int(staging.scalar(f"SELECT count(*) FROM {table} WHERE is_new"))  # noqa: S608
    for chunk in staging.chunks(table, "is_new") if new else ():
        cur.register("new_rows", chunk)
        try:
            cur.execute(step.insert)
        finally:
            cur.unregister("new_rows")
    return new


def _update_from(cur: duckdb.DuckDBPyConnection, staging: Staging, name: str, query: str, update: str) -> int:
    """Run ``update`` with the (small) result of a staging ``query`` registered as ``name``."""
    cur.register(name, staging.arrow(query))
    try:
        return _count(cur, update)
    finally:
        cur.unregister(name)


def apply_staged(
    warehouse: Warehouse,
    staging: Staging,
    files: list[FileRecord],
    *,
    totals_from_items: bool,
    status_from_refunds: bool = False,
) -> ApplyResult:
    """Insert every staged table's new rows and record the files, atomically."""
    result = ApplyResult()
    for step in STEPS:
        _flag_duplicates(staging, step)
    with warehouse.write() as cur:
        for step in STEPS:
            result.inserted[step.table] = _apply_step(cur, staging, step)
        if totals_from_items:
            result.updated["orders"] = _update_from(
                cur, staging, "added_lines", ADDED_LINES, ADD_LINES_TO_EXISTING_ORDERS
            )
        result.updated["customers"] = _update_from(cur, staging, "seen_again", SEEN_AGAIN, WIDEN_CUSTOMERS)
        result.updated["products"] = _update_from(cur, staging, "sold_again", SOLD_AGAIN, WIDEN_PRODUCTS)
        touched = staging.arrow(TOUCHED_ORDERS)
        if status_from_refunds:
            cur.register("touched_orders", touched)
            try:
                _count(cur, REFUND_STATUS)
            finally:
                cur.unregister("touched_orders")
        # Rollups of the hours these orders, lines, refunds and events fall in, in this same transaction.
        cur.register(NEW_EVENT_TIMES, staging.arrow(NEW_EVENTS))
        try:
            facts.publish(cur, facts.FactsChanged("loaded", order_ids=touched, events_table=NEW_EVENT_TIMES))
        finally:
            cur.unregister(NEW_EVENT_TIMES)
        result.loaded_by_file = {int(f): int(n) for f, n in staging.run(LOADED_BY_FILE).fetchall()}
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
    return result
