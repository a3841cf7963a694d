"""Buckets in local time (DST included), comparison periods, and the catalogue's own rules."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from ecomops.analytics import engine
from ecomops.analytics.catalogue import BASE_MEASURES, METRICS, METRICS_BY_ID, parse_breakdown, parse_ids
from ecomops.analytics.engine import MetricsQuery, resolve
from ecomops.analytics.periods import (
    Granularity,
    buckets,
    last_year_bucket,
    previous_bucket,
    snap,
    validate_window,
)
from ecomops.analytics.results import MetricsResult
from ecomops.kernel.errors import ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.context import TenantInfo

LONDON = ZoneInfo("Europe/London")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TENANT = TenantInfo("tn_x", "acme", "Acme", "Asia/Shanghai", "CNY", datetime(2026, 1, 1, tzinfo=UTC))


def test_dst_days_have_23_and_25_hours() -> None:
    autumn = buckets(date(2010, 10, 31), date(2010, 10, 31), Granularity.hour, LONDON)
    spring = buckets(date(2010, 3, 28), date(2010, 3, 28), Granularity.hour, LONDON)
    assert len(autumn) == 25 and len(spring) == 23
    # The repeated local hour 01:00 appears twice, with its two offsets; buckets never overlap.
    assert [b.label for b in autumn[1:3]] == ["2010-10-31T01:00+01:00", "2010-10-31T01:00+00:00"]
    assert all(a.end == b.start for a, b in pairwise(autumn))
    (day,) = buckets(date(2010, 10, 31), date(2010, 10, 31), Granularity.day, LONDON)
    assert day.end - day.start == timedelta(hours=25)
    assert day.start == datetime(2010, 10, 30, 23, tzinfo=UTC)


def test_day_week_month_buckets_in_shanghai() -> None:
    days = buckets(date(2026, 11, 10), date(2026, 11, 11), Granularity.day, SHANGHAI)
    assert [(b.label, b.start.isoformat()) for b in days] == [
        ("2026-11-10", "2026-11-09T16:00:00+00:00"),
        ("2026-11-11", "2026-11-10T16:00:00+00:00"),
    ]
    assert snap(date(2026, 11, 11), date(2026, 11, 11), Granularity.week) == (
        date(2026, 11, 9),
        date(2026, 11, 15),
    )
    assert snap(date(2026, 2, 11), date(2026, 3, 3), Granularity.month) == (
        date(2026, 2, 1),
        date(2026, 3, 31),
    )
    months = buckets(date(2026, 2, 1), date(2026, 3, 31), Granularity.month, SHANGHAI)
    assert [(b.label, b.first_day, b.end_day) for b in months] == [
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1)),
        ("2026-03", date(2026, 3, 1), date(2026, 4, 1)),
    ]
    weeks = buckets(date(2026, 11, 9), date(2026, 11, 22), Granularity.week, SHANGHAI)
    assert [b.label for b in weeks] == ["2026-11-09", "2026-11-16"]


def test_previous_and_last_year_buckets() -> None:
    (leap_day,) = buckets(date(2024, 2, 29), date(2024, 2, 29), Granularity.day, SHANGHAI)
    assert last_year_bucket(leap_day, Granularity.day, SHANGHAI).first_day == date(2023, 2, 28)
    (week,) = buckets(date(2026, 11, 9), date(2026, 11, 15), Granularity.week, SHANGHAI)
    ly_week = last_year_bucket(week, Granularity.week, SHANGHAI)
    assert ly_week.first_day == date(2025, 11, 10) and ly_week.first_day.weekday() == 0
    (january,) = buckets(date(2026, 1, 1), date(2026, 1, 31), Granularity.month, SHANGHAI)
    assert previous_bucket(january, Granularity.month, SHANGHAI).label == "2025-12"
    hour = buckets(date(2026, 11, 11), date(2026, 11, 11), Granularity.hour, SHANGHAI)[20]
    assert previous_bucket(hour, Granularity.hour, SHANGHAI).label == "2026-11-11T19:00+08:00"
    assert last_year_bucket(hour, Granularity.hour, SHANGHAI).start == datetime(2025, 11, 11, 12, tzinfo=UTC)


def test_window_validation_names_the_problem() -> None:
    with pytest.raises(ValidationFailed, match=r"from \(2026-11-12\) is after to \(2026-11-10\)"):
        validate_window(date(2026, 11, 12), date(2026, 11, 10), Granularity.day)
    with pytest.raises(ValidationFailed, match="allows at most 93"):
        validate_window(date(2026, 1, 1), date(2026, 6, 1), Granularity.hour)
    resolved = resolve(MetricsQuery("gmv"), TENANT, today=date(2026, 11, 30))
    assert (resolved.first, resolved.last) == (date(2026, 11, 1), date(2026, 11, 30))
    assert resolved.currency == "CNY" and resolved.timezone == "Asia/Shanghai"
    with pytest.raises(ValidationFailed, match="unknown granularity 'year'"):
        resolve(MetricsQuery("gmv", granularity="year"), TENANT)
    with pytest.raises(ValidationFailed, match="limit must be between"):
        resolve(MetricsQuery("gmv", limit=0), TENANT)


def test_ids_and_breakdowns_are_checked() -> None:
    assert parse_ids("gmv, aov,gmv") == ["gmv", "aov"]
    assert parse_ids(["gmv,aov", "roas"]) == ["gmv", "aov", "roas"]
    with pytest.raises(ValidationFailed) as info:
        parse_ids("gmv,revenue,uv")
    assert info.value.details["unknown"] == ["revenue", "uv"]
    assert "unknown metric id(s) 'revenue', 'uv'" in info.value.message
    with pytest.raises(ValidationFailed, match="at least one"):
        parse_ids(" , ")
    assert parse_breakdown(None) is None and parse_breakdown("channel").id == "channel"
    with pytest.raises(ValidationFailed, match="unknown breakdown 'utm'"):
        parse_breakdown("utm")


def test_catalogue_definitions() -> None:
    required = {
        "gmv", "net_sales", "orders", "buyers", "aov", "visitors", "conversion_rate", "uv_value",
        "add_to_cart_rate", "refund_rate", "repurchase_rate", "new_buyers", "returning_buyers",
        "gross_margin", "ad_spend", "roas", "roi", "cac",
    }  # fmt: skip
    assert required <= set(METRICS_BY_ID)
    assert len(METRICS_BY_ID) == len(METRICS)
    for metric in METRICS:
        assert metric.name_en and metric.name_zh and metric.formula and metric.description
        assert set(metric.measures) <= set(BASE_MEASURES)
    zeros = {m: (Decimal(0) if BASE_MEASURES[m].unit.value == "money" else 0) for m in BASE_MEASURES}
    # Ratios of empty buckets are undefined (None), not 0; sums and counts are 0.
    assert METRICS_BY_ID["aov"].compute(zeros) is None
    assert METRICS_BY_ID["conversion_rate"].compute(zeros) is None
    assert METRICS_BY_ID["gmv"].compute(zeros) == 0
    margin = {**zeros, "line_value": Decimal(100), "line_cost": Decimal(60), "lines_without_cost": 0}
    assert METRICS_BY_ID["gross_margin"].compute(margin) == Decimal("0.4")
    assert METRICS_BY_ID["gross_margin"].compute({**margin, "lines_without_cost": 1}) is None
    roi = {
        **zeros,
        "attributed_line_value": Decimal(300),
        "attributed_line_cost": Decimal(100),
        "spend_value": Decimal(100),
    }
    assert METRICS_BY_ID["roi"].compute(roi) == Decimal(1)  # (300 − 100 − 100) / 100
    assert METRICS_BY_ID["aov"].compute({**zeros, "ordered_value": Decimal(10), "order_count": 3}) == Decimal(
        "3.3333"
    )


def test_a_request_running_too_long_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watchdog interrupts the connection and the caller gets a precise 400, not a hung thread."""

    def endless(source: Any, *_: Any) -> dict[str, Any]:
        # Back-to-back queries of a fraction of a second each, for up to 60 s: the watchdog lands in one.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            source.backend.raw_sql("SELECT count(*) FROM range(20000000) a, range(10) b").fetchall()
        raise AssertionError("the watchdog never interrupted the connection")

    monkeypatch.setattr(engine, "compute", endless)
    resolved = resolve(MetricsQuery("gmv"), TENANT, today=date(2026, 11, 30))
    con = duckdb.connect()
    try:
        with pytest.raises(engine.MetricsTimeout, match=r"cancelled after 1 s") as info:
            engine.compute_on_connection(con, TENANT, resolved, timeout_seconds=1.0)
    finally:
        con.close()
    assert info.value.status_code == 400 and info.value.code == "metrics_timeout"


