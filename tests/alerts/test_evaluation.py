"""Rule evaluation against the seeded shop with a fixed clock: what fires, what does not, and why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from ecomops.alerts import service
from ecomops.alerts.results import Rule, RuleWithSecret
from ecomops.alerts.service import RuleSpec
from ecomops.analytics import rollups
from ecomops.audit import service as audit
from ecomops.kernel.errors import Conflict, NotFound, ValidationFailed
from ecomops.kernel.jsonutil import json_form
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse
from tests.alerts.conftest import NOW


def make(engine: Engine, settings: Settings, tenant: TenantInfo, **fields: Any) -> Rule:
    return service.create_rule(engine, settings, tenant.id, RuleSpec(**fields))


def run(
    engine: Engine, settings: Settings, shop: Warehouse, tenant: TenantInfo, now: Any = NOW
) -> dict[str, Any]:
    cur = shop.cursor()
    try:
        results = service.run_tenant(engine, settings, cur, tenant, now)
    finally:
        cur.close()
    names = {r.id: r.name for r in service.list_rules(engine, tenant.id)}
    return {names[r.rule_id]: r for r in results}


@pytest.mark.parametrize("rolled", [False, True], ids=["facts", "rollups"])
def test_a_drop_fires_a_steady_metric_does_not(
    engine: Engine,
    shop_settings: Settings,
    shop: Warehouse,
    tenant: TenantInfo,
    rolled: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seed writes facts behind the rollups' back (raw path); rebuilt, with the day rollups in
    the tenant's zone, the rules read the rollups and must reach the same numbers."""
    read: list[str] = []
    original = rollups.RollupSource.compute

    def spy(self: rollups.RollupSource, family: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(family.value)
        return original(self, family, *args, **kwargs)

    monkeypatch.setattr(rollups.RollupSource, "compute", spy)
    if rolled:
        with shop.write() as cur:
            rollups.rebuild(cur)
            assert rollups.keep_days_in(cur, tenant.timezone)
    make(
        engine,
        shop_settings,
        tenant,
        name="conversion drop",
        metric="conversion_rate",
        window="hour",
        condition="drop",
        compare_to="last_week",
        threshold=Decimal(30),
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="gmv steady",
        metric="gmv",
        window="day",
        condition="drop",
        compare_to="previous",
        threshold=Decimal(30),
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="tmall gmv low",
        metric="gmv",
        breakdown="channel",
        breakdown_value="tmall",
        condition="below",
        threshold=Decimal(5000),
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="tmall gmv high",
        metric="gmv",
        breakdown="channel",
        breakdown_value="tmall",
        condition="above",
        threshold=Decimal(5000),
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="off",
        metric="gmv",
        condition="below",
        threshold=Decimal(10**9),
        enabled=False,
    )
    got = run(engine, shop_settings, shop, tenant)

    assert "off" not in got  # disabled rules are not evaluated
    assert bool(read) is rolled, read
    drop = got["conversion drop"]
    assert drop.status == "fired", drop.message
    assert (drop.period, drop.value, drop.baseline, drop.change_pct) == (
        "2026-11-20T09:00+08:00",
        Decimal("0.05"),
        Decimal("0.1"),
        Decimal("-50.00"),
    )
    assert "-50.00% vs the same period last week" in drop.message
    steady = got["gmv steady"]
    assert (steady.status, steady.period, steady.value, steady.change_pct) == (
        "ok",
        "2026-11-19",
        Decimal("2000.0000"),
        Decimal("0.00"),
    )
    low = got["tmall gmv low"]
    assert (low.status, low.value) == ("fired", Decimal("1000.0000"))
    assert "(channel=tmall)" in low.message and "below the threshold 5000.00" in low.message
    assert got["tmall gmv high"].status == "ok"

    events = service.list_events(engine, tenant.id)
    assert sorted(e.period for e in events) == ["2026-11-19", "2026-11-20T09:00+08:00"]
    assert {e.status for e in events} == {"no_webhook"}  # recorded even without a webhook
    fired = {r.name: r for r in service.list_rules(engine, tenant.id)}
    assert fired["conversion drop"].last_fired_at == NOW and fired["gmv steady"].last_fired_at is None
    assert fired["gmv steady"].last_status == "ok" and fired["off"].last_evaluated_at is None


def test_min_volume_guard_skips_thin_periods(
    engine: Engine, shop_settings: Settings, shop: Warehouse, tenant: TenantInfo
) -> None:
    # 5 orders in the evaluated hour: a guard of 6 orders skips it, a guard of 5 lets it fire.
    make(
        engine,
        shop_settings,
        tenant,
        name="guarded",
        metric="conversion_rate",
        window="hour",
        condition="drop",
        compare_to="last_week",
        threshold=Decimal(30),
        min_volume=6,
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="just enough",
        metric="conversion_rate",
        window="hour",
        condition="drop",
        compare_to="last_week",
        threshold=Decimal(30),
        min_volume=5,
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="by visitors",
        metric="conversion_rate",
        window="hour",
        condition="drop",
        compare_to="last_week",
        threshold=Decimal(30),
        volume_metric="visitors",
        min_volume=101,
    )
    got = run(engine, shop_settings, shop, tenant)
    assert got["guarded"].status == "low_volume"
    assert "orders 5 is below the minimum volume 6" in got["guarded"].message
    assert got["just enough"].status == "fired"
    assert got["by visitors"].status == "low_volume"


def test_cooldown_holds_and_a_period_fires_once(
    engine: Engine, shop_settings: Settings, shop: Warehouse, tenant: TenantInfo
) -> None:
    make(
        engine,
        shop_settings,
        tenant,
        name="daily",
        metric="gmv",
        breakdown="channel",
        breakdown_value="tmall",
        condition="below",
        threshold=Decimal(5000),
        cooldown_minutes=24 * 60,
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="no cooldown",
        metric="gmv",
        breakdown="channel",
        breakdown_value="tmall",
        condition="below",
        threshold=Decimal(5000),
        cooldown_minutes=0,
    )
    assert {k: v.status for k, v in run(engine, shop_settings, shop, tenant).items()} == {
        "daily": "fired",
        "no cooldown": "fired",
    }
    later = run(engine, shop_settings, shop, tenant, NOW + timedelta(minutes=5))
    assert later["daily"].status == "cooldown"
    assert later["no cooldown"].status == "already_fired"  # same day: never twice
    # Next day (evaluates 2026-11-20, tmall sold nothing): still inside the 24 h cool-down at 09:05.
    next_day = run(engine, shop_settings, shop, tenant, NOW + timedelta(hours=23))
    assert (next_day["daily"].status, next_day["daily"].period) == ("cooldown", "2026-11-20")
    assert next_day["no cooldown"].status == "fired"
    after = run(engine, shop_settings, shop, tenant, NOW + timedelta(hours=24, minutes=30))
    assert (after["daily"].status, after["daily"].value) == ("fired", Decimal(0))
    assert len(service.list_events(engine, tenant.id)) == 4


def test_stock_cover_rule(
    engine: Engine, shop_settings: Settings, shop: Warehouse, tenant: TenantInfo
) -> None:
    make(engine, shop_settings, tenant, name="stock", kind="stock", threshold=Decimal(3))
    make(
        engine,
        shop_settings,
        tenant,
        name="stock busy only",
        kind="stock",
        threshold=Decimal(3),
        min_volume=30,
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="stock ware",
        kind="stock",
        threshold=Decimal(3),
        breakdown="category",
        breakdown_value="ware",
    )
    make(
        engine,
        shop_settings,
        tenant,
        name="stock P1",
        kind="stock",
        threshold=Decimal(3),
        breakdown="product",
        breakdown_value="P1",
    )
    make(engine, shop_settings, tenant, name="stock generous", kind="stock", threshold=Decimal(101))
    got = run(engine, shop_settings, shop, tenant)
    stock = got["stock"]
    assert (stock.status, stock.period, stock.value) == ("fired", "2026-11-20", Decimal(1))
    [low] = stock.details["products"]
    # Latest snapshot at or before the clock (4, not the older 500 or the later 1000); 28 units / 14 days.
    assert (
        low["product_id"],
        low["on_hand"],
        low["units_14d"],
        low["daily_units"],
        low["days_of_cover"],
    ) == ("P1", 4, 28, "2.00", "2.00")
    assert stock.details["products_checked"] == 2  # P3 sells nothing
    assert "SKU-P1 (2.00 days: 4 on hand, 2.00/day)" in stock.message
    assert got["stock busy only"].status == "ok"  # P1 sold 28 < 30 units
    assert got["stock ware"].status == "ok"
    assert got["stock P1"].status == "fired"
    generous = got["stock generous"]  # P2: 50 + 50 on hand in two warehouses / 1 a day = 100 days
    assert generous.value == 2 and [p["days_of_cover"] for p in generous.details["products"]] == [
        "2.00",
        "100.00",
    ]


def test_unavailable_metric_is_reported_not_fired(
    engine: Engine, shop_settings: Settings, shop: Warehouse, tenant: TenantInfo
) -> None:
    make(
        engine,
        shop_settings,
        tenant,
        name="spend",
        metric="ad_spend",
        condition="above",
        threshold=Decimal(1),
    )
    result = run(engine, shop_settings, shop, tenant)["spend"]
    assert result.status == "unavailable" and "ad_spend cannot be computed" in result.message
    assert service.list_events(engine, tenant.id) == []


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"metric": "nope"}, "metric", "unknown metric 'nope'"),
        ({"metric": "gmv", "condition": "drop", "threshold": Decimal(30)}, "compare_to", "must be one of"),
        (
            {"metric": "gmv", "condition": "drop", "compare_to": "previous", "threshold": Decimal(130)},
            "threshold",
            "percentage",
        ),
        ({"metric": "gmv", "volume_metric": "aov", "min_volume": 3}, "volume_metric", "count metric"),
        ({"metric": "gmv", "breakdown": "channel"}, "breakdown_value", "both"),
        ({"metric": "gmv", "breakdown": "colour", "breakdown_value": "red"}, "breakdown", "colour"),
        ({"kind": "stock", "condition": "above", "threshold": Decimal(3)}, "condition", "below"),
        (
            {"kind": "stock", "breakdown": "channel", "breakdown_value": "tmall", "threshold": Decimal(3)},
            "breakdown",
            "category, product",
        ),
        ({"metric": "gmv", "window": "week"}, "window", "hour, day"),
        ({"metric": "gmv", "webhook_url": "ftp://example.com/x"}, "webhook_url", "https://"),
    ],
)
def test_invalid_rules_name_the_field(
    engine: Engine, shop_settings: Settings, tenant: TenantInfo, fields: dict[str, Any], field: str, text: str
) -> None:
    spec = {"name": "bad", "threshold": Decimal(1), **fields}
    with pytest.raises(ValidationFailed) as info:
        make(engine, shop_settings, tenant, **spec)
    assert info.value.details == {"field": field} or info.value.details.get("field") == field, (
        info.value.details
    )
    assert text in info.value.message


