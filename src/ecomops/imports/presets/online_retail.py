"""UCI "Online Retail II" (and the classic "Online Retail") invoice lines.

Rules (docs/imports.md):
- Non-product lines are classified by StockCode (``LINE_CLASSES``, changed with a line-class
  ``--mapping`` file): postage → shipping, ``D`` → discount, platform fees and commissions → fee,
  manual and bad-debt adjustments → adjustment, ``S`` → sample. They become ``order_charges`` rows
  (signed ``Quantity × Price``) on whatever invoice they are, never order items or refunds; shipping
  and discount lines of a sales invoice also set that order's ``shipping``/``discount``.
- Invoices starting with ``C`` are cancellations: each product line is linked to the same customer's
  earlier sales lines of the same StockCode (``imports.returns``) and becomes refunds against those
  orders, carrying their customer and country; the part no sale covers is a refund whose
  ``order_id`` is the cancellation invoice, with the row's own customer and country. Reason
  ``cancellation``, dated at InvoiceDate, amount ``units × Price``. A cancellation product line with
  Quantity ≥ 0 is rejected. Order status then follows the units refunded (preset flag).
- Every other invoice with product lines is an order (status ``paid``), its product lines order items
  (line_total = Quantity × Price, dated at the line's InvoiceDate); the order's time is its earliest
  line's InvoiceDate, its customer and country those of its first line; a missing Customer ID is a
  guest order. Every product sold is a catalogue product (code, latest name, first/last sold, price
  range, latest price).
- Rejected (with the reason in the reject file): Quantity ≤ 0 on a product line of a sales invoice
  (stock adjustments such as "damaged"/"lost"), negative Price on a product line, non-numeric or
  missing Quantity/Price, missing Invoice/StockCode, unreadable InvoiceDate. Price 0 with a positive
  Quantity loads (free items): revenue is unaffected.
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
    register_line_classes,
)
from ecomops.imports.reader import Column, FileKind
from ecomops.imports.returns import allocate, pieces_table
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

#: The shop's non-product StockCodes (UCI Online Retail I and II) and what they are. Codes are matched
#: ignoring case ("m" is "M"). Everything else is a product.
LINE_CLASSES: dict[str, str] = {
    "POST": "shipping",  # POSTAGE
    "DOT": "shipping",  # DOTCOM POSTAGE
    "C2": "shipping",  # CARRIAGE
    "D": "discount",  # Discount
    "AMAZONFEE": "fee",  # AMAZON FEE
    "BANK CHARGES": "fee",  # Bank Charges
    "CRUK": "fee",  # CRUK Commission
    "M": "adjustment",  # Manual
    "MANUAL": "adjustment",
    "ADJUST": "adjustment",  # Adjustment by … (stock-take corrections)
    "ADJUST2": "adjustment",
    "B": "adjustment",  # Adjust bad debt (the A… invoices)
    "S": "sample",  # SAMPLES
}

#: The workbook's CSV conversions write ISO dates; the classic Kaggle CSV writes "12/1/2010 8:26".
FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"]

REASONS = {
    "missing": MISSING,
    "not_int": NOT_INTEGER,
    "not_money": NOT_MONEY,
    "not_ts": NOT_TIMESTAMP + " (expected YYYY-MM-DD HH:MM[:SS] or M/D/YYYY H:MM)",
    "sale_qty": "quantity must be positive on a sales invoice (zero or negative lines are stock adjustments)",
    "cancel_qty": "cancellation line must have a negative quantity",
    "neg_price": "negative price on a product line (not a sale; classify the code if it is an adjustment)",
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
       upper(trim(r.invoice)) LIKE 'C%' AS is_cancel, coalesce(k.kind, 'product') AS kind
FROM raw_lines r
LEFT JOIN (SELECT invoice_date, timezone($tz, try_strptime(trim(invoice_date), $formats)) AS ts
           FROM (SELECT DISTINCT invoice_date FROM raw_lines)) d ON d.invoice_date = r.invoice_date
LEFT JOIN line_classes k ON k.code = upper(trim(r.stock_code))
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
SELECT _file, _row, 'quantity', quantity, $sale_qty, 6 FROM t_lines
WHERE NOT is_cancel AND qty <= 0 AND kind = 'product'
UNION ALL
SELECT _file, _row, 'quantity', quantity, $cancel_qty, 7 FROM t_lines
WHERE is_cancel AND qty >= 0 AND kind = 'product'
UNION ALL
SELECT _file, _row, 'price', price, $neg_price, 8 FROM t_lines WHERE unit_price < 0 AND kind = 'product'
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
FROM v_lines LEFT JOIN occ USING (_file, _row) WHERE NOT is_cancel AND kind = 'product'
"""

#: Non-product lines, signed as in the file (a cancelled postage line is a negative shipping charge).
CHARGES = """
INSERT INTO st_charges
SELECT stable_id_of(concat_ws(chr(31), $source, invoice, stock_code, CAST(coalesce(n, 1) AS VARCHAR))),
       invoice, kind, stock_code, description, qty, qty * unit_price, $currency, customer_id, country,
       $source, ts, _file, _row
FROM v_lines LEFT JOIN occ USING (_file, _row) WHERE kind <> 'product'
"""

