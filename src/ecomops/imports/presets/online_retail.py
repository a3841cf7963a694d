"""UCI "Online Retail II" (and the classic "Online Retail") invoice lines.

Rules (docs/imports.md):
- Invoices starting with ``C`` are cancellations: each line becomes a refund (amount
  ``|Quantity × Price|``, dated at InvoiceDate, ``order_id`` = the cancellation invoice, reason
  ``cancellation``). A cancellation line with Quantity ≥ 0 is rejected.
- Every other invoice is an order (status ``paid``), its lines order items (line_total =
  Quantity × Price, dated at the line's InvoiceDate); the order's time is its earliest line's
  InvoiceDate, its customer and country those of its first line; a missing Customer ID is a guest
  order.
- Rejected (with the reason in the reject file): Quantity ≤ 0 on a sales invoice (stock
  adjustments such as "damaged"/"lost"), negative Price (the ``A`` bad-debt adjustments),
  non-numeric or missing Quantity/Price, missing Invoice/StockCode, unreadable InvoiceDate.
  Price 0 with a positive Quantity loads (free items): revenue is unaffected.
- InvoiceDate is UK local time (Europe/London) unless ``source_timezone`` says otherwise;
  money is GBP unless ``currency`` says otherwise.
- Line id = stable_id(source, Invoice, StockCode, n) where n numbers the occurrences of that
  StockCode within the invoice in file order, so the overlapping December 2010 rows of the two
  workbook sheets get the same ids and load once.
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
)
from ecomops.imports.reader import Column, FileKind
from ecomops.imports.staging import Staging

LINES = FileKind(
    "lines",
    "Online Retail II invoice lines",
    (
        Column("invoice", ("Invoice", "InvoiceNo")),
        Column("stock_code", ("StockCode",)),
        Column("description", ("Description",), required=False),
        Column("quantity", ("Quantity",)),
        Column("invoice_date", ("InvoiceDate",)),
        Column("price", ("Price", "UnitPrice")),
        Column("customer_id", ("Customer ID", "CustomerID"), required=False),
        Column("country", ("Country",), required=False),
    ),
)

#: The workbook's CSV conversions write ISO dates; the classic Kaggle CSV writes "12/1/2010 8:26".
FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"]

REASONS = {
    "missing": MISSING,
    "not_int": NOT_INTEGER,
    "not_money": NOT_MONEY,
    "not_ts": NOT_TIMESTAMP + " (expected YYYY-MM-DD HH:MM[:SS] or M/D/YYYY H:MM)",
    "sale_qty": "quantity must be positive on a sales invoice (zero or negative lines are stock adjustments)",
    "cancel_qty": "cancellation line must have a negative quantity",
    "neg_price": "negative price (bad-debt adjustment), not a sale",
    "too_big": "line total out of range for DECIMAL(18,4)",
}

#: InvoiceDate repeats on every line of an invoice (≈ 25k distinct values in 525k lines): parsing
#: and converting each distinct text once and joining it back is cheaper than doing it per line.
TYPED = """
CREATE TABLE t_lines AS
SELECT r._file, r._row,
       nullif(trim(r.invoice), '') AS invoice, nullif(trim(r.stock_code), '') AS stock_code, r.description,
       r.quantity, r.price, r.invoice_date, clean_id(r.customer_id) AS customer_id,
       nullif(trim(r.country), '') AS country,
       to_int(r.quantity) AS qty, to_money(r.price) AS unit_price, d.ts,
       upper(trim(r.invoice)) LIKE 'C%' AS is_cancel
FROM raw_lines r
LEFT JOIN (SELECT invoice_date, timezone($tz, try_strptime(trim(invoice_date), $formats)) AS ts
           FROM (SELECT DISTINCT invoice_date FROM raw_lines)) d ON d.invoice_date = r.invoice_date
"""

#: n-th occurrence of a StockCode within its invoice, in file order, over all rows of the file (so a
#: line's id does not depend on which other rows are valid). Only repeated pairs need numbering —
#: about 3 % of the rows — every other line is occurrence 1; numbering just those is much cheaper.
OCCURRENCES = """
CREATE TABLE occ AS
SELECT _file, _row, row_number() OVER (PARTITION BY _file, invoice, stock_code ORDER BY _row) AS n
FROM t_lines
SEMI JOIN (SELECT _file, invoice, stock_code FROM t_lines GROUP BY ALL HAVING count(*) > 1) d
    USING (_file, invoice, stock_code)
