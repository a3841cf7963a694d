"""Online Retail II: the full year-1 file against an independent pandas computation of the rules."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from ecomops.analytics.engine import MetricsQuery, compute_for_warehouse
from tests.datasets import ONLINE_RETAIL_YEAR1 as YEAR1
from tests.imports.conftest import Importer, read_rejects
from tests.imports.retail_rules import CLASSES, link_cancellations

E4 = Decimal("0.0001")


def _money(units_e4: int) -> Decimal:
    return (Decimal(units_e4) * E4).quantize(E4)


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    """The rules of docs/imports.md applied with pandas, in integer units of 0.0001 (no float sums)."""
    df = pd.read_csv(YEAR1, dtype=str, keep_default_na=False)
    df["StockCode"] = df["StockCode"].str.strip()  # codes are trimmed (a few end in a space)
    qty = df["Quantity"].astype("int64")
    price = (df["Price"].astype(float) * 10_000).round().astype("int64")
    df["qty"], df["price"] = qty, price
    cancel = df["Invoice"].str.startswith("C")
    kind = df["StockCode"].str.strip().str.upper().map(CLASSES).fillna("product")
    product = kind == "product"
    rejected = product & ((~cancel & (qty <= 0)) | (price < 0) | (cancel & (qty >= 0)))
    valid = ~rejected
    sale = valid & ~cancel & product
    refund = valid & cancel & product
    charge = valid & ~product
    line = qty * price
    df["line"] = line

    # Orders: sales invoices with product lines; customer and country of the invoice's first line
    # (any valid non-cancellation line) that has one; shipping and discount lines of the invoice.
    heads = df[valid & ~cancel].replace("", None).groupby("Invoice")[["Customer ID", "Country"]].first()
    order_ids = pd.Index(df.loc[sale, "Invoice"].unique())
    goods = df[sale].groupby("Invoice")["line"].sum()
    units = df[sale].groupby("Invoice")["qty"].sum()
    extra = df[charge & kind.isin(["shipping", "discount"])].groupby("Invoice")["line"].sum()
    totals = goods.add(extra.reindex(order_ids).fillna(0), fill_value=0).astype("int64")
    by_country = totals.groupby(heads.loc[order_ids, "Country"].fillna("")).sum()

    pieces = link_cancellations(df, sale, refund)
    pieces["amount"] = pieces["units"] * df.loc[pieces["row"], "price"].to_numpy()
    matched = pieces["order"].notna()
    pieces["country"] = df.loc[pieces["row"], "Country"].to_numpy()
    pieces.loc[matched, "country"] = heads.loc[pieces.loc[matched, "order"], "Country"].to_numpy()
    per_line = pieces.assign(m=matched).groupby("row")["m"].agg(["all", "any"])
    refunded_units = pieces[matched].groupby("order")["units"].sum()
    status = pd.Series("paid", index=order_ids)
    partly = refunded_units[refunded_units < units.loc[refunded_units.index]].index
    status.loc[refunded_units.index] = "refunded"
    status.loc[partly] = "partially_refunded"
    charges = (
        pd.DataFrame({"kind": kind[charge], "line": line[charge]})
        .groupby("kind")["line"]
        .agg(["size", "sum"])
    )
    sold = df[sale].groupby("StockCode")["qty"].sum()
    return {
        "rows": len(df),
        "rejected": int(rejected.sum()),
        "loaded": int(valid.sum()),
        "items": int(sale.sum()),
        "orders": len(order_ids),
        "customers": int(heads.loc[order_ids, "Customer ID"].nunique()),
        "revenue": _money(int(line[sale].sum())),
        "gmv": _money(int(totals.sum())),
        "refund_lines": int(refund.sum()),
        "refunds": len(pieces),
        "refund_total": _money(int(line[refund].abs().sum())),
        "by_country": {c: _money(int(v)) for c, v in by_country.items()},
        "refunds_by_country": {
            c: _money(int(v)) for c, v in pieces.groupby("country")["amount"].sum().items()
        },
        "refunds_by_customer": {
            c or None: _money(int(v))
            for c, v in df[refund].assign(a=-line[refund]).groupby("Customer ID")["a"].sum().items()
        },
        "cancellations": {
            "matched": int(per_line["all"].sum()),
            "partly_matched": int((per_line["any"] & ~per_line["all"]).sum()),
            "unmatched": int((~per_line["any"]).sum()),
        },
        "statuses": dict(Counter(status)),
        "charges": {k: (int(r["size"]), _money(int(r["sum"]))) for k, r in charges.iterrows()},
        "units_by_product": {str(p): int(u) for p, u in sold.items()},
        "units_refunded": int(-qty[refund].sum()),
        "reasons": Counter(
            {
                "sale_qty": int((product & ~cancel & (qty <= 0)).sum()),
                "neg_price": int((product & (price < 0)).sum()),
                "cancel_qty": int((product & cancel & (qty >= 0)).sum()),
            }
        ),
        "first_summer_invoice": df.loc[sale & df["InvoiceDate"].str.startswith("2010-07-01")].iloc[0],
    }


def _totals(
    importer: Importer, ids: str, breakdown: str | None, source: str, limit: int = 1000
) -> dict[str | None, dict]:
    """Window totals of the whole file's period (London days) from the metric engine."""
    query = MetricsQuery(
        ids=ids,
        first=date(2009, 12, 1),
        last=date(2010, 12, 31),
        granularity="month",
        breakdown=breakdown,
        compare=False,
        limit=limit,
        currency="GBP",
        timezone="Europe/London",
        source=source,
    )
    result = compute_for_warehouse(importer.warehouse, importer.tenant, query)
    assert result.source == source
    return {row.breakdown_value: dict(row.values) for row in result.totals}


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
    assert first.cancellations == reference["cancellations"]
    charges: dict[str, tuple[int, Decimal]] = reference["charges"]  # type: ignore[assignment]
    assert first.non_product_lines == {k: n for k, (n, _) in charges.items()}

    assert importer.one("SELECT count(*) FROM orders") == reference["orders"]
    assert importer.one("SELECT sum(subtotal) FROM orders") == reference["revenue"]
    assert importer.one("SELECT sum(total) FROM orders") == reference["gmv"]
    assert importer.one("SELECT sum(line_total) FROM order_items") == reference["revenue"]
    assert importer.one("SELECT count(*) FROM refunds") == reference["refunds"]
    assert importer.one("SELECT sum(amount) FROM refunds") == reference["refund_total"]
    assert importer.one("SELECT count(*) FROM customers") == reference["customers"]
    assert importer.query("SELECT DISTINCT currency FROM orders") == [("GBP",)]
    assert dict(importer.query("SELECT status, count(*) FROM orders GROUP BY 1")) == reference["statuses"]
    by_country = dict(importer.query("SELECT coalesce(country, ''), sum(total) FROM orders GROUP BY 1"))
    assert by_country == reference["by_country"]
    assert {
        k: (n, v)
        for k, n, v in importer.query("SELECT kind, count(*), sum(amount) FROM order_charges GROUP BY 1")
    } == charges
    # Refunds reach their customer (matched ones the order's, which is the same customer).
    by_customer = dict(importer.query("SELECT customer_id, sum(amount) FROM refunds GROUP BY 1"))
    assert by_customer == reference["refunds_by_customer"]
    # The catalogue holds every product sold.
    assert importer.one("SELECT count(*) FROM products") == len(reference["units_by_product"])  # type: ignore[arg-type]

    # The metric engine, from the raw facts and from the rollups, agrees with pandas.
    for source in ("facts", "rollups"):
        whole = _totals(importer, "gmv,refunds,refund_rate,units_sold,units_refunded", None, source)[None]
        assert whole["gmv"] == reference["gmv"]
        assert whole["refunds"] == reference["refund_total"]
        assert whole["units_refunded"] == reference["units_refunded"]
        assert whole["units_sold"] == sum(reference["units_by_product"].values())  # type: ignore[attr-defined]
        rate = Decimal(reference["refund_total"]) / Decimal(reference["gmv"])  # type: ignore[arg-type]
        assert whole["refund_rate"] == pytest.approx(float(rate), rel=1e-12)
        countries = _totals(importer, "refunds", "country", source)
        expected = {c or "(none)": v for c, v in reference["refunds_by_country"].items()}  # type: ignore[attr-defined]
        assert {c: v["refunds"] for c, v in countries.items() if v["refunds"]} == expected
        # "Top products by units" is one request; the engine ranks by value, then id (at most 1000).
        ranked = sorted(reference["units_by_product"].items(), key=lambda pu: (-pu[1], pu[0]))  # type: ignore[attr-defined]
        top10 = _totals(importer, "units_sold", "product", source, limit=10)
        assert [(p, v["units_sold"]) for p, v in top10.items()] == ranked[:10]
        products = _totals(importer, "units_sold,units_refunded", "product", source)
        assert {p: v["units_sold"] for p, v in products.items()} == dict(ranked[:1000])

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
    expected_reasons = reference["reasons"]
    assert (
        reasons["quantity must be positive on a sales invoice (zero or negative lines are stock adjustments)"]
        == expected_reasons["sale_qty"]
    )
    assert (
        reasons["negative price on a product line (not a sale; classify the code if it is an adjustment)"]
        == expected_reasons["neg_price"]
    )
    assert reasons["cancellation line must have a negative quantity"] == expected_reasons["cancel_qty"]
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
