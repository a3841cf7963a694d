"""Shopify orders export: order fields from first rows, keyed e-mail pseudonyms, no PII in the warehouse."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from ecomops.platform.crypto.keyring import keyring
from tests.imports.conftest import FIXTURES, Importer, read_rejects

EXPORT = FIXTURES / "shopify_orders_export.csv"
PII = ("@", "alice", "bob@", "carol", "Alice Example", "Bob Beispiel", "Main St", "555 0100", "02108")


def _all_text(importer: Importer) -> list[str]:
    """Every text and JSON value in every warehouse table."""
    columns = importer.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND data_type IN ('VARCHAR', 'JSON')"
    )
    values: list[str] = []
    for table, column in columns:
        values += [
            str(v)
            for (v,) in importer.query(f'SELECT DISTINCT "{column}"::VARCHAR FROM "{table}"')
            if v is not None
        ]
    return values


def test_shopify_export(importer: Importer) -> None:
    summary = importer.run([EXPORT], "shopify")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (7, 5, 2)
    assert (summary.orders, summary.customers, summary.inserted["refunds"]) == (4, 2, 2)
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in read_rejects(summary)] == [
        ("6", "Subtotal", "abc", "not a decimal number (at most 14 digits before the point)"),
        ("7", "Name", "#1005", "order rejected: its first row (row 6) has errors"),
    ]

    orders = {
        r[0]: r[1:]
        for r in importer.query(
            "SELECT order_id, external_id, status, currency, subtotal, discount, shipping, tax, total, "
            "coupon, items_count, country, region, city, channel, ordered_at::VARCHAR, paid_at::VARCHAR "
            "FROM orders"
        )
    }
    assert orders["#1001"] == (
        "5123456789001",
        "paid",
        "USD",
        Decimal("60.0000"),
        Decimal("0.0000"),
        Decimal("5.0000"),
        Decimal("5.2000"),
        Decimal("70.2000"),
        None,
        3,
        "US",
        "MA",
        "Boston",
        "shopify",
        "2023-03-01 15:15:00+00",
        "2023-03-01 15:16:02+00",
    )
    assert orders["#1002"][1:9] == (
        "partially_refunded",
        "USD",
        Decimal("22.5000"),
        Decimal("2.5000"),
        Decimal("0.0000"),
        Decimal("0.0000"),
        Decimal("22.5000"),
        "WELCOME10",
    )
    assert orders["#1003"][1:3] == ("cancelled", "EUR")
    assert orders["#1004"][10:13] == ("CN", None, "Shanghai")
    assert importer.query(
        "SELECT order_id, sku, name, quantity, unit_price, discount, line_total FROM order_items "
        "ORDER BY order_id, sku NULLS LAST"
    ) == [
        ("#1001", "MUG-BLUE", "Blue Mug", 2, Decimal("20.0000"), Decimal("0.0000"), Decimal("40.0000")),
        ("#1001", "POT-1", "Tea Pot", 1, Decimal("20.0000"), Decimal("0.0000"), Decimal("20.0000")),
        ("#1002", "MUG-GREEN", "Green Mug", 1, Decimal("25.0000"), Decimal("2.5000"), Decimal("22.5000")),
        ("#1003", "POT-1", "Tea Pot", 1, Decimal("30.0000"), Decimal("0.0000"), Decimal("30.0000")),
        ("#1004", None, "Gift Card", 2, Decimal("50.0000"), Decimal("0.0000"), Decimal("100.0000")),
    ]
    assert importer.query(
        "SELECT order_id, amount, currency, refunded_at::VARCHAR FROM refunds ORDER BY 1"
    ) == [
        ("#1002", Decimal("10.0000"), "USD", "2023-03-03 23:00:00+00"),
        ("#1003", Decimal("30.0000"), "EUR", "2023-03-05 08:00:00+00"),
    ]

    # The same buyer in two spellings is one pseudonymous customer: HMAC of the normalised address.
    key = keyring(importer.engine).pseudonym_key(importer.tenant.id)
    alice = hmac.new(key, b"alice@example.com", hashlib.sha256).hexdigest()[:32]
    assert importer.query(
        "SELECT order_id, customer_id FROM orders WHERE order_id IN ('#1001', '#1002') ORDER BY 1"
    ) == [("#1001", alice), ("#1002", alice)]
    assert importer.one("SELECT customer_id FROM orders WHERE order_id = '#1004'") is None
    assert hashlib.sha256(b"alice@example.com").hexdigest()[:32] != alice  # keyed, not a plain hash

    text = _all_text(importer)
    leaks = [v for v in text for needle in PII if needle.lower() in v.lower()]
    assert leaks == []

    again = importer.run([EXPORT], "shopify")
    assert (again.rows_loaded, again.rows_duplicate, again.orders) == (0, 5, 0)
