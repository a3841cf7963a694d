"""Any order-lines CSV, described by a mapping file (see ``imports.mapping`` and docs/imports.md).

Rules:
- One row per order line; order fields come from the order's first row (a rejected first row
  rejects the order's other rows too).
- quantity must be a positive whole number (returns are not imported by this preset); a line
  needs unit_price or line_total (line_total defaults to quantity × unit_price − discount,
  unit_price to line_total / quantity); negative amounts are rejected.
- Order totals: subtotal = Σ line totals, total = the mapped total column, else
  subtotal − order_discount + shipping + tax.
- Status: ``status_map`` translates the source text, otherwise it is lower-cased; empty or
  unmapped column → ``status_default``.
- Line id = stable_id(source, order_id, sku|product_id|name, n) with n the occurrence of that
  product in the order, so re-exports in another row order still collide.
- ``customer_email`` is replaced by a keyed pseudonym, never stored.
"""

from __future__ import annotations

import pyarrow as pa

from ecomops.imports.mapping import ColumnMap, MappingFile
from ecomops.imports.presets.base import (
    AWARE_FORMATS,
    MISSING,
    NAIVE_FORMATS,
    NOT_INTEGER,
    NOT_MONEY,
    NOT_TIMESTAMP,
    Mapping,
    Preset,
    PresetContext,
    parse_order_mapping,
    register_pseudonyms,
)
from ecomops.imports.reader import Column, FileKind
from ecomops.imports.staging import Staging
from ecomops.kernel.errors import ValidationFailed

FIELDS = tuple(ColumnMap.model_fields)
REQUIRED = ("order_id", "ordered_at", "quantity")

TYPED = """
CREATE TABLE t_lines AS
SELECT _file, _row, nullif(trim(order_id), '') AS external_order_id,
       -- The mapping's source namespaces order ids, so two platforms' order 1001 stay two orders.
       $source || ':' || nullif(trim(order_id), '') AS order_id,
       ordered_at, to_ts(ordered_at, $g_aware, $g_naive, $tz) AS ordered_ts,
       clean_id(customer_id) AS customer_id, customer_email, nullif(trim(status), '') AS status,
       nullif(trim(channel), '') AS channel, currency, upper(nullif(trim(currency), '')) AS cur,
       nullif(trim(country), '') AS country, nullif(trim(region), '') AS region, nullif(trim(city),
           '') AS city,
       paid_at, to_ts(paid_at, $g_aware, $g_naive, $tz) AS paid_ts, nullif(trim(coupon), '') AS coupon,
       order_discount, to_money(order_discount) AS order_discount_m, shipping,
           to_money(shipping) AS shipping_m,
       tax, to_money(tax) AS tax_m, total, to_money(total) AS total_m,
       nullif(trim(sku), '') AS sku, nullif(trim(product_id), '') AS product_id, name, category,
       quantity, to_int(quantity) AS qty, unit_price, to_money(unit_price) AS price_m,
       line_total, to_money(line_total) AS line_total_m, discount, to_money(discount) AS discount_m,
       row_number() OVER (PARTITION BY _file, nullif(trim(order_id), ''),
                          coalesce(nullif(trim(sku), ''), nullif(trim(product_id), ''), name, '')
                          ORDER BY _row) AS n,
       row_number() OVER (PARTITION BY _file, nullif(trim(order_id), '') ORDER BY _row) AS line_no
FROM raw_lines
"""