#: Customer and country of each sales invoice: those of its first line that has one.
HEADERS = """
CREATE TABLE h_invoices AS
SELECT invoice,
       first(customer_id ORDER BY _file, _row) FILTER (WHERE customer_id IS NOT NULL) AS customer_id,
       first(country ORDER BY _file, _row) FILTER (WHERE country IS NOT NULL) AS country
FROM v_lines WHERE NOT is_cancel GROUP BY invoice
"""

#: Cancellation product lines (``cid`` keys them for the allocation) and the sales lines they may
#: undo: lines of the same customer and StockCode. ``seq`` is file order, for ties in time.
CANCELS = """
CREATE TABLE c_lines AS
SELECT row_number() OVER () AS cid, _file, _row, invoice, stock_code, coalesce(n, 1) AS n, -qty AS quantity,
       unit_price, ts, customer_id, country, CAST(_file AS BIGINT) * 4294967296 + _row AS seq
FROM v_lines LEFT JOIN occ USING (_file, _row) WHERE is_cancel AND kind = 'product'
"""
SALES = """
CREATE TABLE s_lines AS
SELECT row_number() OVER () AS sid, i.order_id, h.customer_id, h.country, i.sku AS product,
       i.ordered_at AS ts, CAST(i._file AS BIGINT) * 4294967296 + i._row AS seq, i.quantity
FROM u_items i JOIN h_invoices h ON h.invoice = i.order_id
SEMI JOIN (SELECT DISTINCT customer_id, stock_code FROM c_lines WHERE customer_id IS NOT NULL) k
    ON k.customer_id = h.customer_id AND k.stock_code = i.sku
"""

#: One refund per piece of a cancellation line. The first piece keeps the id the line always had
#: (``stable_id(source, invoice, StockCode, n)``); further pieces add their number.
REFUNDS = """
INSERT INTO st_refunds
SELECT stable_id_of(concat_ws(chr(31), $source, c.invoice, c.stock_code, CAST(c.n AS VARCHAR),
                              CASE WHEN p.piece > 1 THEN CAST(p.piece AS VARCHAR) END)),
       coalesce(s.order_id, c.invoice), c.stock_code, c.stock_code, p.quantity, p.quantity * c.unit_price,
       $currency, 'cancellation', $source, c.ts, coalesce(s.customer_id, c.customer_id),
       CASE WHEN s.sid IS NULL THEN c.country ELSE s.country END, s.sid IS NOT NULL, c._file, c._row
FROM pieces p JOIN c_lines c USING (cid) LEFT JOIN s_lines s ON s.sid = p.sid
"""

#: Orders: invoices with product lines. Their shipping and discount lines set shipping and discount
#: (a discount line is negative when given, so discount = −Σ its amounts).
ORDERS = """
INSERT INTO st_orders
SELECT o.order_id, o.order_id, $source, $channel, h.customer_id, 'paid', o.ordered_at, o.ordered_at,
       $currency, o.subtotal, -coalesce(c.discount, 0), coalesce(c.shipping, 0), 0,
       o.subtotal + coalesce(c.discount, 0) + coalesce(c.shipping, 0), NULL, o.items_count, h.country, NULL,
       NULL, NULL, NULL, NULL
FROM (SELECT order_id, min(ordered_at) AS ordered_at, sum(line_total) AS subtotal,
             sum(quantity) AS items_count
      FROM u_items GROUP BY order_id) o
JOIN h_invoices h ON h.invoice = o.order_id
LEFT JOIN (SELECT order_id, sum(amount) FILTER (WHERE kind = 'shipping') AS shipping,
                  sum(amount) FILTER (WHERE kind = 'discount') AS discount
           FROM u_charges GROUP BY order_id) c ON c.order_id = o.order_id
"""

#: The catalogue from the lines sold: name of the latest line that has one, first/last sale, range
#: of prices charged (free lines at 0 left out; money as exact decimal strings) and the latest price.
PRODUCTS = """
INSERT INTO st_products
SELECT sku, sku, arg_max(name, ordered_at) FILTER (WHERE nullif(trim(name), '') IS NOT NULL), NULL, FALSE,
       json_object('first_sold_at', strftime(timezone('UTC', min(ordered_at)), '%Y-%m-%dT%H:%M:%SZ'),
                   'last_sold_at', strftime(timezone('UTC', max(ordered_at)), '%Y-%m-%dT%H:%M:%SZ'),
                   'min_price', CAST(min(unit_price) FILTER (WHERE unit_price > 0) AS VARCHAR),
                   'max_price', CAST(max(unit_price) FILTER (WHERE unit_price > 0) AS VARCHAR)),
       arg_max(unit_price, ordered_at), $currency, NULL, NULL
FROM u_items GROUP BY sku
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
    register_line_classes(staging, ctx)
    staging.script([TYPED, OCCURRENCES, CHECKS, VALID, ITEMS, CHARGES, HEADERS, CANCELS, SALES], params)
    pieces = allocate(
        staging.arrow("SELECT cid, customer_id, stock_code AS product, ts, seq, quantity FROM c_lines"),
        staging.arrow("SELECT sid, customer_id, product, ts, seq, quantity FROM s_lines"),
    )
    staging.register("pieces", pieces_table(pieces))
    staging.script([REFUNDS, ORDERS, CUSTOMERS, PRODUCTS], params)


PRESET = Preset(
    name="online-retail-ii",
    kinds=_kinds,
    transform=transform,
    default_timezone="Europe/London",
    default_currency="GBP",
    totals_from_items=True,
    source="online-retail-ii",
    line_classes=LINE_CLASSES,
    status_from_refunds=True,
)
