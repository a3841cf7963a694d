"""Online Retail: cancellations linked to their orders, non-product lines classified, products built.

Hand-made rows whose right answers are worked out in the comments; the whole year-1 file against
pandas is in ``test_online_retail.py``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ecomops.imports.mapping import parse_line_classes
from ecomops.imports.presets.online_retail import LINE_CLASSES
from ecomops.kernel.errors import ValidationFailed
from ecomops.products.service import get_product
from tests.imports.conftest import Importer

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


ROWS = [
    # Customer 1: two sales of 22423 (2 then 3 units), one of 84879 (10 units) with postage.
    "500001,22423,CAKESTAND,2,2010-01-04 10:00:00,10.00,1,France",
    "500001,POST,POSTAGE,2,2010-01-04 10:00:00,15.00,1,France",
    "500002,22423,CAKESTAND,3,2010-02-01 10:00:00,11.00,1,France",
    "500002,84879,ORNAMENT,10,2010-02-01 10:00:00,1.50,1,France",
    # 4 units of 22423 back: most recent sale first, 3 from 500002 and 1 from 500001 (at 9.50).
    "C500003,22423,CAKESTAND,-4,2010-02-02 09:00:00,9.50,1,France",
    # All 10 ornaments back: 500002 is then refunded in full (3 + 10 units of 13).
    "C500004,84879,ORNAMENT,-10,2010-02-02 09:30:00,1.50,1,France",
    # 3 more cakestands: only 1 unit of 500001 is left; 2 stay unmatched on the cancellation itself.
    "C500005,22423,CAKESTAND,-3,2010-02-03 09:00:00,9.50,1,Germany",
    # A guest's cancellation never matches; it keeps its own country.
    "C500006,22423,CAKESTAND,-1,2010-02-03 10:00:00,10.00,,Spain",
    # A cancellation before any sale of that product by that customer: unmatched.
    "C500007,22960,TEA COSY,-1,2010-01-01 09:00:00,4.00,2,United Kingdom",
    "500008,22960,TEA COSY,2,2010-01-05 09:00:00,4.00,2,United Kingdom",
    # One of the two tea cosies back: 500008 is partially refunded.
    "C500016,22960,TEA COSY,-1,2010-01-06 09:00:00,4.00,2,United Kingdom",
    # Non-product lines: fees, manual, samples on cancellation invoices, bad-debt adjustments of both signs.
    "C500009,AMAZONFEE,AMAZON FEE,-1,2010-02-04 09:00:00,120.00,,United Kingdom",
    "C500010,M,Manual,-1,2010-02-04 09:00:00,30.00,2,United Kingdom",
    "C500011,S,SAMPLES,-1,2010-02-04 09:00:00,7.00,,United Kingdom",
    "A500012,B,Adjust bad debt,1,2010-02-05 09:00:00,11062.06,,United Kingdom",
    "A500013,B,Adjust bad debt,1,2010-02-05 09:00:00,-11062.06,,United Kingdom",
    "500014,DOT,DOTCOM POSTAGE,1,2010-02-06 09:00:00,5.00,,United Kingdom",
    "C500015,D,Discount,-1,2010-02-06 09:00:00,2.00,2,United Kingdom",
]


def test_cancellations_are_linked_and_non_product_lines_classified(
    importer: Importer, tmp_path: Path
) -> None:
    summary = importer.run([_write(tmp_path / "lines.csv", ROWS)], "online-retail-ii")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (len(ROWS), len(ROWS), 0)
    # C500003, C500004, C500016 fully matched; C500005 partly; C500006 (guest), C500007 (too early) not.
    assert summary.cancellations == {"matched": 3, "partly_matched": 1, "unmatched": 2}
    assert summary.non_product_lines == {
        "adjustment": 3,
        "discount": 1,
        "fee": 1,
        "sample": 1,
        "shipping": 2,
    }

    refunds = importer.query(
        "SELECT order_id, sku, quantity, amount, customer_id, country FROM refunds "
        "ORDER BY refunded_at, order_id"
    )
    assert refunds == [
        ("C500007", "22960", 1, Decimal("4.0000"), "2", "United Kingdom"),
        ("500008", "22960", 1, Decimal("4.0000"), "2", "United Kingdom"),
        ("500001", "22423", 1, Decimal("9.5000"), "1", "France"),
        ("500002", "22423", 3, Decimal("28.5000"), "1", "France"),
        ("500002", "84879", 10, Decimal("15.0000"), "1", "France"),
        ("500001", "22423", 1, Decimal("9.5000"), "1", "France"),
        # The unmatched rest carries the cancellation row's own customer and country.
        ("C500005", "22423", 2, Decimal("19.0000"), "1", "Germany"),
        ("C500006", "22423", 1, Decimal("10.0000"), None, "Spain"),
    ]
    # Orders: postage is shipping, not goods; status follows the units refunded.
    assert importer.query(
        "SELECT order_id, status, subtotal, shipping, total, items_count FROM orders ORDER BY order_id"
    ) == [
        ("500001", "refunded", Decimal("20.0000"), Decimal("30.0000"), Decimal("50.0000"), 2),
        ("500002", "refunded", Decimal("48.0000"), Decimal("0.0000"), Decimal("48.0000"), 13),
        ("500008", "partially_refunded", Decimal("8.0000"), Decimal("0.0000"), Decimal("8.0000"), 2),
    ]
    # Invoices with only non-product lines are no orders; their lines are charges, signed as written.
    assert importer.query(
        "SELECT order_id, kind, amount FROM order_charges WHERE order_id <> '500001' ORDER BY order_id"
    ) == [
        ("500014", "shipping", Decimal("5.0000")),
        ("A500012", "adjustment", Decimal("11062.0600")),
        ("A500013", "adjustment", Decimal("-11062.0600")),
        ("C500009", "fee", Decimal("-120.0000")),
        ("C500010", "adjustment", Decimal("-30.0000")),
        ("C500011", "sample", Decimal("-7.0000")),
        ("C500015", "discount", Decimal("-2.0000")),
    ]
    # The catalogue: every product sold, with first/last sale and the price range.
    products = importer.query(
        "SELECT product_id, name, price, currency, attributes->>'first_sold_at', "
        "attributes->>'last_sold_at', attributes->>'min_price', attributes->>'max_price' "
        "FROM products ORDER BY product_id"
    )
    assert products == [
        (
            "22423",
            "CAKESTAND",
            Decimal("11.0000"),
            "GBP",
            "2010-01-04T10:00:00Z",
            "2010-02-01T10:00:00Z",
            "10.0000",
            "11.0000",
        ),
        (
            "22960",
            "TEA COSY",
            Decimal("4.0000"),
            "GBP",
            "2010-01-05T09:00:00Z",
            "2010-01-05T09:00:00Z",
            "4.0000",
            "4.0000",
        ),
        (
            "84879",
            "ORNAMENT",
            Decimal("1.5000"),
            "GBP",
            "2010-02-01T10:00:00Z",
            "2010-02-01T10:00:00Z",
            "1.5000",
            "1.5000",
        ),
    ]

    # An import-only shop's products explorer knows them (``ecomops products show 22423``).
    with importer.warehouse.reading() as cur:
        shown = get_product(cur, "Europe/London", "22423")
    assert (shown.name, shown.units_sold, shown.revenue, shown.refunded) == (
        "CAKESTAND",
        5,
        Decimal("53.0000"),
        Decimal("76.5000"),
    )
    assert (str(shown.first_sold_at), shown.min_price, shown.max_price) == (
        "2010-01-04 10:00:00+00:00",
        Decimal("10.0000"),
        Decimal("11.0000"),
    )

    # Re-importing changes nothing; a later file with a new sale widens the product's range.
    again = importer.run([_write(tmp_path / "lines.csv", ROWS)], "online-retail-ii")
    assert (again.rows_loaded, again.rows_duplicate) == (0, len(ROWS))
    later = ["500020,22423,CAKESTAND,1,2010-03-01 10:00:00,12.50,3,France"]
    importer.run([_write(tmp_path / "later.csv", later)], "online-retail-ii")
    assert importer.query(
        "SELECT price, attributes->>'last_sold_at', attributes->>'min_price', attributes->>'max_price' "
        "FROM products WHERE product_id = '22423'"
    ) == [(Decimal("12.5000"), "2010-03-01T10:00:00Z", "10.0000", "12.5000")]


def test_a_line_class_file_changes_the_defaults(importer: Importer, tmp_path: Path) -> None:
    rows = [
        "500001,22423,CAKESTAND,1,2010-01-04 10:00:00,10.00,1,France",
        "500001,C2,CARRIAGE,1,2010-01-04 10:00:00,50.00,1,France",
        "500001,GIFT,GIFT WRAP,1,2010-01-04 10:00:00,2.00,1,France",
    ]
    mapping = "non_product_lines:\n  c2: product\n  gift: fee\n"
    summary = importer.run([_write(tmp_path / "x.csv", rows)], "online-retail-ii", mapping=mapping)
    assert summary.non_product_lines == {"fee": 1}
    assert importer.query("SELECT subtotal, shipping, total FROM orders") == [
        (Decimal("60.0000"), Decimal("0.0000"), Decimal("60.0000"))
    ]


def test_line_class_files_are_validated_with_their_location() -> None:
    with pytest.raises(ValidationFailed, match=r"non_product_lines\.POST: Input should be"):
        parse_line_classes("non_product_lines:\n  POST: postage\n")
    with pytest.raises(ValidationFailed, match="colums: Extra inputs are not permitted"):
        parse_line_classes("colums: {}\n")
    only = parse_line_classes("replace_defaults: true\nnon_product_lines:\n  post: shipping\n")
    assert only.apply_to(LINE_CLASSES) == {"POST": "shipping"}
