"""Olist: the four real tables in data/olist plus schema-true fixtures (orders, items, customers, reviews)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ecomops.kernel.errors import ValidationFailed
from tests.datasets import OLIST_PAYMENTS as PAYMENTS
from tests.datasets import OLIST_PRODUCTS as PRODUCTS
from tests.datasets import OLIST_SELLERS as SELLERS
from tests.datasets import OLIST_TRANSLATION as TRANSLATION
from tests.imports.conftest import FIXTURES, Importer, read_rejects

ORDERS = FIXTURES / "olist_orders_dataset.csv"
ITEMS = FIXTURES / "olist_order_items_dataset.csv"
CUSTOMERS = FIXTURES / "olist_customers_dataset.csv"
REVIEWS = FIXTURES / "olist_order_reviews_dataset.csv"
ALL = [
    PAYMENTS,
    ITEMS,
    PRODUCTS,
    REVIEWS,
    SELLERS,
    ORDERS,
    TRANSLATION,
    CUSTOMERS,
]  # any order: found by header
ALICE = "7c396fd4830fd04220f754e42b4e5bff"


def test_all_files_in_one_call(importer: Importer) -> None:
    summary = importer.run(ALL, "olist")
    kinds = {
        f.file: (f.kind, f.rows_read, f.rows_loaded, f.rows_duplicate, f.rows_rejected) for f in summary.files
    }
    assert kinds == {
        "olist_order_payments_dataset.csv.gz": ("payments", 103_886, 103_886, 0, 0),
        "olist_products_dataset.csv.gz": ("products", 32_951, 32_951, 0, 0),
        "olist_sellers_dataset.csv.gz": ("sellers", 3_095, 3_095, 0, 0),
        "product_category_name_translation.csv.gz": ("translations", 71, 71, 0, 0),
        "olist_orders_dataset.csv": ("orders", 6, 4, 0, 2),
        "olist_order_items_dataset.csv": ("items", 7, 5, 0, 2),
        "olist_customers_dataset.csv": ("customers", 5, 4, 1, 0),
        "olist_order_reviews_dataset.csv": ("reviews", 4, 3, 0, 1),
    }
    assert summary.orders == 4 and summary.customers == 4

    # Real payments of the fixture orders equal the totals built from their items and freight.
    totals = importer.query(
        "SELECT o.order_id, o.subtotal, o.shipping, o.total, p.paid, o.items_count FROM orders o "
        "JOIN (SELECT order_id, sum(amount) AS paid FROM order_payments GROUP BY 1) p USING (order_id) "
        "ORDER BY 1"
    )
    assert [(t[0][:4], t[1], t[2], t[3], t[4], t[5]) for t in totals] == [
        ("25e8", Decimal("49.9000"), Decimal("15.8100"), Decimal("65.7100"), Decimal("65.7100"), 1),
        ("525c", Decimal("800.0000"), Decimal("61.8600"), Decimal("861.8600"), Decimal("861.8600"), 2),
        ("a981", Decimal("14.9900"), Decimal("9.4000"), Decimal("24.3900"), Decimal("24.3900"), 1),
        ("b81e", Decimal("79.9000"), Decimal("19.4300"), Decimal("99.3300"), Decimal("99.3300"), 1),
    ]
    assert importer.one("SELECT sum(amount) FROM order_payments") == Decimal("16008872.1200")
    assert importer.query("SELECT payment_type, count(*) FROM order_payments GROUP BY 1 ORDER BY 2 DESC") == [
        ("credit_card", 76_795),
        ("boleto", 19_784),
        ("voucher", 5_775),
        ("debit_card", 1_529),
        ("not_defined", 3),
    ]

    # Orders: the customer is the person (customer_unique_id); times are São Paulo local (DST in Dec 2017).
    assert importer.query(
        "SELECT customer_id, status, currency, region, city, ordered_at::VARCHAR FROM orders "
        "WHERE order_id LIKE '525c%'"
    ) == [(ALICE, "delivered", "BRL", "SP", "sao paulo", "2017-12-01 12:00:00+00")]
    assert importer.one("SELECT status FROM orders WHERE order_id LIKE 'a981%'") == "cancelled"
    assert importer.query(
        "SELECT first_seen_at::VARCHAR, last_seen_at::VARCHAR, country, region FROM customers "
        "WHERE customer_id = ?",
        [ALICE],
    ) == [("2017-12-01 12:00:00+00", "2018-07-24 23:41:37+00", "BR", "SP")]
    assert importer.one("SELECT count(*) FROM orders WHERE customer_id = ?", [ALICE]) == 2

    # Products in English where translated; items take their category and seller.
    assert (
        importer.one("SELECT category FROM products WHERE product_id = '1e9e8ef04dbcff4541ed26657ea517e5'")
        == "perfumery"
    )
    assert (
        importer.one(
            "SELECT attributes->>'category_pt' FROM products "
            "WHERE product_id = '1e9e8ef04dbcff4541ed26657ea517e5'"
        )
        == "perfumaria"
    )
    assert importer.query(
        "SELECT category, seller_id FROM order_items WHERE order_id LIKE '525c%' ORDER BY 1"
    ) == [("art", "d1b65fc7debc3361ea86b5f14c68d2e2"), ("perfumery", "3442f8959a84dea7ee197c632cb2df15")]
    assert importer.one("SELECT count(*) FROM products WHERE category IS NULL") == 610
    assert importer.query(
        "SELECT zip_code_prefix, city, region FROM sellers "
        "WHERE seller_id = '3442f8959a84dea7ee197c632cb2df15'"
    ) == [("13023", "campinas", "SP")]

    # Reviews keep multi-line Portuguese text; a review of an unknown order loads without a customer.
    assert importer.query(
        "SELECT rating, title, body, language, customer_id FROM reviews WHERE order_id LIKE '525c%'"
    ) == [(5, "Ótimo", "Produto ótimo!\nChegou antes do prazo, recomendo.", "pt", ALICE)]
    assert importer.one("SELECT customer_id FROM reviews WHERE order_id LIKE '9999%'") is None

    # Reject lines follow the order the files were given in.
    assert [(r["file"], r["row"], r["column"], r["reason"]) for r in read_rejects(summary)] == [
        (
            "olist_order_items_dataset.csv",
            "6",
            "order_id",
            "order_id not in olist_orders_dataset (neither in this import nor already imported)",
        ),
        ("olist_order_items_dataset.csv", "7", "price", "must not be negative"),
        (
            "olist_order_reviews_dataset.csv",
            "3",
            "review_score",
            "review_score must be a whole number from 1 to 5",
        ),
        (
            "olist_orders_dataset.csv",
            "5",
            "order_purchase_timestamp",
            "not a timestamp (expected YYYY-MM-DD HH:MM:SS)",
        ),
        (
            "olist_orders_dataset.csv",
            "6",
            "customer_id",
            "customer_id not in the olist_customers_dataset file of this import",
        ),
    ]

    before = importer.counts()
    again = importer.run(ALL, "olist")
    assert again.rows_loaded == 0 and again.orders == 0
    assert importer.counts() == {**before, "_imports": before["_imports"] + len(ALL)}


def test_items_in_a_later_call_join_existing_orders(importer: Importer, tmp_path: Path) -> None:
    importer.run([ORDERS, CUSTOMERS], "olist")
    assert importer.one("SELECT total FROM orders WHERE order_id LIKE '525c%'") == Decimal("0")
    summary = importer.run([ITEMS], "olist")
    assert (summary.rows_loaded, summary.rows_rejected, summary.updated["orders"]) == (5, 2, 4)
    assert importer.one("SELECT total FROM orders WHERE order_id LIKE '525c%'") == Decimal("861.8600")
    assert (
        str(importer.one("SELECT ordered_at FROM order_items WHERE order_id LIKE '525c%' LIMIT 1"))
        == "2017-12-01 12:00:00+00:00"
    )


def test_orders_without_customers_file_are_refused(importer: Importer) -> None:
    with pytest.raises(
        ValidationFailed, match="olist orders need olist_customers_dataset in the same import"
    ):
        importer.run([ORDERS, ITEMS], "olist")
    assert importer.one("SELECT count(*) FROM orders") == 0


def test_unrecognised_file_names_every_expected_header(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "olist_geolocation_dataset.csv"
    path.write_text(
        "geolocation_zip_code_prefix,geolocation_lat,geolocation_lng,geolocation_city,geolocation_state\n"
        "01037,-23.54,-46.63,sao paulo,SP\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as err:
        importer.run([path], "olist")
    assert err.value.message.startswith(
        "olist_geolocation_dataset.csv: header matches none of the expected files"
    )
    assert err.value.details["missing_by_file"]["olist_orders_dataset"] == [
        "order_id",
        "customer_id",
        "order_status",
        "order_purchase_timestamp",
    ]
