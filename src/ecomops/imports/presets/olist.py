"""Olist "Brazilian E-Commerce Public Dataset": all of its CSVs in one call, each recognised by header.

Rules (docs/imports.md):
- orders → ``orders``: order_id as is; customer = ``customer_unique_id`` (Olist's customer_id is per
  order, so the customers file must come in the same call); status ``canceled`` → ``cancelled``,
  others as Olist writes them; ordered_at = purchase time, paid_at = approval time; delivery
  times kept in ``properties``; totals = Σ item price (subtotal) + Σ freight (shipping).
- order items → ``order_items`` (one unit per row, item id = stable_id(source, order_id,
  order_item_id), seller in ``seller_id``); the order must be in this import or already loaded.
- customers → ``customers`` keyed by customer_unique_id (state → region, city, zip prefix in
  attributes); reviews → ``reviews`` (language ``pt``); payments → ``order_payments`` (no order
  needed); products → ``products`` (category translated to English through
  ``product_category_translations``, loaded from the translation file in this or an earlier call);
  sellers → ``sellers``.
- Timestamps are America/Sao_Paulo local time, money BRL, unless the caller overrides them.
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
    lookup_existing_orders,
)
from ecomops.imports.reader import Column, FileKind
from ecomops.imports.staging import Staging
from ecomops.kernel.errors import ValidationFailed

ORDERS = FileKind(
    "orders",
    "olist_orders_dataset",
    (
        Column("order_id", ()),
        Column("customer_id", ()),
        Column("order_status", ()),
        Column("order_purchase_timestamp", ()),
        Column("order_approved_at", (), required=False),
        Column("order_delivered_carrier_date", (), required=False),
        Column("order_delivered_customer_date", (), required=False),
        Column("order_estimated_delivery_date", (), required=False),
    ),
)
ITEMS = FileKind(
    "items",
    "olist_order_items_dataset",
    (
        Column("order_id", ()),
        Column("order_item_id", ()),
        Column("product_id", ()),
        Column("seller_id", ()),
        Column("shipping_limit_date", (), required=False),
        Column("price", ()),
        Column("freight_value", ()),
    ),
)
CUSTOMERS = FileKind(
    "customers",
    "olist_customers_dataset",
    (
        Column("customer_id", ()),
        Column("customer_unique_id", ()),
        Column("customer_zip_code_prefix", (), required=False),
        Column("customer_city", (), required=False),
        Column("customer_state", (), required=False),
    ),
)
REVIEWS = FileKind(
    "reviews",
    "olist_order_reviews_dataset",
    (
        Column("review_id", ()),
        Column("order_id", ()),
        Column("review_score", ()),
        Column("review_comment_title", (), required=False),
        Column("review_comment_message", (), required=False),
        Column("review_creation_date", ()),
        Column("review_answer_timestamp", (), required=False),
    ),
)
PAYMENTS = FileKind(
    "payments",
    "olist_order_payments_dataset",
    (
        Column("order_id", ()),
        Column("payment_sequential", ()),
        Column("payment_type", (), required=False),
        Column("payment_installments", (), required=False),
        Column("payment_value", ()),
    ),
)
PRODUCTS = FileKind(
    "products",
    "olist_products_dataset",
    (
        Column("product_id", ()),
        Column("product_category_name", ()),
        # Olist's header misspells "length"; both spellings are accepted.
        Column("product_name_length", ("product_name_lenght",), required=False),
        Column("product_description_length", ("product_description_lenght",), required=False),
        Column("product_photos_qty", (), required=False),
        Column("product_weight_g", (), required=False),
        Column("product_length_cm", (), required=False),
        Column("product_height_cm", (), required=False),
        Column("product_width_cm", (), required=False),
    ),
)
SELLERS = FileKind(
    "sellers",
    "olist_sellers_dataset",
    (
        Column("seller_id", ()),
        Column("seller_zip_code_prefix", ()),
        Column("seller_city", (), required=False),
        Column("seller_state", (), required=False),
    ),
)
TRANSLATIONS = FileKind(
    "translations",
    "product_category_name_translation",
    (
        Column("product_category_name", ()),
        Column("product_category_name_english", ()),
    ),
)
KINDS = (ORDERS, ITEMS, CUSTOMERS, REVIEWS, PAYMENTS, PRODUCTS, SELLERS, TRANSLATIONS)

REASONS = {
    "missing": MISSING,
    "not_int": NOT_INTEGER,
    "not_money": NOT_MONEY,
    "not_ts": NOT_TIMESTAMP + " (expected YYYY-MM-DD HH:MM:SS)",
    "negative": "must not be negative",
    "no_customer": "customer_id not in the olist_customers_dataset file of this import",
    "no_order": "order_id not in olist_orders_dataset (neither in this import nor already imported)",
    "bad_score": "review_score must be a whole number from 1 to 5",
    "not_number": "not a number",
}

TYPED = [
    """CREATE TABLE t_customers AS
       SELECT _file, _row, nullif(trim(customer_id), '') AS customer_id,
              nullif(trim(customer_unique_id), '') AS unique_id,
              nullif(trim(customer_zip_code_prefix), '') AS zip, customer_city AS city,
                  customer_state AS state
       FROM raw_customers""",
    """CREATE TABLE t_orders AS
       SELECT _file, _row, nullif(trim(order_id), '') AS order_id, nullif(trim(customer_id),
           '') AS customer_id,
              nullif(trim(order_status), '') AS order_status,
              order_purchase_timestamp, order_approved_at, order_delivered_carrier_date,
              order_delivered_customer_date, order_estimated_delivery_date,
              to_ts(order_purchase_timestamp, $aware_formats, $naive_formats, $tz) AS purchased_at,
              to_ts(order_approved_at, $aware_formats, $naive_formats, $tz) AS approved_at,
              to_ts(order_delivered_carrier_date, $aware_formats, $naive_formats, $tz) AS carrier_at,
              to_ts(order_delivered_customer_date, $aware_formats, $naive_formats, $tz) AS delivered_at,
              to_ts(order_estimated_delivery_date, $aware_formats, $naive_formats, $tz) AS estimated_at
       FROM raw_orders""",
    """CREATE TABLE t_items AS
       SELECT _file, _row, nullif(trim(order_id), '') AS order_id, order_item_id,
           to_int(order_item_id) AS item_no,
              nullif(trim(product_id), '') AS product_id, nullif(trim(seller_id), '') AS seller_id,
              shipping_limit_date, to_ts(shipping_limit_date, $aware_formats, $naive_formats,
                  $tz) AS limit_at,
              price, to_money(price) AS amount, freight_value, to_money(freight_value) AS freight
       FROM raw_items""",
    """CREATE TABLE t_reviews AS
       SELECT _file, _row, nullif(trim(review_id), '') AS review_id, nullif(trim(order_id), '') AS order_id,
              review_score, to_int(review_score) AS score, review_comment_title AS title,
              review_comment_message AS message, review_creation_date, review_answer_timestamp,
              to_ts(review_creation_date, $aware_formats, $naive_formats, $tz) AS created_at,
              to_ts(review_answer_timestamp, $aware_formats, $naive_formats, $tz) AS answered_at
       FROM raw_reviews""",
    """CREATE TABLE t_payments AS
       SELECT _file, _row, nullif(trim(order_id), '') AS order_id, payment_sequential,
              to_int(payment_sequential) AS seq, nullif(trim(payment_type), '') AS payment_type,
              payment_installments, to_int(payment_installments) AS installments,
              payment_value, to_money(payment_value) AS amount
       FROM raw_payments""",
    """CREATE TABLE t_products AS
       SELECT _file, _row, nullif(trim(product_id), '') AS product_id,
              nullif(trim(product_category_name), '') AS category,
              product_name_length, product_description_length, product_photos_qty, product_weight_g,
              product_length_cm, product_height_cm, product_width_cm
       FROM raw_products""",
    """CREATE TABLE t_sellers AS
       SELECT _file, _row, nullif(trim(seller_id), '') AS seller_id,
              nullif(trim(seller_zip_code_prefix), '') AS zip, seller_city AS city, seller_state AS state
       FROM raw_sellers""",
    """CREATE TABLE t_translations AS
       SELECT _file, _row, nullif(trim(product_category_name), '') AS category,
              nullif(trim(product_category_name_english), '') AS translation
       FROM raw_translations""",
]

CUSTOMER_ORDER_CHECKS = [
    """INSERT INTO rejects
       SELECT _file, _row, 'customer_id', NULL, $missing, 1 FROM t_customers WHERE customer_id IS NULL
       UNION ALL
       SELECT _file, _row, 'customer_unique_id', NULL, $missing,
           2 FROM t_customers WHERE unique_id IS NULL""",
    """CREATE TABLE cmap AS
       SELECT customer_id, first(unique_id ORDER BY _file, _row) AS unique_id,
              first(state ORDER BY _file, _row) AS state, first(city ORDER BY _file, _row) AS city
       FROM t_customers t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row
       GROUP BY customer_id""",
    """INSERT INTO rejects
       SELECT _file, _row, 'order_id', NULL, $missing, 1 FROM t_orders WHERE order_id IS NULL
       UNION ALL
       SELECT _file, _row, 'customer_id', NULL, $missing, 2 FROM t_orders WHERE customer_id IS NULL
       UNION ALL
       SELECT _file, _row, 'order_purchase_timestamp', order_purchase_timestamp,
              CASE WHEN order_purchase_timestamp IS NULL THEN $missing ELSE $not_ts END, 3
       FROM t_orders WHERE purchased_at IS NULL
       UNION ALL
       SELECT _file, _row, 'order_approved_at', order_approved_at, $not_ts, 4
       FROM t_orders WHERE order_approved_at IS NOT NULL AND approved_at IS NULL
       UNION ALL
       SELECT _file, _row, 'order_delivered_carrier_date', order_delivered_carrier_date, $not_ts, 5
       FROM t_orders WHERE order_delivered_carrier_date IS NOT NULL AND carrier_at IS NULL
       UNION ALL
       SELECT _file, _row, 'order_delivered_customer_date', order_delivered_customer_date, $not_ts, 6
       FROM t_orders WHERE order_delivered_customer_date IS NOT NULL AND delivered_at IS NULL
       UNION ALL
       SELECT _file, _row, 'order_estimated_delivery_date', order_estimated_delivery_date, $not_ts, 7
       FROM t_orders WHERE order_estimated_delivery_date IS NOT NULL AND estimated_at IS NULL
       UNION ALL
       SELECT _file, _row, 'customer_id', customer_id, $no_customer, 8
       FROM t_orders WHERE customer_id IS NOT NULL AND customer_id NOT IN (SELECT customer_id FROM cmap)""",
    """CREATE TABLE v_orders AS
       SELECT t.* FROM t_orders t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row""",
]

#: Orders items and reviews may point at: those of this import and those already in the warehouse.
REFERENCED_ORDERS = """
SELECT DISTINCT order_id FROM (SELECT order_id FROM t_items UNION ALL SELECT order_id FROM t_reviews)
WHERE order_id IS NOT NULL AND order_id NOT IN (SELECT order_id FROM v_orders)
"""

ALL_ORDERS = """
CREATE TABLE all_orders AS
SELECT o.order_id, o.purchased_at AS ordered_at, $currency AS currency, m.unique_id AS customer_id
FROM v_orders o JOIN cmap m ON m.customer_id = o.customer_id
UNION ALL
SELECT order_id, ordered_at, currency, customer_id FROM wh_orders
"""

OTHER_CHECKS = [
    """INSERT INTO rejects
       SELECT _file, _row, 'order_id', NULL, $missing, 1 FROM t_items WHERE order_id IS NULL
       UNION ALL
       SELECT _file, _row, 'order_item_id', order_item_id,
              CASE WHEN order_item_id IS NULL THEN $missing ELSE $not_int END, 2
       FROM t_items WHERE item_no IS NULL
       UNION ALL
       SELECT _file, _row, 'product_id', NULL, $missing, 3 FROM t_items WHERE product_id IS NULL
       UNION ALL
       SELECT _file, _row, 'seller_id', NULL, $missing, 4 FROM t_items WHERE seller_id IS NULL
       UNION ALL
       SELECT _file, _row, 'shipping_limit_date', shipping_limit_date, $not_ts, 5
       FROM t_items WHERE shipping_limit_date IS NOT NULL AND limit_at IS NULL
       UNION ALL
       SELECT _file, _row, 'price', price, CASE WHEN price IS NULL THEN $missing ELSE $not_money END, 6
       FROM t_items WHERE amount IS NULL
       UNION ALL
       SELECT _file, _row, 'price', price, $negative, 7 FROM t_items WHERE amount < 0
       UNION ALL
       SELECT _file, _row, 'freight_value', freight_value,
              CASE WHEN freight_value IS NULL THEN $missing ELSE $not_money END, 8
       FROM t_items WHERE freight IS NULL
       UNION ALL
       SELECT _file, _row, 'freight_value', freight_value, $negative, 9 FROM t_items WHERE freight < 0
       UNION ALL
       SELECT _file, _row, 'order_id', order_id, $no_order, 10
       FROM t_items WHERE order_id IS NOT NULL AND order_id NOT IN (SELECT order_id FROM all_orders)""",
    """INSERT INTO rejects
       SELECT _file, _row, 'review_id', NULL, $missing, 1 FROM t_reviews WHERE review_id IS NULL
       UNION ALL
       SELECT _file, _row, 'order_id', NULL, $missing, 2 FROM t_reviews WHERE order_id IS NULL
       UNION ALL
       SELECT _file, _row, 'review_score', review_score,
              CASE WHEN review_score IS NULL THEN $missing ELSE $bad_score END, 3
       FROM t_reviews WHERE score IS NULL OR score NOT BETWEEN 1 AND 5
       UNION ALL
       SELECT _file, _row, 'review_creation_date', review_creation_date,
              CASE WHEN review_creation_date IS NULL THEN $missing ELSE $not_ts END, 4
       FROM t_reviews WHERE created_at IS NULL
       UNION ALL
       SELECT _file, _row, 'review_answer_timestamp', review_answer_timestamp, $not_ts, 5
       FROM t_reviews WHERE review_answer_timestamp IS NOT NULL AND answered_at IS NULL""",
    """INSERT INTO rejects
       SELECT _file, _row, 'order_id', NULL, $missing, 1 FROM t_payments WHERE order_id IS NULL
       UNION ALL
       SELECT _file, _row, 'payment_sequential', payment_sequential,
              CASE WHEN payment_sequential IS NULL THEN $missing ELSE $not_int END, 2
       FROM t_payments WHERE seq IS NULL
       UNION ALL
       SELECT _file, _row, 'payment_installments', payment_installments, $not_int, 3
       FROM t_payments WHERE payment_installments IS NOT NULL AND installments IS NULL
       UNION ALL
       SELECT _file, _row, 'payment_value', payment_value,
              CASE WHEN payment_value IS NULL THEN $missing ELSE $not_money END, 4
       FROM t_payments WHERE amount IS NULL
       UNION ALL
       SELECT _file, _row, 'payment_value', payment_value, $negative, 5 FROM t_payments WHERE amount < 0""",
    """INSERT INTO rejects
       SELECT _file, _row, 'product_id', NULL, $missing, 1 FROM t_products WHERE product_id IS NULL
       UNION ALL
       SELECT _file, _row, c.col, c.value, $not_number, 2
       FROM (SELECT _file, _row, unnest([
                 {'col': 'product_name_length', 'value': product_name_length},
                 {'col': 'product_description_length', 'value': product_description_length},
                 {'col': 'product_photos_qty', 'value': product_photos_qty},
                 {'col': 'product_weight_g', 'value': product_weight_g},
                 {'col': 'product_length_cm', 'value': product_length_cm},
                 {'col': 'product_height_cm', 'value': product_height_cm},
                 {'col': 'product_width_cm', 'value': product_width_cm}]) AS c
             FROM t_products)
       WHERE c.value IS NOT NULL AND TRY_CAST(trim(c.value) AS DOUBLE) IS NULL""",
    """INSERT INTO rejects
       SELECT _file, _row, 'seller_id', NULL, $missing, 1 FROM t_sellers WHERE seller_id IS NULL
       UNION ALL
       SELECT _file, _row, 'product_category_name', NULL, $missing,
           1 FROM t_translations WHERE category IS NULL
       UNION ALL
       SELECT _file, _row, 'product_category_name_english', NULL, $missing, 2
       FROM t_translations WHERE translation IS NULL""",
]

STAGE = [
    """INSERT INTO st_customers
       SELECT c.unique_id, $source, s.first_seen, s.last_seen, $channel, 'BR', c.state, c.city,
              json_object('zip_code_prefix', c.zip), c._file, c._row
       FROM (SELECT t.* FROM t_customers t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row
             QUALIFY row_number() OVER (PARTITION BY unique_id ORDER BY _file, _row) = 1) c
       LEFT JOIN (SELECT m.unique_id, min(o.purchased_at) AS first_seen, max(o.purchased_at) AS last_seen
                  FROM v_orders o JOIN cmap m ON m.customer_id = o.customer_id GROUP BY m.unique_id) s
              ON s.unique_id = c.unique_id""",
    """INSERT INTO st_items
       SELECT stable_id_of(concat_ws(chr(31), $source, i.order_id, CAST(i.item_no AS VARCHAR))),
              i.order_id, i.product_id, NULL, NULL, NULL, 1, i.amount, 0, i.amount, a.currency, a.ordered_at,
              i.seller_id, i.freight, i._file, i._row
       FROM (SELECT t.* FROM t_items t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row) i
       JOIN (SELECT * FROM all_orders QUALIFY row_number() OVER (PARTITION BY order_id) = 1) a
         ON a.order_id = i.order_id""",
    """INSERT INTO st_orders
       SELECT o.order_id, o.order_id, $source, $channel, m.unique_id,
              CASE WHEN o.order_status = 'canceled' THEN 'cancelled' ELSE coalesce(o.order_status,
                  'pending') END,
              o.purchased_at, o.approved_at, $currency, coalesce(t.subtotal, 0), 0, coalesce(t.shipping,
                  0), 0,
              coalesce(t.subtotal, 0) + coalesce(t.shipping, 0), NULL, coalesce(t.n, 0), 'BR', m.state,
                  m.city,
              json_object('olist_status', o.order_status, 'delivered_carrier_at', o.carrier_at,
                          'delivered_customer_at', o.delivered_at, 'estimated_delivery_at', o.estimated_at),
              o._file, o._row
       FROM v_orders o JOIN cmap m ON m.customer_id = o.customer_id
       LEFT JOIN (SELECT order_id, sum(line_total) AS subtotal, sum(shipping) AS shipping, count(*) AS n
                  FROM u_items GROUP BY order_id) t ON t.order_id = o.order_id""",
    """INSERT INTO st_reviews
       SELECT stable_id_of(concat_ws(chr(31), $source, v.review_id, v.order_id)), v.order_id, NULL,
              a.customer_id, $channel, v.score, v.title, v.message, 'pt', v.created_at, v._file, v._row
       FROM (SELECT t.* FROM t_reviews t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row) v
       LEFT JOIN (SELECT * FROM all_orders QUALIFY row_number() OVER (PARTITION BY order_id) = 1) a
              ON a.order_id = v.order_id""",
    """INSERT INTO st_payments
       SELECT stable_id_of(concat_ws(chr(31), $source, p.order_id, CAST(p.seq AS VARCHAR))), p.order_id,
           p.seq,
              p.payment_type, p.installments, p.amount, $currency, $source, p._file, p._row
       FROM t_payments p ANTI JOIN rejects r ON r._file = p._file AND r._row = p._row""",
    """INSERT INTO st_products
       SELECT p.product_id, NULL, NULL, p.category, TRUE,
              json_object('category_pt', p.category,
                          'name_length', TRY_CAST(trim(p.product_name_length) AS DOUBLE),
                          'description_length', TRY_CAST(trim(p.product_description_length) AS DOUBLE),
                          'photos_qty', TRY_CAST(trim(p.product_photos_qty) AS DOUBLE),
                          'weight_g', TRY_CAST(trim(p.product_weight_g) AS DOUBLE),
                          'length_cm', TRY_CAST(trim(p.product_length_cm) AS DOUBLE),
                          'height_cm', TRY_CAST(trim(p.product_height_cm) AS DOUBLE),
                          'width_cm', TRY_CAST(trim(p.product_width_cm) AS DOUBLE)),
              NULL, NULL, p._file, p._row
       FROM t_products p ANTI JOIN rejects r ON r._file = p._file AND r._row = p._row""",
    """INSERT INTO st_sellers
       SELECT s.seller_id, $source, s.zip, s.city, s.state, 'BR', s._file, s._row
       FROM t_sellers s ANTI JOIN rejects r ON r._file = s._file AND r._row = s._row""",
    """INSERT INTO st_translations
       SELECT t.category, 'en', t.translation, t._file, t._row
       FROM t_translations t ANTI JOIN rejects r ON r._file = t._file AND r._row = t._row""",
]


def _kinds(_: Mapping | None) -> tuple[FileKind, ...]:
    return KINDS


def check_kinds(files_by_kind: dict[str, list[str]]) -> None:
    """Orders need the customers file: it is the only link from an order to the person who bought."""
    if "orders" in files_by_kind and "customers" not in files_by_kind:
        raise ValidationFailed(
            "olist orders need olist_customers_dataset in the same import: it maps each order's "
            "customer_id to the customer_unique_id the warehouse keys customers by",
            {"files": files_by_kind["orders"], "missing": "olist_customers_dataset"},
        )


def transform(staging: Staging, ctx: PresetContext) -> None:
    params = {**ctx.params(), **REASONS}
    staging.script(TYPED, params)
    staging.script(CUSTOMER_ORDER_CHECKS, params)
    lookup_existing_orders(staging, ctx, REFERENCED_ORDERS)
    staging.run(ALL_ORDERS, params)
    staging.script(OTHER_CHECKS, params)
    staging.script(STAGE, params)


PRESET = Preset(
    name="olist",
    kinds=_kinds,
    transform=transform,
    default_timezone="America/Sao_Paulo",
    default_currency="BRL",
    totals_from_items=True,
    check_kinds=check_kinds,
    source="olist",
)