CHECKS = """
INSERT INTO rejects
SELECT _file, _row, 'order_id', NULL, $missing, 1 FROM t_lines WHERE order_id IS NULL
UNION ALL
SELECT _file, _row, 'ordered_at', ordered_at, CASE WHEN ordered_at IS NULL THEN $missing ELSE $not_ts END, 2
FROM t_lines WHERE ordered_ts IS NULL AND (line_no = 1 OR ordered_at IS NOT NULL)
UNION ALL
SELECT _file, _row, 'paid_at', paid_at, $not_ts, 3 FROM t_lines WHERE paid_at IS NOT NULL AND paid_ts IS NULL
UNION ALL
SELECT _file, _row, 'currency', currency, $not_currency, 4
FROM t_lines WHERE cur IS NOT NULL AND NOT regexp_matches(cur, '^[A-Z]{3}$')
UNION ALL
SELECT _file, _row, 'quantity', quantity, CASE WHEN quantity IS NULL THEN $missing ELSE $not_int END, 5
FROM t_lines WHERE qty IS NULL
UNION ALL
SELECT _file, _row, 'quantity', quantity, $not_positive, 6 FROM t_lines WHERE qty <= 0
UNION ALL
SELECT _file, _row, $price_col, NULL, $missing, 7 FROM t_lines WHERE unit_price IS NULL AND line_total IS NULL
UNION ALL
SELECT _file, _row, c.col, c.value, $not_money, 8
FROM (SELECT _file, _row, unnest([
          {'col': 'unit_price', 'value': unit_price, 'ok': price_m IS NOT NULL},
          {'col': 'line_total', 'value': line_total, 'ok': line_total_m IS NOT NULL},
          {'col': 'discount', 'value': discount, 'ok': discount_m IS NOT NULL},
          {'col': 'order_discount', 'value': order_discount, 'ok': order_discount_m IS NOT NULL},
          {'col': 'shipping', 'value': shipping, 'ok': shipping_m IS NOT NULL},
          {'col': 'tax', 'value': tax, 'ok': tax_m IS NOT NULL},
          {'col': 'total', 'value': total, 'ok': total_m IS NOT NULL}]) AS c
      FROM t_lines)
WHERE c.value IS NOT NULL AND NOT c.ok
UNION ALL
SELECT _file, _row, c.col, c.value, $negative, 9
FROM (SELECT _file, _row, unnest([
          {'col': 'unit_price', 'value': unit_price, 'm': price_m},
          {'col': 'line_total', 'value': line_total, 'm': line_total_m}]) AS c
      FROM t_lines)
WHERE c.m < 0
UNION ALL
SELECT _file, _row, 'quantity', quantity, $too_big, 10
FROM t_lines WHERE abs(CAST(qty AS DOUBLE) * CAST(coalesce(price_m, 0) AS DOUBLE)) >= 1e14
"""

FIRST_ROW = """
INSERT INTO rejects
SELECT t._file, t._row, 'order_id', t.external_order_id,
       'order rejected: its first row (row ' || CAST(f._row AS VARCHAR) || ') has errors', 20
FROM t_lines t JOIN t_lines f ON f._file = t._file AND f.order_id = t.order_id AND f.line_no = 1
WHERE t.line_no > 1 AND EXISTS (SELECT 1 FROM rejects r WHERE r._file = f._file AND r._row = f._row)
"""

VALID = """
CREATE TABLE v_lines AS
SELECT t.*, first_value(t.cur) OVER w AS order_cur, first_value(t.ordered_ts) OVER w AS order_ts
FROM t_lines t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row
WINDOW w AS (PARTITION BY t._file, t.order_id ORDER BY t._row)
"""

EMAILS = "SELECT DISTINCT customer_email FROM v_lines WHERE line_no = 1 AND customer_email IS NOT NULL"

ITEMS = """
INSERT INTO st_items
SELECT stable_id_of(concat_ws(chr(31), $source, order_id, coalesce(sku, product_id, name, ''),
    CAST(n AS VARCHAR))),
       order_id, product_id, sku, name, category, qty,
       coalesce(price_m, CAST(line_total_m / qty AS DECIMAL(18,4))), coalesce(discount_m, 0),
       coalesce(line_total_m, qty * price_m - coalesce(discount_m, 0)), coalesce(order_cur, $currency),
           order_ts,
       NULL, 0, _file, _row
FROM v_lines
"""