def test_changes_are_audited(engine: Engine, shop_settings: Settings, tenant: TenantInfo) -> None:
    rule = make(engine, shop_settings, tenant, name="audited", metric="gmv", threshold=Decimal(10))
    with pytest.raises(Conflict):
        make(engine, shop_settings, tenant, name="audited", metric="aov", threshold=Decimal(10))
    updated = service.update_rule(engine, shop_settings, tenant.id, rule.id, {"threshold": Decimal(20)})
    assert json_form(updated, RuleWithSecret)["threshold"] == "20" and updated.webhook_secret is None
    service.delete_rule(engine, tenant.id, rule.id)
    with pytest.raises(NotFound):
        service.get_rule(engine, tenant.id, rule.id)
    records = audit.export(engine, tenant.id, action="alert.*")
    assert [r["action"] for r in records] == ["alert.create", "alert.update", "alert.delete"]
    assert records[1]["details"]["changed"] == ["threshold"]
    assert records[1]["details"]["rule"] == "gmv per day below 20"


def test_control_characters_and_oversized_volumes_are_refused(
    engine: Engine, shop_settings: Settings, tenant: TenantInfo
) -> None:
    with pytest.raises(ValidationFailed, match="name: must not contain control characters"):
        make(engine, shop_settings, tenant, name="a\x00b", metric="gmv", threshold=Decimal(1))
    with pytest.raises(ValidationFailed, match="min_volume"):
        make(engine, shop_settings, tenant, name="big", metric="gmv", threshold=Decimal(1), min_volume=10**10)
    with pytest.raises(ValidationFailed, match="finite"):
        make(engine, shop_settings, tenant, name="nan", metric="gmv", threshold=Decimal("NaN"))
