"""``demo seed --if-missing``: what shop a tenant holds, and when a second ``make demo`` reuses it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from ecomops.simulate.coverage import MAX_CATCH_UP_DAYS, Coverage, decide, read_coverage
from ecomops.simulate.trickle_cli import RESUME_OVERLAP, catch_up_start
from tests.simulate.conftest import SHOP_PARAMS, SeededShop

AFTER = datetime(2026, 12, 3, 12, tzinfo=UTC)


def covered(shop: SeededShop, now: datetime = AFTER) -> Coverage:
    cur = shop.warehouse.cursor()
    try:
        return read_coverage(cur, shop.tenant, now)
    finally:
        cur.close()


def test_coverage_reads_the_seeded_shop(shop: SeededShop) -> None:
    cov = covered(shop)
    assert (cov.products, cov.customers) == (202, SHOP_PARAMS.customers)
    assert cov.last_event_day == SHOP_PARAMS.end_date  # the seeded window's last local day
    (per_day,) = shop.query(
        "SELECT count(*) / 7 FROM events WHERE ts >= TIMESTAMPTZ '2026-11-23 16:00:00+00' "
        "AND ts < TIMESTAMPTZ '2026-11-30 16:00:00+00'"
    )[0]
    assert cov.events_per_day == round(per_day, 1) and cov.events_per_day > 0
    # Nothing is "covered" before it happened.
    early = covered(shop, datetime(2026, 11, 30, 0, tzinfo=UTC))
    assert early.last_event_day == date(2026, 11, 30) and early.last_event_at is not None
    assert early.last_event_at <= datetime(2026, 11, 30, 0, tzinfo=UTC)
    # Today (Nov 30 in Shanghai) is not over: the rate is that of the 7 whole days before it.
    (whole,) = shop.query(
        "SELECT count(*) / 7 FROM events WHERE ts >= TIMESTAMPTZ '2026-11-22 16:00:00+00' "
        "AND ts < TIMESTAMPTZ '2026-11-29 16:00:00+00'"
    )[0]
    assert early.events_per_day == round(whole, 1)


def test_a_shop_up_to_the_end_date_is_reused(shop: SeededShop) -> None:
    decision = decide(covered(shop), SHOP_PARAMS)
    assert (decision.action, decision.missing_days) == ("reuse", 0)


def test_a_short_gap_is_reused_for_the_feed_to_catch_up_and_a_long_one_is_reseeded(shop: SeededShop) -> None:
    cov = covered(shop)
    short = decide(cov, replace(SHOP_PARAMS, end_date=date(2026, 12, 3)))
    assert (short.action, short.missing_days) == ("reuse", 3)
    assert "demo trickle" in short.reason
    limit = date.fromordinal(SHOP_PARAMS.end_date.toordinal() + MAX_CATCH_UP_DAYS)
    assert decide(cov, replace(SHOP_PARAMS, end_date=limit)).action == "reuse"
    late = decide(cov, replace(SHOP_PARAMS, end_date=date.fromordinal(limit.toordinal() + 1)))
    assert (late.action, late.missing_days) == ("seed", MAX_CATCH_UP_DAYS + 1)


def test_no_shop_or_another_size_is_seeded(shop: SeededShop) -> None:
    cov = covered(shop)
    assert decide(replace(cov, products=0), SHOP_PARAMS).action == "seed"
    assert decide(replace(cov, last_event_at=None, last_event_day=None), SHOP_PARAMS).action == "seed"
    other = decide(cov, replace(SHOP_PARAMS, customers=SHOP_PARAMS.customers + 1))
    assert other.action == "seed" and "customers" in other.reason


def test_the_feed_resumes_a_little_before_the_last_event_and_at_most_the_catch_up_window(
    shop: SeededShop,
) -> None:
    cov = covered(shop)
    assert cov.last_event_at is not None
    assert catch_up_start(cov, AFTER) == cov.last_event_at - RESUME_OVERLAP
    much_later = AFTER + timedelta(days=30)
    assert catch_up_start(cov, much_later) == much_later - timedelta(days=MAX_CATCH_UP_DAYS)
    assert catch_up_start(replace(cov, last_event_at=None), AFTER) == AFTER