class CellsSource:
    """A measure source from fixed cells: what a rollup-backed source would hand the engine."""

    def __init__(self, cells: dict[tuple[str, str | None], dict[str, Any]]) -> None:
        self.cells = cells
        self.asked: list[tuple[str, int]] = []

    def unavailable(self, measure: str, *_: Any) -> str | None:
        return "no traffic in this source" if measure == "visitor_count" else None

    def compute(self, family: Any, buckets: Any, *_: Any) -> dict[tuple[str, str | None], dict[str, Any]]:
        self.asked.append((family.value, len(buckets)))
        labels = {b.label for b in buckets}
        return {k: v for k, v in self.cells.items() if k[0] in labels}

    def other_currencies(self, *_: Any) -> dict[str, int]:
        return {}

    def converted_currencies(self, *_: Any) -> dict[str, int]:
        return {}


def test_engine_combines_base_measures_from_any_source() -> None:
    """Ratios come from the numerator and denominator of the same cell; totals are the source's own."""
    source = CellsSource(
        {
            # A guest order of 6 on the 10th: in GMV and AOV, not in GMV per buyer.
            ("2026-11-10", None): {"ordered_value": Decimal("100"), "order_count": 4, "buyer_count": 3}
            | {"buyer_ordered_value": Decimal("94")},
            ("2026-11-11", None): {"ordered_value": Decimal("10"), "order_count": 1, "buyer_count": 1}
            | {"buyer_ordered_value": Decimal("10")},
            # Distinct buyers over both days: 3, not 3 + 1 (one bought on both days).
            ("total:current", None): {"ordered_value": Decimal("110"), "order_count": 5, "buyer_count": 3}
            | {"buyer_ordered_value": Decimal("104")},
        }
    )
    query = MetricsQuery(
        ["aov", "gmv_per_buyer", "visitors"], first=date(2026, 11, 10), last=date(2026, 11, 11)
    )
    result = json_form(engine.compute(source, TENANT, resolve(query, TENANT)), MetricsResult)
    assert [r["values"]["aov"] for r in result["series"]] == ["25.0000", "10.0000"]
    total = result["totals"][0]["values"]
    assert total["aov"] == "22.0000"  # 110 / 5, not the mean of 25 and 10
    assert total["gmv_per_buyer"] == "34.6667"  # 104 / 3: the buyers' own orders, not 110 / 3
    assert total["visitors"] is None
    assert result["metrics"][2] == {
        "id": "visitors",
        "name_en": "Visitors (UV)",
        "name_zh": "访客数 (UV)",
        "unit": "count",
        "formula": "visitor_count",
        "available": False,
        "reason": "no traffic in this source",
    }
    # One pass per needed family, every bucket at once: 2 days + the day before + 2 last-year days + 3 totals.
    assert source.asked == [("sales", 8)]
