"""Honest comparisons: a change against a period with almost no data, or too small a base, is marked not
comparable with the reason, in the engine's answer and in ``GET …/metrics``.

The shop (Asia/Shanghai) sells two orders a day from 2026-11-01 to 2026-11-30 and, before that, only on
three days of October (five orders each); nothing a year earlier.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from ecomops.analytics import engine, rollups
from ecomops.analytics.comparability import MIN_BASE_COUNT, coverage
from ecomops.analytics.engine import MetricsQuery, compute_for_warehouse
from ecomops.analytics.periods import Bucket, local_midnight
from ecomops.analytics.results import MetricsResult
from ecomops.cli import app
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from tests.conftest import InProcServer

OCTOBER_DAYS = (date(2026, 10, 5), date(2026, 10, 12), date(2026, 10, 19))


def _orders() -> list[tuple[str, datetime]]:
    """(order id, UTC time at local noon) of the shop's orders."""
    out = []
    day = date(2026, 11, 1)
    while day <= date(2026, 11, 30):
        for n in range(2):
            out.append((f"n{day.isoformat()}-{n}", datetime(day.year, day.month, day.day, 4, n)))
        day += timedelta(days=1)
    for day in OCTOBER_DAYS:
        for n in range(5):
            out.append((f"o{day.isoformat()}-{n}", datetime(day.year, day.month, day.day, 4, n)))
    return out


def load(warehouse: Warehouse) -> None:
    rows = [
        (oid, "paid", at, "CNY", 100, 0, 0, 100, f"c{i % 40}", "web") for i, (oid, at) in enumerate(_orders())
    ]
    with warehouse.write() as cur:
        cur.executemany(
            "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, discount, shipping, "
            "total, customer_id, channel) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        rollups.rebuild(cur)  # a writer outside ingest/imports rebuilds, as `ecomops rollups rebuild` does


@pytest.fixture
def shop(settings: Settings, tenant: TenantInfo) -> Iterator[Warehouse]:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        load(warehouse)
        yield warehouse
    finally:
        warehouse.close()


def _metrics(warehouse: Warehouse, tenant: TenantInfo, first: str, last: str, source: str) -> MetricsResult:
    first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    query = MetricsQuery(ids=["gmv", "orders", "aov"], first=first_day, last=last_day, source=source)
    return compute_for_warehouse(warehouse, tenant, query)


@pytest.mark.parametrize("source", ["facts", "rollups"])
def test_a_period_with_data_on_three_days_is_not_comparable(
    shop: Warehouse, tenant: TenantInfo, source: str
) -> None:
    answer = _metrics(shop, tenant, "2026-11-01", "2026-11-30", source)
    total = answer.totals[0]
    assert total.values["orders"] == 60 and total.previous_period is not None
    assert total.previous_period["orders"] == 15  # three October days × 5
    cover = answer.periods.previous_period and answer.periods.previous_period.coverage
    assert cover is not None and cover.days == 30 and cover.days_with_data["sales"] == 3
    assert answer.periods.current.coverage is not None
    assert answer.periods.current.coverage.days_with_data["sales"] == 30
    changes = total.previous_period_change
    assert changes is not None
    gmv = changes["gmv"]
    # The arithmetic is kept (6000 vs 1500 = +300 %), but flagged with the reason and its figures.
    assert gmv.change == pytest.approx(3.0) and not gmv.comparable
    assert gmv.reason_code == "sparse_period"
    assert gmv.reason == "the previous period has orders on only 3 of 30 days (this period on 30)"
    assert gmv.details == {"days_with_data": 3, "days": 30, "current_days_with_data": 30}
    assert {c.reason_code for c in changes.values()} == {"sparse_period"}
    # Nothing a year earlier: no base, no change.
    assert total.last_year_change is not None
    ly = total.last_year_change["gmv"]
    assert ly.change is None and not ly.comparable and ly.reason_code == "no_base"


def test_a_small_base_and_a_fair_comparison(shop: Warehouse, tenant: TenantInfo) -> None:
    # Two days (4 orders) against the two days before (4 orders): full coverage, too few orders.
    small = _metrics(shop, tenant, "2026-11-29", "2026-11-30", "auto").totals[0].previous_period_change
    assert small is not None
    assert small["orders"].change == pytest.approx(0.0) and not small["orders"].comparable
    assert small["orders"].reason_code == "small_base"
    assert small["orders"].details == {"base": 4, "min_base": MIN_BASE_COUNT}
    assert small["orders"].basis == "order_count"
    assert small["orders"].reason == (
        "the previous period has only 4 orders (fewer than 10): too few for a percentage"
    )
    # GMV rests on the same four orders (order_count is its support count).
    assert small["gmv"].reason_code == "small_base"
    # Fifteen days against fifteen days, 30 orders each: comparable, change 0.
    fair = _metrics(shop, tenant, "2026-11-16", "2026-11-30", "auto").totals[0].previous_period_change
    assert fair is not None
    assert all(c.comparable and c.reason is None for c in fair.values())
    assert fair["gmv"].change == pytest.approx(0.0)


@pytest.fixture
def api(server: InProcServer) -> Iterator[httpx.Client]:
    load(server.state.warehouses.get(server.tenant.id))
    headers = {"Authorization": f"Bearer {server.state.control_token}"}
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/{server.tenant.slug}", headers=headers, timeout=60
    ) as c:
        yield c


