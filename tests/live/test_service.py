"""Live figures against an independent pandas computation on a small simulator seed, with a pinned clock.

The clock is set inside a Douyin broadcast on the seed's last day (Asia/Shanghai), so every part of the
snapshot has data: minutes, today's totals, hot products, channels, a session on air. A few hand-made
orders check the edges the simulator does not produce: unpaid orders, a cancelled order, an order in
another currency, and an order stamped after ``now`` (not live yet).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine

from ecomops.kernel.jsonutil import json_form
from ecomops.live import service
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo

ZONE = ZoneInfo("Asia/Shanghai")
SCOPE = service.LiveScope("Asia/Shanghai", "CNY")
EXCLUDED = {"cancelled", "canceled", "voided"}


@pytest.fixture
def shop(
    settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path
) -> Iterator[tuple[Warehouse, datetime]]:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_demo(
        engine,
        wh,
        tenant,
        SeedParams(days=14, customers=5000, seed=7, end_date=date(2026, 11, 11)),
        data_dir / "manifest.json",
    )
    # The latest broadcast that starts on the last day; "now" is 100 minutes into it.
    row = wh.query(
        "SELECT started_at FROM live_sessions WHERE started_at < ? ORDER BY started_at DESC LIMIT 1",
        [datetime(2026, 11, 11, 16, 0, tzinfo=UTC)],
    )
    assert row, "the simulator wrote no live sessions on the last day"
    now = row[0][0].astimezone(UTC) + timedelta(minutes=100, seconds=17)
    with wh.write() as cur:
        extra = [
            ("x_unpaid1", "pending", now - timedelta(minutes=5), "CNY", "88.0000"),
            ("x_unpaid2", "unpaid", now - timedelta(minutes=2), "CNY", "120.5000"),
            ("x_cancel", "cancelled", now - timedelta(minutes=3), "CNY", "999.0000"),
            ("x_usd", "paid", now - timedelta(minutes=4), "USD", "50.0000"),
            ("x_future", "paid", now + timedelta(minutes=3), "CNY", "777.0000"),
        ]
        for oid, status, at, currency, total in extra:
            cur.execute(
                """INSERT INTO orders (order_id, channel, customer_id, status, ordered_at, currency,
                                       subtotal, total, items_count)
                   VALUES (?, 'web', ?, ?, ?, ?, ?, ?, 1)""",
                [oid, f"c_{oid}", status, at, currency, total, total],
            )
    yield wh, now
    wh.close()


def frames(wh: Warehouse) -> dict[str, pd.DataFrame]:
    cur = wh.cursor()
    try:
        return {
            name: cur.execute(f"SELECT * FROM {name}").df()
            for name in ("orders", "order_items", "events", "live_sessions", "products")
        }
    finally:
        cur.close()


def utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def money(value: object) -> str:
    return str(Decimal(str(value or 0)).quantize(Decimal("0.0001")))


def test_snapshot_matches_pandas(shop: tuple[Warehouse, datetime]) -> None:
    wh, now = shop
    cur = wh.cursor()
    try:
        snap = json_form(service.compute(cur, SCOPE, now), service.LiveSnapshot)  # as the API answers it
    finally:
        cur.close()
    f = frames(wh)
    orders = f["orders"].assign(ordered_at=lambda d: utc(d.ordered_at))
    events = f["events"].assign(ts=lambda d: utc(d.ts))
    local_now = now.astimezone(ZONE)
    midnight = pd.Timestamp(datetime(local_now.year, local_now.month, local_now.day, tzinfo=ZONE)).tz_convert(
        "UTC"
    )
    ts_now = pd.Timestamp(now)
    counted = orders[
        ~orders.status.isin(EXCLUDED) & (orders.currency == "CNY") & (orders.ordered_at <= ts_now)
    ]
    counted = counted.assign(buyer=counted.customer_id.fillna(counted.anonymous_id))
    views = events[events.type.isin(["page", "screen"]) & (events.ts <= ts_now)]
    views = views.assign(visitor=views.anonymous_id.fillna(views.user_id))

    # Today so far.
    today = counted[counted.ordered_at >= midnight]
    today_views = views[views.ts >= midnight]
    assert snap["today"]["gmv"] == money(today.total.sum())
    assert snap["today"]["orders"] == len(today) > 0
    assert snap["today"]["buyers"] == today.buyer.nunique()
    assert snap["today"]["visitors"] == today_views.visitor.nunique() > 0
    assert snap["today"]["conversion"] == pytest.approx(today.buyer.nunique() / today_views.visitor.nunique())
    assert snap["today"]["other_currencies"] == 1  # x_usd
    assert snap["today"]["unpaid_orders"] == 2 and snap["today"]["unpaid_value"] == "208.5000"
    assert snap["day_start"] == midnight.tz_convert(ZONE).isoformat()

    # 60 minutes, oldest first, the last one containing now, zeros where nothing happened.
    minutes = snap["minutes"]
    assert len(minutes) == service.WINDOW_MINUTES
    first = pd.Timestamp(now.replace(second=0, microsecond=0)) - pd.Timedelta(minutes=59)
    assert minutes[0]["minute"] == first.tz_convert(ZONE).isoformat()
    window = counted[counted.ordered_at >= first].assign(m=lambda d: d.ordered_at.dt.floor("min"))
    by_minute = window.groupby("m").agg(gmv=("total", "sum"), n=("order_id", "count"), b=("buyer", "nunique"))
    window_views = views[views.ts >= first].assign(m=lambda d: d.ts.dt.floor("min"))
    visitors = window_views.groupby("m").visitor.nunique()
    assert sum(m["orders"] for m in minutes) == len(window) > 0
    for i, row in enumerate(minutes):
        m = first + pd.Timedelta(minutes=i)
        n = int(by_minute.n.get(m, 0))
        assert row["orders"] == n, row
        assert row["gmv"] == money(by_minute.gmv.get(m, 0)), row
        assert row["visitors"] == int(visitors.get(m, 0)), row
        b = int(by_minute.b.get(m, 0))
        expected = None if not visitors.get(m, 0) else b / visitors.get(m)
        assert row["conversion"] == (pytest.approx(expected) if expected is not None else None)

    # Channels today.
    channels = today.groupby(today.channel.fillna("(none)")).agg(
        gmv=("total", "sum"), n=("order_id", "count")
    )
    assert {c["channel"]: (c["gmv"], c["orders"]) for c in snap["channels"]} == {
        ch: (money(r.gmv), int(r.n)) for ch, r in channels.iterrows()
    }
    assert [c["gmv"] for c in snap["channels"]] == sorted(
        (c["gmv"] for c in snap["channels"]), key=Decimal, reverse=True
    )

    # Hot products: line revenue of today's counted orders.
    items = f["order_items"].assign(ordered_at=lambda d: utc(d.ordered_at))
    lines = items[
        (items.ordered_at >= midnight)
        & (items.ordered_at <= ts_now)
        & (items.currency == "CNY")
        & items.order_id.isin(today.order_id)
    ]
    hot = (
        lines.groupby("product_id")
        .agg(revenue=("line_total", "sum"), units=("quantity", "sum"))
        .reset_index()
        .sort_values(["revenue", "product_id"], ascending=[False, True])
        .head(service.TOP_PRODUCTS)
    )
    assert [(p["product_id"], p["revenue"], p["units"]) for p in snap["hot_products"]] == [
        (r.product_id, money(r.revenue), int(r.units)) for r in hot.itertuples()
    ]

    # Live sessions: the one on air now is listed with the GMV of its orders so far.
    sessions = f["live_sessions"].assign(
        started_at=lambda d: utc(d.started_at), ended_at=lambda d: utc(d.ended_at)
    )
    shown = sessions[
        (sessions.started_at <= ts_now)
        & ((sessions.started_at >= midnight) | sessions.ended_at.isna() | (sessions.ended_at > ts_now))
    ]
    assert {s["live_session_id"] for s in snap["live_sessions"]} == set(shown.live_session_id)
    on_air = [s for s in snap["live_sessions"] if s["on_air"]]
    assert len(on_air) >= 1
    for s in snap["live_sessions"]:
        mine = counted[counted.live_session_id == s["live_session_id"]]
        assert s["gmv"] == money(mine.total.sum()) and s["orders"] == len(mine)
    assert any(s["orders"] > 0 for s in on_air)

    # Unpaid orders, newest first; the future, cancelled and USD orders are nowhere in the figures.
    assert [o["order_id"] for o in snap["unpaid"]] == ["x_unpaid2", "x_unpaid1"]
    assert snap["unpaid"][0]["status"] == "unpaid" and snap["unpaid"][0]["total"] == "120.5000"
    assert (
        snap["last_order_at"]
        == orders[orders.ordered_at <= ts_now].ordered_at.max().tz_convert(ZONE).isoformat()
    )


def test_day_start_follows_the_tenant_zone() -> None:
    now = datetime(2026, 11, 10, 17, 30, tzinfo=UTC)  # 01:30 on the 11th in Shanghai
    assert service.day_start(now, "Asia/Shanghai") == datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    assert service.day_start(now, "UTC") == datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
    # DST: the day after the spring change in New York starts at 04:00 UTC, the day before at 05:00.
    assert service.day_start(datetime(2026, 3, 8, 12, tzinfo=UTC), "America/New_York") == datetime(
        2026, 3, 8, 5, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="naive"):
        service.day_start(datetime(2026, 11, 11), "UTC")


def test_an_empty_shop_has_zeros_and_nulls_not_errors(settings: Settings, tenant: TenantInfo) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        cur = wh.cursor()
        snap = json_form(
            service.compute(cur, SCOPE, datetime(2026, 11, 11, 12, 0, 30, tzinfo=UTC)), service.LiveSnapshot
        )
        cur.close()
    finally:
        wh.close()
    assert snap["today"]["gmv"] == "0.0000" and snap["today"]["orders"] == 0
    assert snap["today"]["conversion"] is None and snap["today"]["aov"] is None
    assert len(snap["minutes"]) == 60 and all(m["orders"] == 0 for m in snap["minutes"])
    assert snap["minutes"][-1]["minute"] == "2026-11-11T20:00:00+08:00"
    assert snap["hot_products"] == [] and snap["unpaid"] == [] and snap["last_order_at"] is None


def test_change_marker_moves_when_todays_facts_arrive(settings: Settings, tenant: TenantInfo) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    now = datetime(2026, 11, 11, 12, 0, 30, tzinfo=UTC)
    try:
        cur = wh.cursor()
        empty = service.change_marker(cur, SCOPE, now)
        assert service.change_marker(cur, SCOPE, now) == empty
        with wh.write() as w:
            w.execute(
                """INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total)
                   VALUES ('old', 'paid', ?, 'CNY', 1, 1)""",
                [now - timedelta(days=3)],
            )
        assert service.change_marker(cur, SCOPE, now) == empty  # not today's: the regular tick shows it
        with wh.write() as w:
            w.execute(
                """INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total)
                   VALUES ('new', 'paid', ?, 'CNY', 1, 1)""",
                [now - timedelta(seconds=10)],
            )
        with_order = service.change_marker(cur, SCOPE, now)
        assert with_order != empty
        with wh.write() as w:
            w.execute(
                """INSERT INTO events (message_id, type, anonymous_id, ts, received_at)
                   VALUES ('m1', 'page', 'a1', ?, ?)""",
                [now - timedelta(seconds=5), now],
            )
        assert service.change_marker(cur, SCOPE, now) != with_order
        cur.close()
    finally:
        wh.close()
