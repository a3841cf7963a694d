"""Same seed and parameters → identical warehouse contents and manifest; another seed → different data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ecomops.simulate.params import SeedParams
from tests.simulate.conftest import content_hashes, seed

TABLES = (
    "events",
    "orders",
    "order_items",
    "refunds",
    "customers",
    "products",
    "inventory_snapshots",
    "ad_spend",
    "reviews",
    "competitor_prices",
    "live_sessions",
)
SMALL = SeedParams(days=60, customers=1500, seed=42, end_date=date(2026, 7, 15))


def test_same_seed_same_contents_other_seed_differs(tmp_path: Path) -> None:
    first = seed(tmp_path / "a", SMALL)
    second = seed(tmp_path / "b", SMALL)
    other = seed(tmp_path / "c", SeedParams(SMALL.days, SMALL.customers, 43, SMALL.end_date))
    try:
        h1 = content_hashes(first.warehouse, TABLES)
        h2 = content_hashes(second.warehouse, TABLES)
        h3 = content_hashes(other.warehouse, TABLES)
        assert all(h1.values()), "every table has rows"
        assert h1 == h2
        for table in ("events", "orders", "order_items", "customers", "inventory_snapshots", "ad_spend"):
            assert h1[table] != h3[table], table
        # The manifest is deterministic too (apart from the tenant's own random id).
        for m in (first.manifest, second.manifest):
            m["tenant"].pop("id")
        assert first.manifest == second.manifest
    finally:
        for shop in (first, second, other):
            shop.warehouse.close()
            shop.engine.dispose()


def test_end_date_moves_the_window(tmp_path: Path) -> None:
    shop = seed(tmp_path, SeedParams(days=30, customers=800, seed=1, end_date=date(2025, 3, 31)))
    try:
        first, last = shop.query("SELECT min(ts), max(ts) FROM events")[0]
        assert first.isoformat() >= "2025-03-01T16:00:00+00:00"  # 2025-03-02 00:00 in Asia/Shanghai
        assert last.isoformat() < "2025-03-31T16:00:00+00:00"  # local midnight after the end date
        assert shop.manifest["window"] == {
            "start": "2025-03-02",
            "end": "2025-03-31",
            "timezone": "Asia/Shanghai",
            "start_utc": "2025-03-01T16:00:00Z",
            "as_of_utc": "2025-03-31T16:00:00Z",
        }
    finally:
        shop.warehouse.close()
        shop.engine.dispose()