def test_the_api_says_comparable_beside_the_values(api: httpx.Client) -> None:
    body = api.get("/metrics", params={"ids": "gmv,orders", "from": "2026-11-01", "to": "2026-11-30"}).json()
    total = body["totals"][0]
    # Existing fields are unchanged; the comparison sits beside them.
    assert total["previous_period"] == {"gmv": "1500.0000", "orders": 15}
    assert total["previous_period_change"]["gmv"] == {
        "change": 3.0,
        "comparable": False,
        "reason_code": "sparse_period",
        "reason": "the previous period has orders on only 3 of 30 days (this period on 30)",
        "details": {"days_with_data": 3, "days": 30, "current_days_with_data": 30},
        "basis": "sales",
    }
    assert total["last_year_change"]["orders"]["reason_code"] == "no_base"
    assert body["periods"]["previous_period"]["coverage"] == {
        "days": 30,
        "days_with_data": {"sales": 3, "refunds": 0, "traffic": 0, "spend": 0},
    }
    # Without comparisons there is nothing to judge.
    plain = api.get("/metrics", params={"ids": "gmv", "compare": "false", "from": "2026-11-01"}).json()
    assert plain["totals"][0]["previous_period_change"] is None


def test_days_are_local_days_across_a_daylight_saving_change() -> None:
    """Hours map to the shop's local days with zoneinfo (New York's 8 March 2026 has 23 hours): an order at
    23:30 on the 7th is the 7th's, though it is the 8th in UTC."""
    zone = ZoneInfo("America/New_York")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table, column in (("orders", "ordered_at"), ("refunds", "refunded_at"), ("events", "ts")):
        con.execute(f"CREATE TABLE {table} ({column} TIMESTAMPTZ)")
    con.execute("CREATE TABLE ad_spend (date DATE)")
    local = [
        datetime(2026, 3, 7, 23, 30),  # late on the 7th: UTC already the 8th
        datetime(2026, 3, 8, 3, 30),  # after the clocks went forward
        datetime(2026, 3, 9, 0, 10),
        datetime(2026, 2, 1, 12, 0),  # between last year's period and the previous one: in neither
    ]
    con.executemany("INSERT INTO orders VALUES (?)", [[t.replace(tzinfo=zone)] for t in local])
    con.execute("INSERT INTO ad_spend VALUES ('2026-03-08'), ('2025-03-08')")
    day = timedelta(days=1)

    def period(first: date, days: int) -> Bucket:
        return Bucket(
            "",
            local_midnight(first, zone),
            local_midnight(first + days * day, zone),
            first,
            first + days * day,
        )

    periods = {
        "current": period(date(2026, 3, 7), 3),
        "previous_period": period(date(2026, 3, 4), 3),
        "last_year": period(date(2025, 3, 7), 3),
    }
    cover = coverage(con, periods, "America/New_York")
    assert cover["current"].days == 3
    assert cover["current"].days_with_data == {"sales": 3, "refunds": 0, "traffic": 0, "spend": 1}
    assert cover["previous_period"].days_with_data["sales"] == 0
    assert cover["last_year"].days_with_data == {"sales": 0, "refunds": 0, "traffic": 0, "spend": 1}


