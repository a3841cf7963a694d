"""Generic preset: a mapping file describes the columns; mapping mistakes are reported precisely."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ecomops.imports.mapping import parse_mapping
from ecomops.kernel.errors import ValidationFailed
from tests.imports.conftest import FIXTURES, Importer, read_rejects

ORDERS = FIXTURES / "generic_orders.csv"
MAPPING = (FIXTURES / "generic_mapping.yaml").read_text(encoding="utf-8")


def test_mapping_fixture(importer: Importer) -> None:
    summary = importer.run([ORDERS], "generic", mapping=MAPPING)
    assert (
        summary.rows_read,
        summary.rows_loaded,
        summary.rows_rejected,
        summary.orders,
        summary.customers,
    ) == (6, 4, 2, 3, 2)
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in read_rejects(summary)] == [
        ("5", "order_time", "2024-01-08", "not a timestamp (expected %Y/%m/%d %H:%M)"),
        ("6", "qty", "0", "quantity must be positive (the generic preset does not import returns)"),
    ]
    assert importer.query(
        "SELECT external_id, source, channel, customer_id, status, currency, subtotal, total, items_count, "
        "country, ordered_at::VARCHAR, paid_at::VARCHAR FROM orders ORDER BY 1"
    ) == [
        (
            "P-0001",
            "pos",
            "pos",
            "M100",
            "paid",
            "CNY",
            Decimal("88.5000"),
            Decimal("88.5000"),
            3,
            "CN",
            "2024-01-05 01:30:00+00",
            "2024-01-05 01:31:00+00",
        ),
        (
            "P-0002",
            "pos",
            "pos",
            "M200",
            "refunded",
            "CNY",
            Decimal("35.0000"),
            Decimal("35.0000"),
            1,
            "CN",
            "2024-01-06 12:05:00+00",
            "2024-01-06 12:06:00+00",
        ),
        (
            "P-0003",
            "pos",
            "pos",
            None,
            "paid",
            "CNY",
            Decimal("120.0000"),
            Decimal("120.0000"),
            1,
            "CN",
            "2024-01-07 03:00:00+00",
            None,
        ),
    ]
    # unit_price falls back to line_total / quantity.
    assert importer.one("SELECT unit_price FROM order_items WHERE order_id = 'pos:P-0003'") == Decimal(
        "120.0000"
    )
    # Order ids carry the mapping's source, so another platform's P-0001 stays another order.
    assert importer.query("SELECT order_id FROM orders ORDER BY 1") == [
        ("pos:P-0001",),
        ("pos:P-0002",),
        ("pos:P-0003",),
    ]
    assert importer.run([ORDERS], "generic", mapping=MAPPING).rows_loaded == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "columns: {order_id: a, ordered_at: b, quantity: c, unit_price: d, quantitiy: e}",
            "mapping file: columns.quantitiy: Extra inputs are not permitted",
        ),
        (
            "columns: {order_id: a, ordered_at: b, unit_price: d}",
            "mapping file: columns.quantity: Field required",
        ),
        (
            "columns: {order_id: a, ordered_at: b, quantity: c}",
            "mapping file: columns: map unit_price or line_total (one of them is needed to value a line)",
        ),
        (
            "timezone: Asia/Shanghia\ncolumns: {order_id: a, ordered_at: b, quantity: c, unit_price: d}",
            "mapping file: timezone: unknown IANA time zone 'Asia/Shanghia'",
        ),
        (
            "currency: RMB1\ncolumns: {order_id: a, ordered_at: b, quantity: c, unit_price: d}",
            "mapping file: currency: currency must be a 3-letter ISO 4217 code",
        ),
        (
            "status_map: {完成: done}\ncolumns: {order_id: a, ordered_at: b, quantity: c, unit_price: d}",
            "mapping file: status_map.完成: Input should be 'pending', 'paid', 'fulfilled', 'shipped', "
            "'delivered', 'cancelled', 'refunded' or 'partially_refunded'",
        ),
        (
            "timestamp_format: '%Y/%m/%d'\nsource: Bad Source\n"
            "columns: {order_id: a, ordered_at: b, quantity: c, unit_price: d}",
            "mapping file: source: source must be 1-40 lowercase letters, digits, '-' or '_'",
        ),
        ("columns:\n  order_id: [a\n", "mapping file is not valid YAML at line 3, column 1"),
        ("- just a list", "mapping file must be a YAML mapping with a 'columns' section"),
    ],
)
def test_bad_mapping_errors(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_mapping(text)
    assert err.value.message.startswith(message)


def test_bad_mapping_lists_every_problem() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_mapping(
            "columns: {order_id: a, ordered_at: b, quantity: c, unit_price: d, sku: 1, colour: x}\n"
            "currency: 12\n"
        )
    assert err.value.message.endswith("(and 2 more)")
    assert [e["loc"] for e in err.value.details["errors"]] == ["currency", "columns.sku", "columns.colour"]


def test_mapping_must_match_the_file(importer: Importer, tmp_path: Path) -> None:
    mapping = MAPPING.replace("quantity: qty", "quantity: 数量")
    with pytest.raises(ValidationFailed) as err:
        importer.run([ORDERS], "generic", mapping=mapping)
    assert err.value.message == "generic_orders.csv: missing required column(s) 数量"


def test_generic_needs_a_mapping_and_others_refuse_one(importer: Importer) -> None:
    with pytest.raises(ValidationFailed, match="the generic preset needs a mapping file"):
        importer.run([ORDERS], "generic")
    with pytest.raises(
        ValidationFailed,
        match="a mapping file is only used by the online-retail-ii, generic and sessions presets",
    ):
        importer.run([ORDERS], "shopify", mapping=MAPPING)


def test_customer_email_is_pseudonymised(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text(
        "id,when,mail,n,p\nA1,2024-01-01 10:00:00,Someone@Mail.com,1,5\n"
        "A2,2024-01-02 10:00:00,someone@mail.com ,1,5\n",
        encoding="utf-8",
    )
    mapping = "columns: {order_id: id, ordered_at: when, customer_email: mail, quantity: n, unit_price: p}"
    importer.run([path], "generic", mapping=mapping)
    ids = importer.query("SELECT DISTINCT customer_id FROM orders")
    assert len(ids) == 1 and len(ids[0][0]) == 32 and "@" not in ids[0][0]
    assert importer.one("SELECT count(*) FROM customers") == 1


def test_two_platforms_with_the_same_order_number_stay_two_orders(importer: Importer) -> None:
    """Found in review: without the source namespace, JD's order 1001 was merged into Tmall's."""
    first = importer.run([ORDERS], "generic", mapping=MAPPING)
    second = importer.run([ORDERS], "generic", mapping=MAPPING.replace("source: pos", "source: tmall"))
    assert second.rows_loaded == first.rows_loaded
    assert importer.query(
        "SELECT source, count(*), sum(total) FROM orders GROUP BY source ORDER BY source"
    ) == [("pos", 3, Decimal("243.5000")), ("tmall", 3, Decimal("243.5000"))]
    assert importer.one("SELECT count(DISTINCT external_id) FROM orders") == 3
