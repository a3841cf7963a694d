"""Shopify's standard "Orders export" CSV: one row per line item, order fields on the order's first row.

Rules (docs/imports.md):
- order_id = ``Name`` (e.g. ``#1001``, what Shopify shows merchants), external_id = ``Id`` when
  exported; channel ``shopify``; status = ``cancelled`` when ``Cancelled at`` is set, else the
  lower-cased ``Financial Status`` (paid, pending, refunded, partially_refunded, …), else pending.
- Order fields (Financial Status, Paid at, Currency, Subtotal, Shipping, Taxes, Total, Discount
  Code/Amount, Billing/Shipping place, Refunded Amount) come from the order's first row, and the
  export's totals are kept as they are (they include discounts and taxes the lines don't show).
  A first row that fails validation therefore rejects every row of its order.
- Line id = stable_id(source, Name, n) with n the line's position in its order.
- ``Refunded Amount`` > 0 becomes one refund per order (reason ``refunded``). The export has no
  refund date: the refund is dated at ``Cancelled at`` when set, else at the order's time.
- ``Email`` is personal data: it is replaced by a keyed pseudonym (HMAC-SHA256 with the tenant's
  secret, see ``imports.pseudonym``) and never stored. Names, addresses and phones are not read
  at all (only country, province and city are).
- Timestamps carry their UTC offset in Shopify exports; naive ones are read in the tenant's zone.
"""

from __future__ import annotations

from ecomops.imports.presets.base import (
    MISSING,
    NOT_INTEGER,
    NOT_MONEY,
    NOT_TIMESTAMP,
    Mapping,
    Preset,
    PresetContext,
    register_pseudonyms,
)
from ecomops.imports.reader import Column, FileKind
from ecomops.imports.staging import Staging

LINES = FileKind(
    "lines",
    "Shopify orders export",
    (
        Column("name", ("Name",)),
        Column("email", ("Email",), required=False),
        Column("financial_status", ("Financial Status",), required=False),
        Column("paid_at", ("Paid at",), required=False),
        Column("fulfillment_status", ("Fulfillment Status",), required=False),
        Column("currency", ("Currency",), required=False),
        Column("subtotal", ("Subtotal",), required=False),
        Column("shipping", ("Shipping",), required=False),
        Column("taxes", ("Taxes",), required=False),
        Column("total", ("Total",), required=False),
        Column("discount_code", ("Discount Code",), required=False),
        Column("discount_amount", ("Discount Amount",), required=False),
        Column("created_at", ("Created at",)),
        Column("lineitem_quantity", ("Lineitem quantity",)),
        Column("lineitem_name", ("Lineitem name",), required=False),
        Column("lineitem_price", ("Lineitem price",)),
        Column("lineitem_sku", ("Lineitem sku",), required=False),
        Column("lineitem_discount", ("Lineitem discount",), required=False),
        Column("billing_country", ("Billing Country",), required=False),
        Column("billing_province", ("Billing Province",), required=False),
        Column("billing_city", ("Billing City",), required=False),
        Column("shipping_country", ("Shipping Country",), required=False),
        Column("shipping_province", ("Shipping Province",), required=False),
        Column("shipping_city", ("Shipping City",), required=False),
        Column("refunded_amount", ("Refunded Amount",), required=False),
        Column("cancelled_at", ("Cancelled at",), required=False),
        Column("shopify_id", ("Id",), required=False, match_name=False),
        Column("tags", ("Tags",), required=False),
        Column("order_source", ("Source",), required=False, match_name=False),
        Column("payment_method", ("Payment Method",), required=False),
    ),
)

REASONS = {
    "missing": MISSING,
    "not_int": NOT_INTEGER,
    "not_money": NOT_MONEY,
    "not_ts": NOT_TIMESTAMP + " (expected YYYY-MM-DD HH:MM:SS ±hhmm)",
    "not_positive": "quantity must be positive",
    "negative": "must not be negative",
    "not_currency": "not a 3-letter ISO 4217 currency code",
    "too_big": "line total out of range for DECIMAL(18,4)",
    "refund_reason": "refunded",
}

