"""Bad rows: exact reject lines; unusable input: a clear error and nothing loaded; failures roll back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ecomops.imports import apply, jobs
from ecomops.kernel.errors import ValidationFailed
from tests.imports.conftest import Importer, read_rejects

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
BAD_ROWS = [
    "538001,22423,GOOD LINE,2,2010-12-01 10:00:00,12.75,13085,United Kingdom",  # 1 ok
    "538001,22424,,twelve,2010-12-01 10:00:00,1.00,13085,United Kingdom",  # 2 quantity text
    "538002,22425,X,1,2010-13-45 99:00:00,1.00,,France",  # 3 bad date
    "538003,,NO STOCKCODE,1,2010-12-01 10:00:00,,13085,France",  # 4 two problems
    "538004,22426,LOST,-3,2010-12-01 10:00:00,0,,United Kingdom",  # 5 stock adjustment
    "538005,22431,PRICE TYPO,1,2010-12-01 10:00:00,-11.06,,United Kingdom",  # 6 negative price (a product)
    "C538006,22423,CANCEL,5,2010-12-01 10:00:00,12.75,13085,United Kingdom",  # 7 positive cancel
    '538007,22427,"SHORT ROW",1,2010-12-01 10:00:00',  # 8 too few fields
    '538008,22428,"MULTI\nLINE DESCRIPTION",1,2010-12-01 10:00:00,2.5,13085,Spain',  # 9 ok, spans 2 lines
    "538009,22429,FREE SAMPLE,1,2010-12-01 10:00:00,0,13085,Spain",  # 10 ok (price 0 loads)
    "538010,22430,HALF,1.5,2010-12-01 10:00:00,2,13085,Spain",  # 11 fractional quantity
]


def _bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad rows.csv"
    path.write_text("\n".join([HEADER, *BAD_ROWS]) + "\n", encoding="utf-8")
    return path


def test_reject_file_lists_row_column_value_reason(importer: Importer, tmp_path: Path) -> None:
    summary = importer.run([_bad_file(tmp_path)], "online-retail-ii")
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (11, 3, 8)
    assert [(r["row"], r["column"], r["value"], r["reason"]) for r in read_rejects(summary)] == [
        ("2", "Quantity", "twelve", "not a whole number"),
        (
            "3",
            "InvoiceDate",
            "2010-13-45 99:00:00",
            "not a timestamp (expected YYYY-MM-DD HH:MM[:SS] or M/D/YYYY H:MM)",
        ),
        ("4", "StockCode", "", "missing value"),
        ("4", "Price", "", "missing value"),
        (
            "5",
            "Quantity",
            "-3",
            "quantity must be positive on a sales invoice (zero or negative lines are stock adjustments)",
        ),
        (
            "6",
            "Price",
            "-11.06",
            "negative price on a product line (not a sale; classify the code if it is an adjustment)",
        ),
        ("7", "Quantity", "5", "cancellation line must have a negative quantity"),
        ("8", "", '538007,22427,"SHORT ROW",1,2010-12-01 10:00:00', "expected 8 fields, found 5"),
        ("11", "Quantity", "1.5", "not a whole number"),
    ]
    assert {r["file"] for r in read_rejects(summary)} == {"bad rows.csv"}
    assert importer.query("SELECT order_id, name FROM order_items ORDER BY order_id") == [
        ("538001", "GOOD LINE"),
        ("538008", "MULTI\nLINE DESCRIPTION"),
        ("538009", "FREE SAMPLE"),
    ]


def test_missing_required_column_fails_clearly_and_loads_nothing(importer: Importer, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n" + BAD_ROWS[0] + "\n", encoding="utf-8")
    broken = tmp_path / "no price.csv"
    broken.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Customer ID,Country\n"
        "538001,22423,X,2,2010-12-01 10:00:00,13085,United Kingdom\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as err:
        importer.run([good, broken], "online-retail-ii")
    assert err.value.message == "no price.csv: missing required column(s) Price"
    assert err.value.details["missing"] == ["Price"]
    assert set(importer.counts().values()) == {0}
    [job] = jobs.list_jobs(importer.engine, importer.tenant.id)
    assert (job.status, job.error) == ("failed", "no price.csv: missing required column(s) Price")


def test_failure_while_applying_rolls_everything_back(
    importer: Importer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The customers update runs after every insert of the transaction: make it fail there.
    monkeypatch.setattr(apply, "WIDEN_CUSTOMERS", "SELECT error('disk full')")
    with pytest.raises(duckdb.Error, match="disk full"):
        importer.run([_bad_file(tmp_path)], "online-retail-ii")
    assert set(importer.counts().values()) == {0}
    [job] = jobs.list_jobs(importer.engine, importer.tenant.id)
    assert job.status == "failed" and "disk full" in (job.error or "")


def test_unknown_preset_and_encoding_are_refused(importer: Importer, tmp_path: Path) -> None:
    path = _bad_file(tmp_path)
    with pytest.raises(ValidationFailed, match="unknown preset 'amazon'"):
        importer.run([path], "amazon")
    with pytest.raises(ValidationFailed, match="encoding must be auto, utf-8 or gb18030"):
        importer.run([path], "online-retail-ii", encoding="latin-1")
    with pytest.raises(ValidationFailed, match="unknown IANA time zone"):
        importer.run([path], "online-retail-ii", source_timezone="Mars/Olympus")


def test_empty_file_is_an_error(importer: Importer, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ValidationFailed, match=r"empty\.csv: the file is empty or has no header line"):
        importer.run([path], "online-retail-ii")
