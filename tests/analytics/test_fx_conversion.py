"""FX conversion on real data: the Online Retail II slice (GBP) imported into a CNY shop with dated rates,
checked against pandas (rates applied by each order's local day with ``merge_asof``, exact sums)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine

from ecomops.analytics import service
from ecomops.analytics.engine import MetricsQuery
from ecomops.fx import service as fx
from ecomops.imports import jobs
from ecomops.imports.execution import run_job
from ecomops.imports.options import ImportOptions, InputFile
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.tenancy import service as tenancy
from tests.analytics.conftest import Shop, retail_frames, write_slice

ZONE = "Asia/Shanghai"
#: The first rate starts after the slice's first days: orders of 2009-12-01 … 12-04 stay unconverted.
RATES = (("2009-12-05", "8.91230000"), ("2010-11-20", "8.50000000"), ("2010-12-01", "8.12345678"))
E4 = Decimal("0.0001")


@pytest.fixture(scope="module")
def cny_shop(module_settings: Settings, module_engine: Engine) -> Iterator[Shop]:
    path = module_settings.resolved_data_dir / "fx-slice.csv.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = retail_frames(write_slice(path))
    tenant = tenancy.create_tenant(module_engine, "retail-cny", "Retail CNY", ZONE, "CNY")
    warehouse = open_warehouse(module_settings.warehouse_dir(), tenant.id)
    job = jobs.create_job(module_engine, tenant.id, "online-retail-ii", [path.name], path.stat().st_size)
    run_job(
        settings=module_settings,
        engine=module_engine,
        warehouse=warehouse,
        tenant=tenant,
        job_id=job.id,
        files=[InputFile(path, path.name)],
        options=ImportOptions(preset="online-retail-ii"),
    )
    yield Shop(module_engine, tenant, warehouse, frames)
    warehouse.close()


class _State:
    """What ``analytics.service.get_metrics`` reads of the process state."""

    def __init__(self, shop: Shop) -> None:
        self.engine = shop.engine
        self.warehouses = {shop.tenant.id: shop.warehouse}


def _metrics(shop: Shop, first: str, last: str, **extra: object) -> service.MetricsResult:
    query = MetricsQuery(
        ids=["gmv", "orders", "refunds"],
        first=date.fromisoformat(first),
        last=date.fromisoformat(last),
        **extra,
    )
    return service.get_metrics(_State(shop), shop.tenant, query)  # type: ignore[arg-type]


def _reference(frames: pd.DataFrame, amount: str, first: str, last: str) -> tuple[Decimal, int, int]:
    """(converted sum, converted rows, unconverted rows) of one fact frame over local days [first, last]."""
    df = frames.copy()
    df["day"] = pd.to_datetime(df["ts"]).dt.tz_convert(ZONE).dt.date
    df = df[(df["day"] >= date.fromisoformat(first)) & (df["day"] <= date.fromisoformat(last))]
    rates = pd.DataFrame(
        {"valid_from": [date.fromisoformat(d) for d, _ in RATES], "rate": [Decimal(r) for _, r in RATES]}
    )
    df = df.assign(day_ts=pd.to_datetime(df["day"])).sort_values("day_ts")
    rates = rates.assign(day_ts=pd.to_datetime(rates["valid_from"])).sort_values("day_ts")
    merged = pd.merge_asof(df, rates[["day_ts", "rate"]], on="day_ts", direction="backward")
    rated = merged[merged["rate"].notna()]
    total = sum(
        (Decimal(int(v)) * E4 * r for v, r in zip(rated[amount], rated["rate"], strict=True)), Decimal(0)
    )
    return total.quantize(E4), len(rated), int(merged["rate"].isna().sum())


def test_without_rates_gbp_orders_are_left_out_and_named(cny_shop: Shop) -> None:
    answer = _metrics(cny_shop, "2009-12-01", "2009-12-09", compare=False)
    assert answer.totals[0].values["gmv"] == Decimal("0.0000") and answer.totals[0].values["orders"] == 0
    days = pd.to_datetime(cny_shop.frames.orders["ts"]).dt.tz_convert(ZONE).dt.date
    in_window = days.between(date(2009, 12, 1), date(2009, 12, 9))
    assert answer.other_currencies == {"GBP": int(in_window.sum())}
    assert answer.converted_currencies == {}


def test_gmv_converts_with_the_rate_of_each_orders_local_day(cny_shop: Shop) -> None:
    fx.import_csv(
        cny_shop.engine,
        cny_shop.tenant,
        "currency,valid_from,rate\n" + "\n".join(f"GBP,{d},{r}" for d, r in RATES),
    )
    frames = cny_shop.frames
    for first, last in (("2009-12-01", "2009-12-09"), ("2010-11-15", "2010-12-09")):
        answer = _metrics(cny_shop, first, last, compare=False)
        gmv, converted, unconverted = _reference(frames.orders, "total_e4", first, last)
        refunds, _, _ = _reference(frames.refunds, "amount_e4", first, last)
        total = answer.totals[0].values
        assert total["gmv"] == gmv and gmv > 0
        assert total["orders"] == converted
        assert total["refunds"] == refunds
        assert answer.converted_currencies == {"GBP": converted}
        assert answer.other_currencies == ({"GBP": unconverted} if unconverted else {})
        assert answer.source == "facts"
        # Day by day too: each bucket converts its own orders.
        for row in answer.series:
            day = row.bucket[:10]
            assert row.values["gmv"] == _reference(frames.orders, "total_e4", day, day)[0], day
    # 2009-12-01 … 12-04 precede the first rate: counted and reported, never silently 0.
    early = _metrics(cny_shop, "2009-12-01", "2009-12-04", compare=False)
    assert early.totals[0].values["orders"] == 0 and early.other_currencies["GBP"] > 0


def test_a_report_in_the_facts_currency_converts_nothing(cny_shop: Shop) -> None:
    answer = _metrics(cny_shop, "2010-11-15", "2010-12-09", compare=False, currency="GBP")
    orders = cny_shop.frames.orders
    days = pd.to_datetime(orders["ts"]).dt.tz_convert(ZONE).dt.date
    in_window = days.between(date(2010, 11, 15), date(2010, 12, 9))
    expected = Decimal(int(orders.loc[in_window, "total_e4"].sum())) * E4
    assert answer.totals[0].values["gmv"] == expected
    assert answer.converted_currencies == {}