TYPED = """
CREATE TABLE t_lines AS
SELECT _file, _row, nullif(trim(name), '') AS order_name, email, financial_status, fulfillment_status,
       paid_at, to_ts(paid_at, $aware_formats, $naive_formats, $tz) AS paid_ts,
       created_at, to_ts(created_at, $aware_formats, $naive_formats, $tz) AS created_ts,
       cancelled_at, to_ts(cancelled_at, $aware_formats, $naive_formats, $tz) AS cancelled_ts,
       currency, upper(nullif(trim(currency), '')) AS cur,
       subtotal, to_money(subtotal) AS subtotal_m, shipping, to_money(shipping) AS shipping_m,
       taxes, to_money(taxes) AS taxes_m, total, to_money(total) AS total_m,
       nullif(trim(discount_code), '') AS discount_code, discount_amount,
           to_money(discount_amount) AS discount_m,
       refunded_amount, to_money(refunded_amount) AS refunded_m,
       lineitem_quantity, to_int(lineitem_quantity) AS qty, lineitem_name,
       lineitem_price, to_money(lineitem_price) AS price_m, nullif(trim(lineitem_sku), '') AS sku,
       lineitem_discount, to_money(lineitem_discount) AS line_discount_m,
       nullif(trim(coalesce(billing_country, shipping_country)), '') AS country,
       nullif(trim(coalesce(billing_province, shipping_province)), '') AS region,
       nullif(trim(coalesce(billing_city, shipping_city)), '') AS city,
       nullif(trim(shopify_id), '') AS shopify_id, tags, order_source, payment_method,
       row_number() OVER (PARTITION BY _file, nullif(trim(name), '') ORDER BY _row) AS n
FROM raw_lines
"""

CHECKS = """
INSERT INTO rejects
SELECT _file, _row, 'name', NULL, $missing, 1 FROM t_lines WHERE order_name IS NULL
UNION ALL
SELECT _file, _row, 'created_at', created_at, CASE WHEN created_at IS NULL THEN $missing ELSE $not_ts END, 2
FROM t_lines WHERE created_ts IS NULL AND (n = 1 OR created_at IS NOT NULL)
UNION ALL
SELECT _file, _row, 'paid_at', paid_at, $not_ts, 3 FROM t_lines WHERE paid_at IS NOT NULL AND paid_ts IS NULL
UNION ALL
SELECT _file, _row, 'cancelled_at', cancelled_at, $not_ts, 4
FROM t_lines WHERE cancelled_at IS NOT NULL AND cancelled_ts IS NULL
UNION ALL
SELECT _file, _row, 'currency', currency, $not_currency, 5
FROM t_lines WHERE cur IS NOT NULL AND NOT regexp_matches(cur, '^[A-Z]{3}$')
UNION ALL
SELECT _file, _row, c.col, c.value, $not_money, 6
FROM (SELECT _file, _row, unnest([
          {'col': 'subtotal', 'value': subtotal, 'ok': subtotal_m IS NOT NULL},
          {'col': 'shipping', 'value': shipping, 'ok': shipping_m IS NOT NULL},
          {'col': 'taxes', 'value': taxes, 'ok': taxes_m IS NOT NULL},
          {'col': 'total', 'value': total, 'ok': total_m IS NOT NULL},
          {'col': 'discount_amount', 'value': discount_amount, 'ok': discount_m IS NOT NULL},
          {'col': 'refunded_amount', 'value': refunded_amount, 'ok': refunded_m IS NOT NULL},
          {'col': 'lineitem_discount', 'value': lineitem_discount, 'ok': line_discount_m IS NOT NULL}]) AS c
      FROM t_lines)
WHERE c.value IS NOT NULL AND NOT c.ok
UNION ALL
SELECT _file, _row, 'lineitem_quantity', lineitem_quantity,
       CASE WHEN lineitem_quantity IS NULL THEN $missing ELSE $not_int END, 7
FROM t_lines WHERE qty IS NULL
UNION ALL
SELECT _file, _row, 'lineitem_quantity', lineitem_quantity, $not_positive, 8 FROM t_lines WHERE qty <= 0
UNION ALL
SELECT _file, _row, 'lineitem_price', lineitem_price,
       CASE WHEN lineitem_price IS NULL THEN $missing ELSE $not_money END, 9
FROM t_lines WHERE price_m IS NULL
UNION ALL
SELECT _file, _row, 'lineitem_price', lineitem_price, $negative, 10 FROM t_lines WHERE price_m < 0
UNION ALL
SELECT _file, _row, 'lineitem_quantity', lineitem_quantity, $too_big, 11
FROM t_lines WHERE abs(CAST(qty AS DOUBLE) * CAST(price_m AS DOUBLE)) >= 1e14
"""

