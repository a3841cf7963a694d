"""Online Retail II: the full year-1 file against an independent pandas computation of the rules."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from tests.datasets import ONLINE_RETAIL_YEAR1 as YEAR1
from tests.imports.conftest import Importer, read_rejects

E4 = Decimal("0.0001")


def _money(units_e4: int) -> Decimal:
    return (Decimal(units_e4) * E4).quantize(E4)


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    """The rules of docs/imports.md applied with pandas, in integer units of 0.0001 (no float sums)."""
    df = pd.read_csv(YEAR1, dtype=str, keep_default_na=False)
    qty = df["Quantity"].astype("int64")
    price = (df["Price"].astype(float) * 10_000).round().astype("int64")
    cancel = df["Invoice"].str.startswith("C")
    rejected = (~cancel & (qty <= 0)) | (price < 0) | (cancel & (qty >= 0))
    valid = ~rejected
    sale = valid & ~cancel
    refund = valid & cancel
    line = qty * price
    by_country = (
        pd.DataFrame({"country": df.loc[sale, "Country"], "line": line[sale]})
        .groupby("country")["line"]
        .sum()
    )
    return {
        "rows": len(df),
        "rejected": int(rejected.sum()),
        "loaded": int(valid.sum()),
        "items": int(sale.sum()),
        "orders": int(df.loc[sale, "Invoice"].nunique()),
        "customers": int(df.loc[sale & (df["Customer ID"] != ""), "Customer ID"].nunique()),
        "revenue": _money(int(line[sale].sum())),
        "refunds": int(refund.sum()),
        "refund_total": _money(int(line[refund].abs().sum())),
        "by_country": {c: _money(int(v)) for c, v in by_country.items()},
        "reasons": Counter(
            {
                "sale_qty": int((~cancel & (qty <= 0)).sum()),
                "neg_price": int((price < 0).sum()),
                "cancel_qty": int((cancel & (qty >= 0)).sum()),
            }
        ),
        "first_summer_invoice": df.loc[sale & df["InvoiceDate"].str.startswith("2010-07-01")].iloc[0],
    }


@pytest.mark.slow
def test_year1_matches_pandas_and_reimport_adds_nothing(
    importer: Importer, reference: dict[str, object]
) -> None:
    first = importer.run([YEAR1], "online-retail-ii")
    assert first.rows_read == reference["rows"] == 525_461
    assert first.rows_rejected == reference["rejected"]
    assert first.rows_loaded == reference["loaded"]
    assert first.rows_duplicate == 0
    assert first.orders == reference["orders"]
    assert first.customers == reference["customers"]
    assert first.inserted["order_items"] == reference["items"]
    assert first.inserted["refunds"] == reference["refunds"]

    assert importer.one("SELECT count(*) FROM orders") == reference["orders"]
    assert importer.one("SELECT sum(total) FROM orders") == reference["revenue"]
    assert importer.one("SELECT sum(line_total) FROM order_items") == reference["revenue"]
    assert importer.one("SELECT count(*) FROM refunds") == reference["refunds"]
    assert importer.one("SELECT sum(amount) FROM refunds") == reference["refund_total"]
    assert importer.one("SELECT count(*) FROM customers") == reference["customers"]
    assert importer.query("SELECT DISTINCT currency, status FROM orders") == [("GBP", "paid")]
    by_country = dict(importer.query("SELECT coalesce(country, ''), sum(total) FROM orders GROUP BY 1"))
    assert by_country == reference["by_country"]

    # InvoiceDate is UK local time: GMT in December, BST (UTC+1) in July.
    assert (
        str(importer.one("SELECT ordered_at FROM orders WHERE order_id = '489434'"))
        == "2009-12-01 07:45:00+00:00"
    )
    summer = reference["first_summer_invoice"]
    local = pd.Timestamp(summer["InvoiceDate"]).tz_localize("Europe/London").tz_convert("UTC")
    stored = importer.one("SELECT min(ordered_at) FROM order_items WHERE order_id = ?", [summer["Invoice"]])
    assert pd.Timestamp(stored) == local

    rejects = read_rejects(first)
    assert len({r["row"] for r in rejects}) == reference["rejected"]
    reasons = Counter(r["reason"] for r in rejects)
    expected = reference["reasons"]
    assert (
        reasons["quantity must be positive on a sales invoice (zero or negative lines are stock adjustments)"]
        == expected["sale_qty"]
    )
    assert reasons["negative price (bad-debt adjustment), not a sale"] == expected["neg_price"]
    assert reasons["cancellation line must have a negative quantity"] == expected["cancel_qty"]
    # Row numbers are data rows of the file (header excluded): check some against the file itself.
    with gzip.open(YEAR1, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for sample in (rejects[0], rejects[len(rejects) // 2], rejects[-1]):
        assert rows[int(sample["row"]) - 1][sample["column"]] == sample["value"]

    before = importer.counts()
    again = importer.run([YEAR1], "online-retail-ii")
    assert (again.rows_loaded, again.orders, again.customers) == (0, 0, 0)
    assert again.rows_duplicate == first.rows_loaded
    assert again.rows_rejected == first.rows_rejected
    after = importer.counts()
    assert after == {**before, "_imports": before["_imports"] + 1}
    # order_items has no primary key: the import itself keeps its ids unique.
    assert importer.one("SELECT count(*) - count(DISTINCT item_id) FROM order_items") == 0
    assert importer.query(
        "SELECT rows_read, rows_loaded, rows_rejected FROM _imports ORDER BY imported_at"
    ) == [(525_461, first.rows_loaded, first.rows_rejected), (525_461, 0, first.rows_rejected)]


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


CLASSIC = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def test_classic_uci_headers_and_us_dates(importer: Importer, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "Online Retail.csv",
        CLASSIC,
        [
            "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United Kingdom",
            "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom",
            "C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527.0,United Kingdom",
            "536380,22961,JAM MAKING SET PRINTED,24,6/1/2011 9:41,1.45,,France",
        ],
    )
    summary = importer.run([path], "online-retail-ii")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (4, 4, 0)
    assert importer.query("SELECT order_id, customer_id, total, country FROM orders ORDER BY order_id") == [
        ("536365", "17850", Decimal("35.6400"), "United Kingdom"),
        ("536380", None, Decimal("34.8000"), "France"),
    ]
    # 1 June 2011 09:41 in London is 08:41 UTC (BST).
    assert (
        str(importer.one("SELECT ordered_at FROM orders WHERE order_id = '536380'"))
        == "2011-06-01 08:41:00+00:00"
    )
    # A cancelled discount line is a discount, not a customer refund.
    assert importer.query("SELECT count(*) FROM refunds") == [(0,)]
    assert importer.query("SELECT order_id, kind, quantity, amount, customer_id FROM order_charges") == [
        ("C536379", "discount", -1, Decimal("-27.5000"), "14527")
    ]


HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"


def test_overlapping_sheets_load_once_and_extend_orders(importer: Importer, tmp_path: Path) -> None:
    """The workbook's two sheets overlap: the same line in both files is one item, wherever it comes from."""
    sheet1 = _write(
        tmp_path / "sheet1.csv",
        HEADER,
        [
            "537001,22423,REGENCY CAKESTAND 3 TIER,2,2010-12-01 10:00:00,12.75,13085,United Kingdom",
            "537001,22423,REGENCY CAKESTAND 3 TIER,2,2010-12-01 10:00:00,12.75,13085,United Kingdom",
        ],
    )
    sheet2 = _write(
        tmp_path / "sheet2.csv",
        HEADER,
        [
            "537001,22423,REGENCY CAKESTAND 3 TIER,2,2010-12-01 10:00:00,12.75,13085,United Kingdom",
            "537001,22423,REGENCY CAKESTAND 3 TIER,2,2010-12-01 10:00:00,12.75,13085,United Kingdom",
            "537001,84879,ASSORTED COLOUR BIRD ORNAMENT,8,2010-12-01 10:01:00,1.69,13085,United Kingdom",
            "537002,84879,ASSORTED COLOUR BIRD ORNAMENT,8,2011-01-04 10:01:00,1.69,13085,United Kingdom",
        ],
    )
    both = importer.run([sheet1, sheet2], "online-retail-ii")
    assert [(f.rows_loaded, f.rows_duplicate) for f in both.files] == [(2, 0), (2, 2)]
    assert importer.one("SELECT count(*) FROM order_items") == 4
    assert importer.query("SELECT order_id, total, items_count FROM orders ORDER BY 1") == [
        ("537001", Decimal("64.5200"), 12),
        ("537002", Decimal("13.5200"), 8),
    ]
    assert importer.query("SELECT first_seen_at < last_seen_at FROM customers") == [(True,)]

    # Separately, in the other order: the first sheet adds nothing, the order totals stay right.
    importer.run([sheet2], "online-retail-ii")
    again = importer.run([sheet1], "online-retail-ii")
    assert (again.rows_loaded, again.rows_duplicate) == (0, 2)
    assert importer.one("SELECT sum(total) FROM orders") == Decimal("78.0400")
    assert importer.query("SELECT count(*), count(DISTINCT item_id) FROM order_items") == [(4, 4)]


