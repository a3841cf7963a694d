"""Every catalogue metric equals an independent pandas computation, on Online Retail II and on the simulator.

Per bucket and per breakdown value, window totals, the previous period and the same period last year, in
Asia/Shanghai and UTC buckets, with refunds.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ecomops.analytics.catalogue import METRICS
from ecomops.analytics.engine import MetricsQuery, compute_for_warehouse
from ecomops.analytics.results import MetricsResult
from ecomops.kernel.jsonutil import json_form
from tests.analytics.conftest import Shop
from tests.analytics.reference import ZERO, Frames, assert_same, reference

ALL_IDS = [m.id for m in METRICS]
UNITS = {m.id: m.unit.value for m in METRICS}


def run(shop: Shop, **kwargs: Any) -> dict[str, Any]:
    """The engine's answer in the API's JSON form (the reference compares it value by value)."""
    query = MetricsQuery(ids=kwargs.pop("ids", ALL_IDS), **kwargs)
    answer: dict[str, Any] = json_form(
        compute_for_warehouse(shop.warehouse, shop.tenant, query), MetricsResult
    )
    return answer


def available(result: dict[str, Any]) -> set[str]:
    return {m["id"] for m in result["metrics"] if m["available"]}


def check_series(
    result: dict[str, Any], frames: Frames, tz: str, currency: str, *, granularity: str, breakdown: str | None
) -> int:
    """Compare every series cell and every window total; returns how many cells had data."""
    first, last = date.fromisoformat(result["from"]), date.fromisoformat(result["to"])
    ok = available(result)
    expected = reference(
        frames, tz=tz, currency=currency, first=first, last=last, granularity=granularity, breakdown=breakdown
    )
    totals = reference(
        frames, tz=tz, currency=currency, first=first, last=last, breakdown=breakdown, total=True
    )
    seen_dims = {dim for (_, dim) in expected}
    got_dims = [row["breakdown_value"] for row in result["totals"]]
    if breakdown is not None and result["breakdown"]["values_shown"] < result["breakdown"]["values_total"]:
        # Only the top `limit` values by the first metric's window total (then by name) are returned.
        assert result["breakdown"]["values_total"] == len(seen_dims)
        lead = result["metrics"][0]["id"]
        ranked = sorted(seen_dims, key=lambda d: (-totals[("total", d)][lead], d))
        assert got_dims == ranked[: len(got_dims)]
    else:
        assert set(got_dims) == seen_dims, (granularity, breakdown, set(got_dims) ^ seen_dims)
    with_data = 0
    for row in result["series"]:
        key = (row["bucket"], row["breakdown_value"])
        with_data += key in expected
        values = {k: v for k, v in row["values"].items() if k in ok}
        assert_same(values, expected.get(key, ZERO), UNITS, f"{granularity}/{breakdown}/{key}")
    totals = reference(
        frames, tz=tz, currency=currency, first=first, last=last, breakdown=breakdown, total=True
    )
    for row in result["totals"]:
        values = {k: v for k, v in row["values"].items() if k in ok}
        assert_same(
            values, totals[("total", row["breakdown_value"])], UNITS, f"total/{row['breakdown_value']}"
        )
    return with_data


# --- Online Retail II -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "breakdown"),
    [
        ("retail-sh", None),
        ("retail-utc", None),
        ("retail-sh", "country"),
        ("retail-utc", "country"),
        ("retail-sh", "product"),
    ],
)
def test_online_retail_per_day_and_breakdown(
    retail: dict[str, Shop], slug: str, breakdown: str | None
) -> None:
    shop = retail[slug]
    # Products: a shorter window (thousands of stock codes), of which the top 50 by GMV are returned.
    first = date(2010, 12, 3) if breakdown == "product" else date(2010, 11, 20)
    result = run(shop, first=first, last=date(2010, 12, 9), breakdown=breakdown)
    assert result["timezone"] == shop.tenant.timezone and result["currency"] == "GBP"
    # An import-only tenant: no visitors, no ad spend, no product cost — null with a reason, never 0.
    unavailable = {m["id"]: m["reason"] for m in result["metrics"] if not m["available"]}
    assert {"visitors", "conversion_rate", "uv_value", "add_to_cart_rate"} <= set(unavailable)
    assert {"ad_spend", "roas", "roi", "cac", "gross_margin", "gross_profit"} <= set(unavailable)
    if breakdown == "product":
        assert unavailable["visitors"] == "visitors are not recorded per product"
    else:
        assert "page or screen events" in unavailable["visitors"]
    assert "no product has a cost" in unavailable["gross_margin"]
    assert all(row["values"]["visitors"] is None for row in result["series"])
    cells = check_series(
        result, shop.frames, shop.tenant.timezone, "GBP", granularity="day", breakdown=breakdown
    )
    assert cells >= 6  # the shop trades on most days of the window


def test_online_retail_time_zone_moves_orders_between_days(retail: dict[str, Shop]) -> None:
    """Evening orders in London are the next morning in Shanghai: day totals move between days."""
    window = {"first": date(2010, 12, 1), "last": date(2010, 12, 9), "ids": ["gmv", "orders", "refunds"]}
    sh, utc = run(retail["retail-sh"], **window), run(retail["retail-utc"], **window)
    sh_days = [r["values"]["gmv"] for r in sh["series"]]
    utc_days = [r["values"]["gmv"] for r in utc["series"]]
    assert sh_days != utc_days
    # Shanghai's window starts and ends 8 hours earlier than UTC's, so even the totals differ, each matching
    # its own pandas reference (checked above); the UTC window's first hours are Shanghai's previous day.
    assert sh["periods"]["current"]["start"] == "2010-11-30T16:00:00+00:00"
    assert utc["periods"]["current"]["start"] == "2010-12-01T00:00:00+00:00"


def test_online_retail_comparisons(retail: dict[str, Shop]) -> None:
    """Previous period and the same dates of 2009 against pandas; per bucket, previous = the day before."""
    shop = retail["retail-sh"]
    tz = shop.tenant.timezone
    result = run(
        shop, first=date(2010, 12, 1), last=date(2010, 12, 9), ids=["gmv", "orders", "buyers", "aov"]
    )
    assert result["periods"]["previous_period"]["from"] == "2010-11-22"
    assert result["periods"]["last_year"]["from"] == "2009-12-01"
    units = UNITS
    prev = reference(
        shop.frames, tz=tz, currency="GBP", first=date(2010, 11, 22), last=date(2010, 11, 30), total=True
    )
    ly = reference(
        shop.frames, tz=tz, currency="GBP", first=date(2009, 12, 1), last=date(2009, 12, 9), total=True
    )
    total = result["totals"][0]
    assert_same(total["previous_period"], prev[("total", None)], units, "previous_period")
    assert_same(total["last_year"], ly[("total", None)], units, "last_year")
    assert int(total["last_year"]["orders"]) > 100  # December 2009 is really there
    ly_days = reference(shop.frames, tz=tz, currency="GBP", first=date(2009, 11, 30), last=date(2009, 12, 9))
    series = result["series"]
    for i, row in enumerate(series):
        if i:
            assert row["previous"] == series[i - 1]["values"]
        ly_label = str(int(row["bucket"][:4]) - 1) + row["bucket"][4:]
        assert_same(row["last_year"], ly_days.get((ly_label, None), ZERO), units, f"ly/{row['bucket']}")
    first_prev = reference(
        shop.frames, tz=tz, currency="GBP", first=date(2010, 11, 30), last=date(2010, 11, 30)
    )
    assert_same(series[0]["previous"], first_prev[("2010-11-30", None)], units, "previous of first")


# --- simulator ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "breakdown", [None, "channel", "source", "campaign", "device", "region", "category", "product"]
)
def test_shop_per_day_and_breakdown(shop: Shop, breakdown: str | None) -> None:
    result = run(shop, first=date(2026, 10, 20), last=date(2026, 11, 30), breakdown=breakdown)
    ok = available(result)
    assert {"gmv", "net_sales", "buyers", "repurchase_rate", "new_buyers", "gross_margin"} <= ok
    if breakdown in (None, "channel", "source", "campaign", "device", "region"):
        assert {"visitors", "conversion_rate", "uv_value", "add_to_cart_rate"} <= ok
    else:
        assert "visitors" not in ok
    if breakdown in (None, "channel", "source", "campaign"):
        assert {"ad_spend", "roas", "roi", "cac"} <= ok
    else:
        reasons = {m["id"]: m["reason"] for m in result["metrics"]}
        assert reasons["ad_spend"] == f"ad spend is not recorded per {breakdown}"
    cells = check_series(result, shop.frames, "Asia/Shanghai", "CNY", granularity="day", breakdown=breakdown)
    assert cells >= 40


@pytest.mark.parametrize(
    ("granularity", "first", "last"),
    [
        ("week", "2026-10-05", "2026-11-30"),
        ("month", "2026-10-01", "2026-11-30"),
        ("hour", "2026-11-10", "2026-11-12"),
    ],
)
def test_shop_granularities(shop: Shop, granularity: str, first: str, last: str) -> None:
    result = run(
        shop, first=date.fromisoformat(first), last=date.fromisoformat(last), granularity=granularity
    )
    cells = check_series(result, shop.frames, "Asia/Shanghai", "CNY", granularity=granularity, breakdown=None)
    assert cells >= 2
    if granularity == "hour":
        assert len(result["series"]) == 72
        assert result["series"][0]["bucket"] == "2026-11-10T00:00+08:00"
        assert "ad_spend" not in available(result)


def test_shop_in_utc_buckets(shop: Shop) -> None:
    """The tenant is in Asia/Shanghai; timezone=UTC re-buckets the same facts."""
    result = run(shop, first=date(2026, 11, 1), last=date(2026, 11, 30), breakdown="channel", timezone="UTC")
    assert result["timezone"] == "UTC"
    check_series(result, shop.frames, "UTC", "CNY", granularity="day", breakdown="channel")


def test_shop_previous_period(shop: Shop) -> None:
    result = run(shop, first=date(2026, 11, 1), last=date(2026, 11, 30), breakdown="channel")
    prev = reference(
        shop.frames,
        tz="Asia/Shanghai",
        currency="CNY",
        first=date(2026, 10, 2),
        last=date(2026, 10, 31),
        breakdown="channel",
        total=True,
    )
    ok = available(result)
    for row in result["totals"]:
        values = {k: v for k, v in row["previous_period"].items() if k in ok}
        assert_same(values, prev.get(("total", row["breakdown_value"]), ZERO), UNITS, row["breakdown_value"])