"""

CHECKS = """
INSERT INTO rejects
SELECT _file, _row, 'invoice', NULL, $missing, 1 FROM t_lines WHERE invoice IS NULL
UNION ALL
SELECT _file, _row, 'stock_code', NULL, $missing, 2 FROM t_lines WHERE stock_code IS NULL
UNION ALL
SELECT _file, _row, 'quantity', quantity, CASE WHEN quantity IS NULL THEN $missing ELSE $not_int END, 3
FROM t_lines WHERE qty IS NULL
UNION ALL
SELECT _file, _row, 'price', price, CASE WHEN price IS NULL THEN $missing ELSE $not_money END, 4
FROM t_lines WHERE unit_price IS NULL
UNION ALL
SELECT _file, _row, 'invoice_date', invoice_date,
    CASE WHEN invoice_date IS NULL THEN $missing ELSE $not_ts END, 5
FROM t_lines WHERE ts IS NULL
UNION ALL
SELECT _file, _row, 'quantity', quantity, $sale_qty, 6 FROM t_lines WHERE NOT is_cancel AND qty <= 0
UNION ALL
SELECT _file, _row, 'quantity', quantity, $cancel_qty, 7 FROM t_lines WHERE is_cancel AND qty >= 0
UNION ALL
SELECT _file, _row, 'price', price, $neg_price, 8 FROM t_lines WHERE unit_price < 0
UNION ALL
SELECT _file, _row, 'quantity', quantity, $too_big, 9
FROM t_lines WHERE abs(CAST(qty AS DOUBLE) * CAST(unit_price AS DOUBLE)) >= 1e14
"""

VALID = """
CREATE VIEW v_lines AS
SELECT t.* FROM t_lines t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row
"""

ITEMS = """
INSERT INTO st_items
SELECT stable_id_of(concat_ws(chr(31), $source, invoice, stock_code, CAST(coalesce(n, 1) AS VARCHAR))),
       invoice, stock_code, stock_code, description, NULL, qty, unit_price, 0, qty * unit_price, $currency,
       ts, NULL, 0, _file, _row
FROM v_lines LEFT JOIN occ USING (_file, _row) WHERE NOT is_cancel
"""

REFUNDS = """
INSERT INTO st_refunds
SELECT stable_id_of(concat_ws(chr(31), $source, invoice, stock_code, CAST(coalesce(n, 1) AS VARCHAR))),
       invoice, stock_code, stock_code, -qty, abs(qty * unit_price), $currency, 'cancellation', $source, ts,
       _file, _row
FROM v_lines LEFT JOIN occ USING (_file, _row) WHERE is_cancel
"""

ORDERS = """
INSERT INTO st_orders
SELECT o.order_id, o.order_id, $source, $channel, h.customer_id, 'paid', o.ordered_at, o.ordered_at,
    $currency,
       o.subtotal, 0, 0, 0, o.subtotal, NULL, o.items_count, h.country, NULL, NULL, NULL, NULL, NULL
FROM (SELECT order_id, min(ordered_at) AS ordered_at, sum(line_total) AS subtotal,
             sum(quantity) AS items_count
      FROM u_items GROUP BY order_id) o
JOIN (SELECT invoice,
             first(customer_id ORDER BY _file, _row) FILTER (WHERE customer_id IS NOT NULL) AS customer_id,
             first(country ORDER BY _file, _row) FILTER (WHERE country IS NOT NULL) AS country
      FROM v_lines WHERE NOT is_cancel GROUP BY invoice) h ON h.invoice = o.order_id
"""

CUSTOMERS = """
INSERT INTO st_customers
SELECT customer_id, $source, min(ordered_at), max(ordered_at), $channel, arg_max(country, ordered_at),
       NULL, NULL, NULL, NULL, NULL
FROM st_orders WHERE customer_id IS NOT NULL GROUP BY customer_id
"""


def _kinds(_: Mapping | None) -> tuple[FileKind, ...]:
    return (LINES,)


def transform(staging: Staging, ctx: PresetContext) -> None:
    params = {**ctx.params(), **REASONS, "formats": FORMATS}
    staging.script([TYPED, OCCURRENCES, CHECKS, VALID, ITEMS, REFUNDS, ORDERS, CUSTOMERS], params)


PRESET = Preset(
    name="online-retail-ii",
    kinds=_kinds,
    transform=transform,
    default_timezone="Europe/London",
    default_currency="GBP",
    totals_from_items=True,
    source="online-retail-ii",
)