def test_lines_added_to_an_existing_invoice_update_its_totals(importer: Importer, tmp_path: Path) -> None:
    part1 = _write(
        tmp_path / "a.csv",
        HEADER,
        ["537100,22423,CAKESTAND,1,2010-12-01 10:00:00,10.00,13085,United Kingdom"],
    )
    part2 = _write(
        tmp_path / "b.csv",
        HEADER,
        [
            "537100,22423,CAKESTAND,1,2010-12-01 10:00:00,10.00,13085,United Kingdom",
            "537100,84879,ORNAMENT,3,2010-12-01 10:00:00,2.00,13085,United Kingdom",
        ],
    )
    importer.run([part1], "online-retail-ii")
    second = importer.run([part2], "online-retail-ii")
    assert (second.rows_loaded, second.rows_duplicate, second.orders, second.updated["orders"]) == (
        1,
        1,
        0,
        1,
    )
    assert importer.query("SELECT subtotal, total, items_count FROM orders") == [
        (Decimal("16.0000"), Decimal("16.0000"), 4)
    ]


def test_currency_and_time_zone_options(importer: Importer, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "x.csv",
        HEADER,
        ["537200,22423,CAKESTAND,1,2010-12-01 10:00:00,10.00,13085,United Kingdom"],
    )
    importer.run([path], "online-retail-ii", currency="eur", source_timezone="Asia/Shanghai")
    assert importer.query("SELECT currency, ordered_at FROM orders")[0][0] == "EUR"
    assert str(importer.one("SELECT ordered_at FROM orders")) == "2010-12-01 02:00:00+00:00"