HEADERS = """
CREATE TABLE h_orders AS
SELECT h.*, coalesce(p.customer_id, h.customer_id) AS buyer, m.status AS mapped_status, l.lines_total,
    l.lines_quantity
FROM (SELECT * FROM v_lines WHERE line_no = 1
      QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _file) = 1) h
JOIN (SELECT order_id, sum(line_total) AS lines_total,
    sum(quantity) AS lines_quantity FROM u_items GROUP BY order_id) l
  ON l.order_id = h.order_id
LEFT JOIN pseudonyms p ON p.email = h.customer_email
LEFT JOIN status_map m ON m.source_text = h.status
"""

ORDERS = """
INSERT INTO st_orders
SELECT order_id, external_order_id, $source, coalesce(channel, $channel), buyer,
       coalesce(mapped_status, lower(status), $status_default), order_ts, paid_ts, coalesce(cur, $currency),
       lines_total, coalesce(order_discount_m, 0), coalesce(shipping_m, 0), coalesce(tax_m, 0),
       coalesce(total_m, lines_total - coalesce(order_discount_m, 0) + coalesce(shipping_m,
           0) + coalesce(tax_m, 0)),
       coupon, lines_quantity, country, region, city, NULL, NULL, NULL
FROM h_orders
"""

CUSTOMERS = """
INSERT INTO st_customers
SELECT customer_id, $source, min(ordered_at), max(ordered_at), arg_max(channel, ordered_at),
       arg_max(country, ordered_at), arg_max(region, ordered_at), arg_max(city, ordered_at), NULL, NULL, NULL
FROM st_orders WHERE customer_id IS NOT NULL GROUP BY customer_id
"""


def _kinds(mapping: Mapping | None) -> tuple[FileKind, ...]:
    if not isinstance(mapping, MappingFile):
        raise ValidationFailed(
            "the generic preset needs a mapping file (--mapping map.yaml)", {"field": "mapping"}
        )
    chosen = mapping.columns.model_dump()
    columns = tuple(Column(f, (chosen[f],), required=True, match_name=False) for f in FIELDS if chosen[f])
    absent = tuple(f for f in FIELDS if not chosen[f])
    return (FileKind("lines", "order lines described by the mapping file", columns, absent),)


def transform(staging: Staging, ctx: PresetContext) -> None:
    mapping = ctx.mapping
    if not isinstance(mapping, MappingFile):  # _kinds already refused this; kept for type narrowing
        raise ValidationFailed("the generic preset needs a mapping file", {"field": "mapping"})
    aware = mapping.aware_formats() or AWARE_FORMATS
    naive = mapping.naive_formats() or NAIVE_FORMATS
    layouts = ", ".join(mapping.timestamp_format or ["ISO 8601"])
    params = {
        **ctx.params(),
        "g_aware": aware,
        "g_naive": naive,
        "missing": MISSING,
        "not_int": NOT_INTEGER,
        "not_money": NOT_MONEY,
        "not_ts": f"{NOT_TIMESTAMP} (expected {layouts})",
        "not_currency": "not a 3-letter ISO 4217 currency code",
        "not_positive": "quantity must be positive (the generic preset does not import returns)",
        "negative": "must not be negative",
        "too_big": "line total out of range for DECIMAL(18,4)",
        "price_col": "unit_price" if mapping.columns.unit_price else "line_total",
        "status_default": mapping.status_default,
    }
    staging.register(
        "status_map",
        pa.table(
            {
                "source_text": pa.array(list(mapping.status_map), pa.string()),
                "status": pa.array(list(mapping.status_map.values()), pa.string()),
            }
        ),
    )
    staging.script([TYPED, CHECKS, FIRST_ROW, VALID], params)
    register_pseudonyms(staging, ctx, EMAILS)
    staging.script([ITEMS, HEADERS, ORDERS, CUSTOMERS], params)


PRESET = Preset(
    name="generic",
    kinds=_kinds,
    transform=transform,
    totals_from_items=True,
    source="generic",
    parse_mapping=parse_order_mapping,
    needs_mapping=True,
)