#: Order fields live on the first row, so a rejected first row takes its order's other rows with it.
FIRST_ROW = """
INSERT INTO rejects
SELECT t._file, t._row, 'name', t.order_name,
       'order rejected: its first row (row ' || CAST(f._row AS VARCHAR) || ') has errors', 20
FROM t_lines t JOIN t_lines f ON f._file = t._file AND f.order_name = t.order_name AND f.n = 1
WHERE t.n > 1 AND EXISTS (SELECT 1 FROM rejects r WHERE r._file = f._file AND r._row = f._row)
"""

VALID = """
CREATE TABLE v_lines AS
SELECT t.*, first_value(t.cur) OVER w AS order_cur, first_value(t.created_ts) OVER w AS order_ts
FROM t_lines t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row
WINDOW w AS (PARTITION BY t._file, t.order_name ORDER BY t._row)
"""

EMAILS = "SELECT DISTINCT email FROM v_lines WHERE n = 1 AND email IS NOT NULL"

ITEMS = """
INSERT INTO st_items
SELECT stable_id_of(concat_ws(chr(31), $source, order_name, CAST(n AS VARCHAR))), order_name, NULL, sku,
       lineitem_name, NULL, qty, price_m, coalesce(line_discount_m, 0),
       qty * price_m - coalesce(line_discount_m, 0), coalesce(order_cur, $currency), order_ts, NULL, 0,
           _file, _row
FROM v_lines
"""

HEADERS = """
CREATE TABLE h_orders AS
SELECT h.*, p.customer_id, l.lines_total, l.lines_quantity
FROM (SELECT * FROM v_lines WHERE n = 1 QUALIFY row_number() OVER (PARTITION BY order_name ORDER BY
    _file) = 1) h
JOIN (SELECT order_id, sum(line_total) AS lines_total,
    sum(quantity) AS lines_quantity FROM u_items GROUP BY order_id) l
  ON l.order_id = h.order_name
LEFT JOIN pseudonyms p ON p.email = h.email
"""

ORDERS = """
INSERT INTO st_orders
SELECT order_name, coalesce(shopify_id, order_name), $source, coalesce($channel, 'shopify'), customer_id,
       CASE WHEN cancelled_ts IS NOT NULL THEN 'cancelled'
            WHEN nullif(trim(financial_status), '') IS NULL THEN 'pending'
            ELSE lower(replace(trim(financial_status), ' ', '_')) END,
       created_ts, paid_ts, coalesce(cur, $currency),
       coalesce(subtotal_m, lines_total), coalesce(discount_m, 0), coalesce(shipping_m, 0),
           coalesce(taxes_m, 0),
       coalesce(total_m, coalesce(subtotal_m, lines_total) - coalesce(discount_m, 0) + coalesce(shipping_m, 0)
                         + coalesce(taxes_m, 0)),
       discount_code, lines_quantity, country, region, city,
       json_object('financial_status', financial_status, 'fulfillment_status', fulfillment_status,
           'tags', tags,
                   'shopify_source', order_source, 'payment_method', payment_method),
       NULL, NULL
FROM h_orders
"""

REFUNDS = """
INSERT INTO st_refunds
SELECT stable_id_of(concat_ws(chr(31), $source, order_name, 'refund')), order_name, NULL, NULL, NULL,
    refunded_m,
       coalesce(cur, $currency), $refund_reason, $source, coalesce(cancelled_ts, created_ts),
       NULL, NULL, NULL, NULL, NULL
FROM h_orders WHERE refunded_m > 0
"""

CUSTOMERS = """
INSERT INTO st_customers
SELECT customer_id, $source, min(ordered_at), max(ordered_at), coalesce($channel, 'shopify'),
       arg_max(country, ordered_at), arg_max(region, ordered_at), arg_max(city, ordered_at), NULL, NULL, NULL
FROM st_orders WHERE customer_id IS NOT NULL GROUP BY customer_id
"""


def _kinds(_: Mapping | None) -> tuple[FileKind, ...]:
    return (LINES,)


def transform(staging: Staging, ctx: PresetContext) -> None:
    params = {**ctx.params(), **REASONS}
    staging.script([TYPED, CHECKS, FIRST_ROW, VALID], params)
    register_pseudonyms(staging, ctx, EMAILS)
    staging.script([ITEMS, HEADERS, ORDERS, REFUNDS, CUSTOMERS], params)


PRESET = Preset(
    name="shopify",
    kinds=_kinds,
    transform=transform,
    totals_from_items=False,
    source="shopify",
)
