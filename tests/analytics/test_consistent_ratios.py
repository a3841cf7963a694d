"""Ratios whose numerator and denominator cover the same orders or people (issue 13, item 4).

GMV per buyer used to divide all GMV by buyers, who exclude guest checkouts; add-to-cart rate counted
people without a visit in its numerator. Checked on Online Retail II against pandas straight from the
import's rows, and on a hand-made shop with guests and carts without visits, from the raw facts, the
hourly rollups and the day rollups alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from ecomops.analytics import rollups
from ecomops.analytics.catalogue import BASE_MEASURES, METRICS, Unit
from ecomops.analytics.engine import MetricsQuery, compute_for_warehouse
from ecomops.analytics.results import MetricsResult
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.context import TenantInfo
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from tests.analytics.conftest import Shop

RATIO_IDS = ["aov", "gmv_per_buyer", "conversion_rate", "uv_value", "add_to_cart_rate", "repurchase_rate"]
RATIO_IDS += ["new_buyer_share", "refund_rate"]
E4 = Decimal("0.0001")


def _answer(warehouse: Warehouse, tenant: TenantInfo, **kwargs: Any) -> dict[str, Any]:
    query = MetricsQuery(**kwargs)
    answer: dict[str, Any] = json_form(compute_for_warehouse(warehouse, tenant, query), MetricsResult)
    return answer


# --- Online Retail II ---------------------------------------------------------------------------------


def test_online_retail_gmv_per_buyer_leaves_guest_orders_out(retail: dict[str, Shop]) -> None:
    """Against pandas on the imported rows: GMV of orders with a Customer ID / distinct Customer IDs."""
    shop = retail["retail-utc"]
    first, last = date(2010, 11, 15), date(2010, 12, 9)
    orders = shop.frames.orders
    day = orders["ts"].dt.tz_convert("UTC").dt.date
    window = orders[(day >= first) & (day <= last)]
    with_buyer = window[window["customer_id"].notna()]
    buyers = with_buyer["customer_id"].nunique()
    expected = (Decimal(int(with_buyer["total_e4"].sum())) * E4 / buyers).quantize(E4, ROUND_HALF_EVEN)
    everything = (Decimal(int(window["total_e4"].sum())) * E4 / buyers).quantize(E4, ROUND_HALF_EVEN)

    answer = _answer(
        shop.warehouse, shop.tenant, ids=["gmv", "buyers", "gmv_per_buyer"], first=first, last=last
    )
    total = answer["totals"][0]["values"]
    assert total["buyers"] == buyers
    assert Decimal(total["gmv_per_buyer"]) == expected
    # The old definition (every order's GMV over buyers only) was this much too high on this window.
    assert everything / expected - 1 > Decimal("0.10")
    assert Decimal(total["gmv"]) / buyers > Decimal(total["gmv_per_buyer"])

    # The same by country: each country's buyers' GMV over its own buyers (pandas again).
    by_country = _answer(
        shop.warehouse,
        shop.tenant,
        ids=["gmv_per_buyer"],
        first=first,
        last=last,
        breakdown="country",
        limit=100,
    )
    grouped = with_buyer.groupby("country").agg(value=("total_e4", "sum"), n=("customer_id", "nunique"))
    want = {
        str(c): (Decimal(int(r.value)) * E4 / int(r.n)).quantize(E4, ROUND_HALF_EVEN)
        for c, r in grouped.iterrows()
    }
    got = {
        row["breakdown_value"]: Decimal(row["values"]["gmv_per_buyer"])
        for row in by_country["totals"]
        if row["values"]["gmv_per_buyer"] is not None
    }
    assert got == want


def test_online_retail_every_ratio_is_the_same_from_facts_and_rollups(retail: dict[str, Shop]) -> None:
    shop = retail["retail-sh"]
    window = {"ids": RATIO_IDS, "first": date(2010, 11, 20), "last": date(2010, 12, 9), "compare": False}
    facts = _answer(shop.warehouse, shop.tenant, source="facts", **window)
    rolled = _answer(shop.warehouse, shop.tenant, source="rollups", **window)
    assert facts["series"] == rolled["series"] and facts["totals"] == rolled["totals"]


# --- a hand-made shop: guests, carts without visits ------------------------------------------------------

FACTS = [
    # c1 buys twice, a2 (anonymous) once, and two guest checkouts have neither id.
    "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total, customer_id, anonymous_id, "
    "channel) VALUES "
    "('o1', 'paid', '2026-11-10 02:00', 'CNY', 100, 100, 'c1', NULL, 'web'),"
    "('o2', 'paid', '2026-11-10 05:00', 'CNY', 50, 50, 'c1', NULL, 'web'),"
    "('o3', 'paid', '2026-11-10 06:00', 'CNY', 30, 30, NULL, 'a2', 'web'),"
    "('o4', 'paid', '2026-11-10 07:00', 'CNY', 400, 400, NULL, NULL, 'web'),"
    "('o5', 'paid', '2026-11-10 08:00', 'CNY', 20, 20, NULL, NULL, 'app')",
    "INSERT INTO order_items (item_id, order_id, product_id, quantity, unit_price, line_total, currency, "
    "ordered_at) VALUES "
    "('i1', 'o1', 'p1', 1, 100, 100, 'CNY', '2026-11-10 02:00'),"
    "('i2', 'o2', 'p1', 1, 50, 50, 'CNY', '2026-11-10 05:00'),"
    "('i3', 'o3', 'p2', 1, 30, 30, 'CNY', '2026-11-10 06:00'),"
    "('i4', 'o4', 'p1', 4, 100, 400, 'CNY', '2026-11-10 07:00'),"
    "('i5', 'o5', 'p2', 1, 20, 20, 'CNY', '2026-11-10 08:00')",
    # v1 visits and adds to cart (in different hours); v2 adds to cart without any visit (a server-side
    # event); v3 only visits; u4 is known by user id only, visits on web and adds to cart from the app;
    # v5 adds to cart on the 10th and visits only on the 11th.
    "INSERT INTO events (message_id, type, event, anonymous_id, user_id, ts, received_at, channel) VALUES "
    "('e1', 'page', 'Home', 'v1', NULL, '2026-11-10 01:00', '2026-11-10 01:00', 'web'),"
    "('e2', 'track', 'Product Added', 'v1', NULL, '2026-11-10 03:00', '2026-11-10 03:00', 'web'),"
    "('e3', 'track', 'Product Added', 'v2', NULL, '2026-11-10 03:00', '2026-11-10 03:00', 'web'),"
    "('e4', 'page', 'Home', 'v3', NULL, '2026-11-10 04:00', '2026-11-10 04:00', 'web'),"
    "('e5', 'screen', 'Home', NULL, 'u4', '2026-11-10 04:00', '2026-11-10 04:00', 'web'),"
    "('e6', 'track', 'Product Added', NULL, 'u4', '2026-11-10 04:30', '2026-11-10 04:30', 'app'),"
    "('e7', 'track', 'Product Added', 'v5', NULL, '2026-11-10 09:00', '2026-11-10 09:00', 'web'),"
    "('e8', 'page', 'Home', 'v5', NULL, '2026-11-11 09:00', '2026-11-11 09:00', 'web')",
]
TENANT = TenantInfo("tn_ratios", "ratios", "Ratios", "UTC", "CNY", datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def handmade(tmp_path: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(tmp_path, TENANT.id)
    with warehouse.write() as cur:
        for sql in FACTS:
            cur.execute(sql)
        rollups.rebuild(cur)
        assert rollups.keep_days_in(cur, TENANT.timezone)
    yield warehouse
    warehouse.close()


@pytest.mark.parametrize("source", ["facts", "rollups", "auto"])
def test_guests_and_carts_without_visits(handmade: Warehouse, source: str) -> None:
    """Worked by hand. ``auto`` reads the day rollups for these whole UTC days, ``rollups`` too; the
    two-day total comes from the hourly rollups (distinct people over days)."""
    ids = [
        "gmv",
        "orders",
        "buyers",
        "aov",
        "gmv_per_buyer",
        "visitors",
        "add_to_cart_rate",
        "repurchase_rate",
    ]
    answer = _answer(
        handmade,
        TENANT,
        ids=ids,
        first=date(2026, 11, 10),
        last=date(2026, 11, 11),
        compare=False,
        source=source,
    )
    day10, day11 = (row["values"] for row in answer["series"])
    assert day10["gmv"] == "600.0000" and day10["orders"] == 5 and day10["aov"] == "120.0000"
    # Buyers c1 and anon:a2 bought 100 + 50 + 30; the guests' 420 is in GMV and AOV only.
    assert day10["buyers"] == 2 and day10["gmv_per_buyer"] == "90.0000"  # not 600 / 2 = 300
    assert day10["repurchase_rate"] == pytest.approx(0.5)
    # Visitors on the 10th: v1, v3, u4. Carts: v1 and u4 (a visit that day); not v2 (no visit) nor v5
    # (visits only on the 11th).
    assert day10["visitors"] == 3 and day10["add_to_cart_rate"] == pytest.approx(2 / 3)
    assert day11["visitors"] == 1 and day11["add_to_cart_rate"] == pytest.approx(0.0)
    total = answer["totals"][0]["values"]
    # Over both days v5 visited and added to cart: 3 of 4 visitors.
    assert total["visitors"] == 4 and total["add_to_cart_rate"] == pytest.approx(3 / 4)
    assert total["gmv_per_buyer"] == "90.0000"
    assert all(v is None or v <= 1 for v in (total["add_to_cart_rate"], day10["add_to_cart_rate"]))


@pytest.mark.parametrize("source", ["facts", "rollups"])
def test_per_breakdown_value_the_same_people(handmade: Warehouse, source: str) -> None:
    """By channel: u4 visited on web but added to cart from the app, so neither channel counts that cart;
    the app's guest order has no buyer, so the app has GMV but no GMV per buyer."""
    answer = _answer(
        handmade,
        TENANT,
        ids=["gmv", "gmv_per_buyer", "visitors", "add_to_cart_rate"],
        first=date(2026, 11, 10),
        last=date(2026, 11, 10),
        compare=False,
        breakdown="channel",
        source=source,
    )
    totals = {row["breakdown_value"]: row["values"] for row in answer["totals"]}
    assert totals["web"]["visitors"] == 3 and totals["web"]["add_to_cart_rate"] == pytest.approx(1 / 3)
    assert totals["web"]["gmv"] == "580.0000" and totals["web"]["gmv_per_buyer"] == "90.0000"
    assert totals["app"]["gmv"] == "20.0000" and totals["app"]["gmv_per_buyer"] is None
    assert totals["app"]["visitors"] == 0 and totals["app"]["add_to_cart_rate"] is None


