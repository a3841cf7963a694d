"""A real export imported in two overlapping parts leaves rollups identical to a rebuild from the facts.

The second part re-reads invoices the first one cut in half (they gain lines), adds refunds of earlier
orders and fills hours the first part already rolled up, so the import's one refresh per apply covers
new, changed and untouched hours; the day tables are kept in a zone, as on a server that answered
metrics. Compared in SQL (``EXCEPT ALL`` both ways): about 1.4 million rollup rows.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ecomops.analytics import rollup_days, rollups
from tests.datasets import ONLINE_RETAIL_YEAR1
from tests.imports.conftest import Importer

YEAR1 = ONLINE_RETAIL_YEAR1
TABLES = (
    "rollup_order_index",
    "rollup_buyer_first",
    "rollup_sales",
    "rollup_item_sales",
    "rollup_lines",
    "rollup_refunds",
    "rollup_visitors",
    "rollup_funnel",
    *rollup_days.TABLES,
)


def _first_rows(path: Path, out: Path, rows: int) -> Path:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as src, out.open("w", encoding="utf-8") as dst:
        for n, line in enumerate(src):
            if n > rows:
                break
            dst.write(line)
    return out


def _differences(importer: Importer) -> dict[str, tuple[int, int, int]]:
    """table -> (rows, rows only before the rebuild, rows only after) for tables that differ."""
    found = {}
    with importer.warehouse.write() as cur:
        for table in TABLES:
            cur.execute(f"CREATE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
        rollups.rebuild(cur)
        for table in TABLES:
            before_only = f"SELECT * FROM kept_{table} EXCEPT ALL SELECT * FROM {table}"
            after_only = f"SELECT * FROM {table} EXCEPT ALL SELECT * FROM kept_{table}"
            row = cur.execute(
                f"""SELECT (SELECT count(*) FROM {table}), (SELECT count(*) FROM ({before_only})),
                           (SELECT count(*) FROM ({after_only}))"""
            ).fetchone()
            assert row is not None
            if row[1] or row[2]:
                found[table] = (int(row[0]), int(row[1]), int(row[2]))
            cur.execute(f"DROP TABLE kept_{table}")
    return found


@pytest.mark.slow
def test_imported_rollups_equal_a_rebuild(importer: Importer, tmp_path: Path) -> None:
    with importer.warehouse.write() as cur:
        rollups.keep_days_in(cur, "Europe/London")
    first = importer.run([_first_rows(YEAR1, tmp_path / "first_half.csv", 260_000)], "online-retail-ii")
    assert first.orders > 10_000
    assert _differences(importer) == {}

    second = importer.run([YEAR1], "online-retail-ii")
    assert second.orders > 10_000 and second.updated["orders"] > 0, "an invoice cut in half gains lines"
    assert importer.one("SELECT count(*) FROM rollup_lines") > 400_000
    assert importer.one("SELECT count(DISTINCT day) FROM rollup_day_sales") > 300
    assert _differences(importer) == {}
