"""What the seeded shop must look like: checked against the warehouse with independent SQL / pandas."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from ecomops.simulate.params import SeedParams
from tests.simulate.conftest import SHOP_PARAMS, SeededShop

CHANNELS = ("web", "wechat_mini", "douyin", "tmall", "jd")


def daily_gmv(shop: SeededShop) -> pd.Series:
    df = (
        shop.warehouse.cursor()
        .execute(
            "SELECT CAST(timezone('Asia/Shanghai', ordered_at) AS DATE) AS day, sum(total)::DOUBLE AS gmv "
            "FROM orders GROUP BY 1"
        )
        .fetchdf()
    )
    return df.set_index("day")["gmv"].sort_index()


def test_row_counts_match_manifest_and_customers_exact(shop: SeededShop) -> None:
    for table, n in shop.manifest["row_counts"].items():
        assert shop.query(f"SELECT count(*) FROM {table}")[0][0] == n, table
    assert shop.manifest["row_counts"]["customers"] == SHOP_PARAMS.customers
    assert shop.result.row_counts == shop.manifest["row_counts"]
    assert shop.manifest["params"]["seed"] == SHOP_PARAMS.seed


def test_manifest_has_the_ground_truth_sections(shop: SeededShop) -> None:
    m = shop.manifest
    for key in (
        "params",
        "window",
        "row_counts",
        "channels",
        "categories",
        "seasonality",
        "peaks",
        "campaigns",
        "coupons",
        "abuse_ring",
        "stockouts",
        "reviews",
        "click_hotspots",
        "price_model",
        "live",
    ):
        assert key in m, key
    assert {c["key"] for c in m["categories"]} >= {"beauty", "apparel", "electronics"}
    assert all(c["price_elasticity"] < 0 for c in m["categories"])
    assert [p["date"] for p in m["peaks"] if p["name"] in ("618", "double11")] == ["2026-06-18", "2026-11-11"]


@pytest.mark.parametrize(
    ("peak", "quiet_before", "quiet_after"),
    [
        (date(2026, 6, 18), (date(2026, 5, 16), date(2026, 5, 31)), (date(2026, 6, 22), date(2026, 7, 12))),
        (
            date(2026, 11, 11),
            (date(2026, 9, 20), date(2026, 10, 18)),
            (date(2026, 11, 15), date(2026, 11, 29)),
        ),
    ],
)
def test_festival_peaks_stand_out_in_daily_gmv(
    shop: SeededShop, peak: date, quiet_before: tuple[date, date], quiet_after: tuple[date, date]
) -> None:
    gmv = daily_gmv(shop)
    ts = pd.Timestamp

    def span(a: date, b: date) -> pd.Series:
        return gmv.loc[ts(a) : ts(b)]

    around = pd.concat([span(*quiet_before), span(*quiet_after)])
    assert len(around) > 25
    assert gmv.loc[ts(peak)] > 3 * around.median()
    # and the peak day is the busiest day of its fortnight
    assert gmv.loc[ts(peak)] == span(peak - timedelta(days=7), peak + timedelta(days=7)).max()


def test_funnel_is_monotone_per_channel(shop: SeededShop) -> None:
    rows = shop.query("""
        SELECT channel,
               count(DISTINCT session_id) FILTER (WHERE event = 'Product Viewed'),
               count(DISTINCT session_id) FILTER (WHERE event = 'Product Added'),
               count(DISTINCT session_id) FILTER (WHERE event = 'Checkout Started'),
               count(DISTINCT session_id) FILTER (WHERE event = 'Order Completed'),
               count(*) FILTER (WHERE event = 'Product Viewed'),
               count(*) FILTER (WHERE event = 'Product Added'),
               count(*) FILTER (WHERE event = 'Checkout Started'),
               count(*) FILTER (WHERE event = 'Order Completed')
        FROM events GROUP BY channel""")
    assert {r[0] for r in rows} == set(CHANNELS)
    for channel, v, a, c, o, ev, ea, ec, eo in rows:
        assert v >= a >= c >= o > 0, channel
        assert ev >= ea >= ec >= eo, channel
    # every order has exactly one 'Order Completed' event carrying its total as revenue
    mismatch = shop.query("""
        SELECT count(*) FROM orders o FULL JOIN (SELECT order_id, revenue FROM events
                                                 WHERE event = 'Order Completed') e USING (order_id)
        WHERE o.total IS DISTINCT FROM e.revenue""")
    assert mismatch[0][0] == 0


def test_realised_conversion_rates_match_the_manifest(shop: SeededShop) -> None:
    rows = shop.query("""
        SELECT s.channel, s.sessions, coalesce(o.orders, 0)
        FROM (SELECT channel, count(DISTINCT session_id) AS sessions FROM events
              WHERE session_id IS NOT NULL GROUP BY channel) s
        LEFT JOIN (SELECT channel, count(*) AS orders FROM orders GROUP BY channel) o USING (channel)""")
    for channel, sessions, orders in rows:
        truth = shop.manifest["channels"][channel]
        assert truth["sessions"] == sessions
        assert truth["realised_conversion_rate"] == pytest.approx(orders / sessions, abs=1e-6)
        p = truth["expected_conversion_rate"]
        lost = truth["sessions_lost_to_stockouts"] / sessions
        tolerance = 4 * math.sqrt(p * (1 - p) / sessions) + lost
        assert abs(orders / sessions - p) <= tolerance, channel
        assert truth["base_conversion_rate"] > 0


def test_order_total_is_items_minus_discount_plus_shipping(shop: SeededShop) -> None:
    cur = shop.warehouse.cursor()
    # Money as exact integer hundredths (pandas would turn DECIMAL into floats).
    orders = cur.execute("""
        SELECT order_id, CAST(subtotal * 100 AS BIGINT) AS subtotal,
               CAST(discount * 100 AS BIGINT) AS discount, CAST(shipping * 100 AS BIGINT) AS shipping,
               CAST(total * 100 AS BIGINT) AS total, items_count, coupon
        FROM orders""").fetchdf()
    items = cur.execute("""
        SELECT order_id, quantity, CAST(unit_price * 100 AS BIGINT) AS unit_price,
               CAST(line_total * 100 AS BIGINT) AS line_total
        FROM order_items""").fetchdf()
    assert (items["line_total"] == items["quantity"] * items["unit_price"]).all()
    per_order = items.groupby("order_id").agg(items=("line_total", "sum"), units=("quantity", "sum"))
    merged = orders.set_index("order_id").join(per_order, how="left")
    assert merged["items"].notna().all(), "every order has lines"
    assert (merged["total"] == merged["items"] - merged["discount"] + merged["shipping"]).all()
    assert (merged["subtotal"] == merged["items"]).all()
    assert (merged["items_count"] == merged["units"]).all()
    assert (merged["discount"] >= 0).all() and (merged["discount"] <= merged["subtotal"]).all()
    assert (merged.loc[merged["coupon"].isna(), "discount"] == 0).all()
    assert merged["coupon"].notna().sum() > 0


def test_abuse_ring_reuses_the_new_customer_coupon(shop: SeededShop) -> None:
    ring = shop.manifest["abuse_ring"]
    ids = ring["customer_ids"]
    assert len(ids) >= 8
    cur = shop.warehouse.cursor()
    customers = (
        cur.execute("""
        SELECT customer_id, attributes->>'device_id' AS device, attributes->>'address_hash' AS address, city
        FROM customers""")
        .fetchdf()
        .set_index("customer_id")
    )
    members = customers.loc[ids]
    assert set(members["device"]) <= set(ring["device_ids"])
    assert set(members["address"]) <= set(ring["address_hashes"])
    assert (members["city"] == ring["city"]).all()
    # Outside the ring, a device or an address belongs to one account only.
    others = customers.drop(index=ids)
    assert others["device"].is_unique and others["address"].is_unique
    orders = cur.execute("""
        SELECT customer_id, coupon, properties->>'address_hash' AS address,
               properties->>'first_order' AS first
        FROM orders""").fetchdf()
    ring_orders = orders[orders["customer_id"].isin(ids)]
    assert len(ring_orders) == len(ids), "one order per ring account"
    assert (ring_orders["coupon"] == ring["coupon"]).all()
    assert set(ring_orders["address"]) <= set(ring["address_hashes"])
    # The pattern a fraud engine should find: many first orders with the coupon to one address.
    per_address = orders[orders["coupon"] == ring["coupon"]].groupby("address")["customer_id"].nunique()
    assert per_address.max() >= len(ids) // 2
    assert (per_address.drop(index=ring["address_hashes"], errors="ignore") == 1).all()


def test_no_sales_during_stockouts(shop: SeededShop) -> None:
    intervals = shop.manifest["stockouts"]["intervals"]
    assert intervals, "the shop runs out of something"
    cur = shop.warehouse.cursor()
    cur.execute(
        "CREATE TEMP TABLE outs (product_id VARCHAR, warehouse VARCHAR, s TIMESTAMPTZ, e TIMESTAMPTZ)"
    )
    cur.executemany(
        "INSERT INTO outs VALUES (?, ?, ?, ?)",
        [[i["product_id"], i["warehouse"], i["start"], i["end"]] for i in intervals],
    )
    sold_while_out = cur.execute("""
        SELECT count(*) FROM order_items i JOIN orders o USING (order_id)
        JOIN outs ON outs.product_id = i.product_id AND outs.warehouse = (o.properties->>'warehouse')
        WHERE i.ordered_at > outs.s AND (outs.e IS NULL OR i.ordered_at < outs.e)""").fetchone()
    assert sold_while_out == (0,)
    # The end-of-day snapshot of the day stock ran out shows zero on hand.
    not_zero = cur.execute("""
        SELECT count(*) FROM outs JOIN inventory_snapshots snap
          ON snap.product_id = outs.product_id AND snap.warehouse_code = outs.warehouse
         AND snap.snapshot_at = (SELECT min(snapshot_at) FROM inventory_snapshots x
                                 WHERE x.product_id = outs.product_id AND x.warehouse_code = outs.warehouse
                                   AND x.snapshot_at > outs.s)
        WHERE snap.on_hand <> 0 AND (outs.e IS NULL OR snap.snapshot_at < outs.e)""").fetchone()
    assert not_zero == (0,)
    # Best-sellers run out too (the top decile by units sold has at least one interval).
    top = cur.execute("""
        SELECT product_id FROM order_items GROUP BY product_id ORDER BY sum(quantity) DESC, product_id
        LIMIT 20""").fetchall()
    assert {i["product_id"] for i in intervals} & {t[0] for t in top}
    cur.close()


def test_views_during_stockouts_are_flagged(shop: SeededShop) -> None:
    flagged = shop.query("""SELECT count(*) FROM events WHERE event = 'Product Viewed'
                            AND (properties->>'in_stock')::BOOLEAN = false""")[0][0]
    assert flagged > 0


def test_reviews_in_both_languages_with_sentiment_following_rating(shop: SeededShop) -> None:
    rows = shop.query("SELECT language, rating, body FROM reviews")
    languages = {r[0] for r in rows}
    assert languages == {"zh", "en"}
    positive_zh = ("满意", "很好", "推荐购买", "会回购", "非常棒", "没得说", "超出预期", "很喜欢")
    negative_zh = ("失望", "太差", "后悔", "不推荐", "坏了", "不符", "有问题", "不行")
    for language, rating, body in rows:
        if language == "zh" and rating >= 4:
            assert any(w in body for w in positive_zh), body
        if language == "zh" and rating <= 2:
            assert any(w in body for w in negative_zh), body
        if language == "en" and rating <= 2:
            assert any(
                w in body.lower()
                for w in (
                    "disappoint",
                    "terrible",
                    "not recommend",
                    "poor",
                    "awful",
                    "problem",
                    "waste",
                    "broke",
                    "not as described",
                )
            ), body
    ratings = {r[1] for r in rows}
    assert ratings == {1, 2, 3, 4, 5}


def test_ad_spend_matches_campaign_sessions(shop: SeededShop) -> None:
    campaigns = {c["utm_campaign"]: c for c in shop.manifest["campaigns"]}
    spend = dict(shop.query("SELECT utm_campaign, sum(spend)::DOUBLE FROM ad_spend GROUP BY 1"))
    assert set(spend) == {name for name, c in campaigns.items() if c["spend"] > 0}
    for name, total in spend.items():
        assert total == pytest.approx(campaigns[name]["spend"], abs=0.01)
    # Each paid click is a session landing with that campaign's UTM, on the same local day.
    mismatch = shop.query("""
        WITH sessions AS (
            SELECT utm_campaign, CAST(timezone('Asia/Shanghai', min(ts)) AS DATE) AS day
            FROM events WHERE utm_campaign IS NOT NULL AND session_id IS NOT NULL
            GROUP BY session_id, utm_campaign
        ), per_day AS (SELECT utm_campaign, day, count(*) AS n FROM sessions GROUP BY 1, 2)
        SELECT count(*) FROM ad_spend a
        FULL JOIN per_day p ON p.utm_campaign = a.utm_campaign AND p.day = a.date
        WHERE coalesce(a.clicks, 0) <> coalesce(p.n, 0)""")
    assert mismatch == [(0,)]
    # Spend drives traffic: more spend on a campaign-day means more clicks (Poisson-noisy at this size).
    corr = shop.query(
        "SELECT corr(spend::DOUBLE, clicks::DOUBLE) FROM ad_spend WHERE utm_campaign = ?", ["ztc_search"]
    )[0][0]
    assert corr > 0.3
    brand = campaigns["brand_search_always_on"]
    assert brand["roas_incremental"] < brand["roas_last_click"]


def test_live_orders_fall_inside_their_broadcast(shop: SeededShop) -> None:
    rows = shop.query("""
        SELECT count(*),
               count(*) FILTER (WHERE o.ordered_at BETWEEN l.started_at AND l.ended_at + INTERVAL 2 HOUR),
               count(*) FILTER (WHERE o.channel = 'douyin')
        FROM orders o JOIN live_sessions l USING (live_session_id)""")[0]
    assert rows[0] > 0 and rows[0] == rows[1] == rows[2]
    tagged = shop.query("SELECT count(*) FROM events WHERE properties->>'live_session_id' IS NOT NULL")[0][0]
    assert tagged > 0


def test_sessions_follow_the_local_intraday_curve(shop: SeededShop) -> None:
    hours = dict(
        shop.query("""SELECT hour(timezone('Asia/Shanghai', ts)), count(*) FROM events
                               WHERE type = 'page' GROUP BY 1""")
    )
    evening = sum(hours.get(h, 0) for h in (20, 21, 22))
    night = sum(hours.get(h, 0) for h in (3, 4, 5))
    assert evening > 10 * night


def test_clicks_have_coordinates_on_hot_spots(shop: SeededShop) -> None:
    # The screen is stored like ingest stores it: typed columns, and the whole context via context_full.
    rows = shop.query("""SELECT count(*), count(x), avg(x / screen_width),
                                count(*) FILTER (
                                    context_full(events)->'screen'->>'width' = screen_width::VARCHAR)
                         FROM events WHERE event = 'Element Clicked'""")[0]
    assert rows[0] > 0 and rows[0] == rows[1] == rows[3]
    assert 0.3 < rows[2] < 0.7
    assert (
        shop.query(
            "SELECT count(*) FROM events WHERE x IS NOT NULL AND event NOT IN "
            "('Element Clicked', 'Product Added')"
        )[0][0]
        == 0
    )


def test_operational_store_has_catalogue_and_stock(shop: SeededShop) -> None:
    from sqlalchemy import func, select

    from ecomops.platform.store.scoping import tenant_session
    from ecomops.products.models import Product, StockLevel, Warehouse

    with tenant_session(shop.engine, shop.tenant.id) as s:
        products = s.scalar(
            select(func.count()).select_from(Product).where(Product.tenant_id == shop.tenant.id)
        )
        warehouses = s.scalars(select(Warehouse.code).where(Warehouse.tenant_id == shop.tenant.id)).all()
        levels = s.execute(
            select(Product.sku, Warehouse.code, StockLevel.on_hand)
            .join(Product, Product.id == StockLevel.product_id)
            .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
            .where(StockLevel.tenant_id == shop.tenant.id)
        ).all()
    assert products == shop.manifest["row_counts"]["products"]
    assert sorted(warehouses) == ["WH-BJ", "WH-CD", "WH-GZ", "WH-SH"]
    last = dict(
        ((sku, wh), n)
        for sku, wh, n in shop.query("""
        SELECT p.sku, s.warehouse_code, s.on_hand
        FROM inventory_snapshots s JOIN products p USING (product_id)
        WHERE s.snapshot_at = (SELECT max(snapshot_at) FROM inventory_snapshots)""")
    )
    assert len(levels) == len(last) == products * 4
    assert {(sku, wh): n for sku, wh, n in levels} == last


def test_parameters_are_validated() -> None:
    from ecomops.kernel.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        SeedParams(days=5).validated()
    with pytest.raises(ValidationFailed):
        SeedParams(customers=10).validated()