def test_product_breakdown_counts_the_buyers_lines(handmade: Warehouse) -> None:
    """By product, GMV per buyer is the buyers' line totals of that product over its buyers."""
    answer = _answer(
        handmade,
        TENANT,
        ids=["gmv", "gmv_per_buyer"],
        first=date(2026, 11, 10),
        last=date(2026, 11, 10),
        compare=False,
        breakdown="product",
    )
    totals = {row["breakdown_value"]: row["values"] for row in answer["totals"]}
    assert totals["p1"] == {"gmv": "550.0000", "gmv_per_buyer": "150.0000"}  # c1's 100 + 50; o4 is a guest
    assert totals["p2"] == {"gmv": "50.0000", "gmv_per_buyer": "30.0000"}  # a2's 30; o5 is a guest


def test_every_ratio_names_its_populations() -> None:
    """Each ratio metric's definition says what its numerator and denominator count."""
    ratios = [m for m in METRICS if m.unit is Unit.ratio or "/" in m.formula]
    assert {m.id for m in ratios} >= set(RATIO_IDS)
    for metric in ratios:
        assert all(name in BASE_MEASURES for name in metric.measures)
    by_id = {m.id: m for m in METRICS}
    assert by_id["gmv_per_buyer"].measures == ("buyer_ordered_value", "buyer_count")
    assert "same orders" in by_id["gmv_per_buyer"].description
    assert "page or screen event" in BASE_MEASURES["cart_visitor_count"].definition
    for metric_id in ("conversion_rate", "uv_value"):
        assert "event" in by_id[metric_id].description and "order" in by_id[metric_id].description
