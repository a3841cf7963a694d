"""The live demo feed over real HTTP: its messages are valid (accepted, no dead letters), orders and the
live show land in the warehouse, the live dashboard shows them, and re-sending a minute counts nothing
twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ecomops.live import service as live
from ecomops.simulate.feed import Feed
from ecomops.simulate.trickle import TrickleModel, TrickleParams
from tests.conftest import InProcServer

#: 12:30 in Shanghai: the 12–16 show is on air, lunchtime traffic.
NOW = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def model(rate: float = 3.0) -> TrickleModel:
    return TrickleModel(
        TrickleParams(seed=42, customers=5000, timezone="Asia/Shanghai", currency="CNY", rate=rate)
    )


def test_the_same_minute_gives_the_same_messages_and_ids_start_with_the_simulators_prefix() -> None:
    minute = NOW - timedelta(minutes=3)
    first, again = model().minute_messages(minute), model().minute_messages(minute)
    assert first == again and first
    assert all(m["messageId"].startswith("sim_t") for m in first)
    assert model().minute_messages(minute + timedelta(minutes=1)) != first


def test_the_daily_rate_follows_the_option_and_the_hourly_curve() -> None:
    m = model(rate=0.5)
    day = [
        m.minute_messages(NOW - timedelta(hours=12, minutes=30) + timedelta(minutes=k)) for k in range(1440)
    ]
    per_hour = [sum(len(x) for x in day[h * 60 : (h + 1) * 60]) for h in range(24)]
    assert 0.85 * 0.5 * 86_400 < sum(per_hour) < 1.15 * 0.5 * 86_400
    # 21:00 local (the evening peak, hour 21 of the local day) is busier than 04:00.
    assert per_hour[21] > 5 * per_hour[4]


def test_feed_lands_orders_and_the_live_show_and_the_live_page_shows_them(server: InProcServer) -> None:
    clock = Clock(NOW)
    feed = Feed(model(), server.url, server.write_key, clock=clock)
    try:
        caught_up = feed.catch_up(NOW - timedelta(minutes=20)).sent
        clock.now = NOW + timedelta(minutes=2)
        sent_live = feed.step()
        stats = feed.stats
    finally:
        feed.close()
    assert caught_up > 0 and sent_live > 0 and stats.sent == caught_up + sent_live
    assert stats.rejected == 0 and stats.first_rejections == []
    assert stats.accepted == stats.sent and stats.orders > 5
    assert server.query("SELECT count(*) FROM ingest_dead_letters") == [(0,)]
    orders = server.query(
        "SELECT count(*), count(live_session_id), sum(total) FROM orders "
        "WHERE starts_with(order_id, 'sim_to')"
    )
    assert orders[0][0] == stats.orders and orders[0][1] > 0 and orders[0][2] > 0
    # Order lines carry the seeded catalogue's product ids and prices.
    unknown = server.query(
        "SELECT count(*) FROM order_items WHERE NOT regexp_matches(product_id, '^sim_p\\d{4}$')"
    )
    assert unknown == [(0,)]
    show = server.query("SELECT live_session_id, channel, title, ended_at, total_viewers FROM live_sessions")
    assert len(show) == 1 and show[0][0] == "sim_tlive202612011" and show[0][1] == "douyin"
    assert show[0][3] is None and show[0][4] > 0

    snap = live.snapshot(server.state, server.tenant, NOW + timedelta(minutes=2))
    assert snap.today.orders == stats.orders and snap.today.gmv > Decimal(0)
    assert snap.today.visitors > 0 and snap.hot_products
    assert sum(m.orders for m in snap.minutes) == stats.orders
    (on_air,) = snap.live_sessions
    assert on_air.on_air and on_air.orders > 0 and on_air.title and on_air.total_viewers

    # A restarted feed sends the same minutes again: all duplicates, nothing counted twice.
    again = Feed(model(), server.url, server.write_key, clock=clock)
    try:
        repeat = again.catch_up(NOW - timedelta(minutes=20))
    finally:
        again.close()
    assert repeat.accepted == 0 and repeat.duplicates == repeat.sent == stats.sent
    assert server.query("SELECT count(*) FROM orders")[0][0] == stats.orders


def test_the_model_refuses_a_non_positive_rate() -> None:
    with pytest.raises(ValueError):
        model(rate=0)