def test_the_cli_table_prints_not_comparable_and_why(shop: Warehouse, tenant: TenantInfo) -> None:
    shop.close()  # the command opens the file itself (read-only), as it does without a server
    result = CliRunner().invoke(
        app,
        [
            "metrics",
            "--tenant",
            tenant.slug,
            "gmv",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--source",
            "facts",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "n/c" in result.stdout and "+300.0%" not in result.stdout
    assert "the previous period has orders on only 3 of 30 days" in result.output


@pytest.mark.parametrize("source", ["facts", "rollups"])
def test_a_single_day_names_its_own_day_and_the_day_before(
    shop: Warehouse, tenant: TenantInfo, source: str
) -> None:
    """One day is answered by the hour; its periods still name whole local days (the hourly spans once
    read as "Nov 15 – Nov 14")."""
    periods = _metrics(shop, tenant, "2026-11-15", "2026-11-15", source).periods
    assert (periods.current.first, periods.current.last) == (date(2026, 11, 15), date(2026, 11, 15))
    assert periods.previous_period is not None and periods.last_year is not None
    assert (periods.previous_period.first, periods.previous_period.last) == (date(2026, 11, 14),) * 2
    assert (periods.last_year.first, periods.last_year.last) == (date(2025, 11, 15),) * 2


@pytest.mark.parametrize("source", ["facts", "rollups"])
def test_a_day_under_way_is_compared_with_the_same_hours_of_the_day_before(
    shop: Warehouse, tenant: TenantInfo, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shop sells at local noon (04:00 UTC). At 10:30 on 15 November nothing is sold yet, and yesterday
    by 11:00 had nothing either: no change, not ▼100 %. At 13:10 both days hold their two orders."""
    query = MetricsQuery(ids=["orders"], first=date(2026, 11, 15), last=date(2026, 11, 15), source=source)

    def at(utc: datetime) -> MetricsResult:
        monkeypatch.setattr(engine, "utcnow", lambda: utc)
        return compute_for_warehouse(shop, tenant, query)

    morning = at(datetime(2026, 11, 15, 2, 30, tzinfo=ZoneInfo("UTC")))
    assert morning.totals[0].values["orders"] == 0
    assert morning.totals[0].previous_period == {"orders": 0}
    previous = morning.periods.previous_period
    assert previous is not None and previous.end == datetime(2026, 11, 14, 3, tzinfo=ZoneInfo("UTC"))
    assert (previous.first, previous.last) == (date(2026, 11, 14), date(2026, 11, 14))
    afternoon = at(datetime(2026, 11, 15, 5, 10, tzinfo=ZoneInfo("UTC")))
    assert afternoon.totals[0].values["orders"] == 2 and afternoon.totals[0].previous_period == {"orders": 2}
    # A day that is over is compared whole.
    later = at(datetime(2026, 11, 20, 1, 0, tzinfo=ZoneInfo("UTC")))
    assert later.periods.previous_period is not None
    assert later.periods.previous_period.end == datetime(2026, 11, 14, 16, tzinfo=ZoneInfo("UTC"))
