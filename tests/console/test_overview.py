"""The overview dashboard: range presets, the funnel against pandas, and the page's numbers against
the metrics API for every role that may read orders (the HTML is parsed, not trusted)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.analytics import funnel, rollups
from ecomops.analytics.catalogue import EXCLUDED_ORDER_STATUSES
from ecomops.analytics.comparability import relative_change
from ecomops.analytics.overview import CARDS, DateRange, resolve_range
from ecomops.cli import app as cli_app
from ecomops.kernel.errors import ValidationFailed
from ecomops.platform.console import i18n
from ecomops.platform.context import TenantInfo
from ecomops.platform.permissions import roles_with
from ecomops.platform.roles import ROLES
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in

SEED = SeedParams(days=21, customers=500, seed=7, end_date=date(2026, 11, 20))
FROM, TO = "2026-11-05", "2026-11-18"
KPI = re.compile(
    r'<a class="ov-kpi" href="([^"]*)" data-metric="([a-z_]+)" data-value="([^"]*)"[^>]*>\s*'
    r'<span class="ov-kpi-label">[^<]*</span>\s*<span class="ov-kpi-value">([^<]*)</span>'
)


# --- ranges -----------------------------------------------------------------------------------------


def test_presets_resolve_in_local_days() -> None:
    today = date(2026, 11, 25)
    latest = date(2026, 11, 20)
    expect = {
        "today": (today, today),
        "yesterday": (date(2026, 11, 24), date(2026, 11, 24)),
        "7d": (date(2026, 11, 19), today),
        "30d": (date(2026, 10, 27), today),
        "month": (date(2026, 11, 1), today),
        "618": (date(2026, 6, 1), date(2026, 6, 18)),
        "d11": (date(2026, 11, 1), date(2026, 11, 11)),
    }
    for key, (first, last) in expect.items():
        assert resolve_range(key, None, None, today, latest) == DateRange(key, first, last), key
    # Data ending in March: 618 and Double 11 are last year's, the latest with data.
    assert resolve_range("618", None, None, today, date(2026, 3, 31)).first == date(2025, 6, 1)
    assert resolve_range("d11", None, None, today, date(2026, 3, 31)).last == date(2025, 11, 11)
    # No data at all: this year's once the festival has begun.
    assert resolve_range("d11", None, None, today, None).first == date(2026, 11, 1)
    assert resolve_range(None, None, None, today, latest).key == "30d"
    custom = resolve_range(None, "2026-11-11", None, today, latest)
    assert (custom.key, custom.first, custom.last, custom.granularity) == (
        "custom",
        date(2026, 11, 11),
        date(2026, 11, 11),
        "hour",
    )


@pytest.mark.parametrize(
    ("key", "first", "last", "fragment"),
    [
        ("weekly", None, None, "unknown preset 'weekly'"),
        ("custom", None, None, "needs from"),
        ("custom", "2026-11-12", "2026-11-11", "from (2026-11-12) is after to (2026-11-11)"),
        ("custom", "2026-13-01", None, "from: '2026-13-01' is not a date"),
        ("custom", "2024-01-01", "2026-01-01", "longer than 366 days"),
    ],
)
def test_bad_ranges_are_named(key: str, first: str | None, last: str | None, fragment: str) -> None:
    with pytest.raises(ValidationFailed, match=re.escape(fragment)):
        resolve_range(key, first, last, date(2026, 11, 25), None)


def test_change_is_relative_and_needs_a_base() -> None:
    assert relative_change(Decimal("110.0000"), Decimal("100.0000")) == pytest.approx(0.1)
    assert relative_change(5, 10) == pytest.approx(-0.5)
    assert relative_change(0.25, 0.2) == pytest.approx(0.25)
    assert relative_change(3, 0) is None and relative_change(None, 4) is None
    assert relative_change(4, None) is None


# --- funnel against pandas ----------------------------------------------------------------------------


@pytest.fixture
def shop(settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path) -> Iterator[Warehouse]:
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_demo(engine, warehouse, tenant, SEED, data_dir / "manifest.json")
    yield warehouse
    warehouse.close()


def pandas_funnel(events: pd.DataFrame, first: date, last: date, timezone: str) -> dict[str, int]:
    """Independent reference: local-day window, visitor = anonymous_id else user_id, nested steps."""
    zone = ZoneInfo(timezone)
    local_day = events["ts"].dt.tz_convert(zone).dt.date
    e = events[(local_day >= first) & (local_day <= last)].copy()
    e["visitor"] = e["anonymous_id"].where(e["anonymous_id"].notna(), e["user_id"])
    e = e[e["visitor"].notna()]
    did = {
        "visitors": set(e.loc[e["type"].isin(["page", "screen"]), "visitor"]),
        "product_views": set(e.loc[(e["type"] == "track") & (e["event"] == "Product Viewed"), "visitor"]),
        "add_to_cart": set(e.loc[(e["type"] == "track") & (e["event"] == "Product Added"), "visitor"]),
        "checkout": set(e.loc[(e["type"] == "track") & (e["event"] == "Checkout Started"), "visitor"]),
        "orders": set(e.loc[(e["type"] == "track") & (e["event"] == "Order Completed"), "visitor"]),
    }
    out, reached = {}, None
    for step in ("visitors", "product_views", "add_to_cart", "checkout", "orders"):
        reached = did[step] if reached is None else reached & did[step]
        out[step] = len(reached)
    return out


@pytest.mark.parametrize("source", ["auto", "facts"])
@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "UTC"])
def test_funnel_equals_pandas_on_the_simulator(shop: Warehouse, timezone: str, source: str) -> None:
    """From the funnel rollup ("auto": the seeded shop's rollups are current) and from the raw events."""
    cur = shop.cursor()
    try:
        assert rollups.is_current(cur)
        events = cur.execute("SELECT ts, type, event, anonymous_id, user_id FROM events").df()
        events["ts"] = pd.to_datetime(events["ts"], utc=True)
        for first, last in [
            (date(2026, 11, 5), date(2026, 11, 18)),
            (date(2026, 11, 11), date(2026, 11, 11)),
        ]:
            got = funnel.counts(cur, first, last, timezone, source=source)
            want = pandas_funnel(events, first, last, timezone)
            assert got == want, (first, last)
            assert want["visitors"] > want["product_views"] > want["add_to_cart"] > want["orders"] > 0
            result = funnel.compute(cur, first, last, timezone)
            assert result.available and result.steps[1].step_rate == pytest.approx(
                want["product_views"] / want["visitors"]
            )
        empty = funnel.compute(cur, date(2020, 1, 1), date(2020, 1, 2), timezone)
        assert not empty.available and all(s.visitors == 0 and s.overall_rate is None for s in empty.steps)
    finally:
        cur.close()


def test_cli_reads_the_funnel_from_the_file(
    settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path
) -> None:
    """Without a server the CLI opens the warehouse read-only and prints the same funnel."""
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_demo(engine, warehouse, tenant, SEED, data_dir / "manifest.json")
    cur = warehouse.cursor()
    try:
        want = funnel.counts(cur, date(2026, 11, 5), date(2026, 11, 18), tenant.timezone)
    finally:
        cur.close()
    warehouse.close()
    result = CliRunner().invoke(
        cli_app, ["funnel", "--tenant", "acme", "--from", "2026-11-05", "--to", "2026-11-18", "-f", "json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert {st["id"]: st["visitors"] for st in body["steps"]} == want and body["available"]
    table = CliRunner().invoke(
        cli_app, ["funnel", "--tenant", "acme", "--from", "2026-11-05", "--to", "2026-11-18"]
    )
    assert table.exit_code == 0 and "add_to_cart" in table.output
    bad = CliRunner().invoke(cli_app, ["funnel", "--tenant", "acme", "--from", "2026-11-31"])
    assert bad.exit_code != 0 and "--from must be a date" in bad.output


# --- the page against the API -------------------------------------------------------------------------


def _api(client: Any, slug: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/t/{slug}/metrics", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _display(value: Any, unit: str, metric: str) -> str:
    if value is None:
        return "–"
    if unit == "money":
        return i18n.money(Decimal(value), "CNY", "en")
    if unit == "count":
        return i18n.number(int(value), "en")
    if metric == "roas":
        return i18n.number(Decimal(str(value)), "en", 2)
    return i18n.percent(value, "en")


def test_numbers_equal_the_api_for_every_role(server: InProcServer, engine: Engine, data_dir: Path) -> None:
    tenant = server.tenant
    seed_demo(engine, server.state.warehouses.get(tenant.id), tenant, SEED, data_dir / "manifest.json")
    readers = [r for r in ROLES if r in roles_with("orders:read")]
    assert readers
    for role in readers:
        add_member(engine, f"{role}@acme.test", role)
    ids = ",".join(c.metric for c in CARDS)
    for role in readers:
        with signed_in(server, f"{role}@acme.test", **{"accept-language": "en"}) as (client, _):
            page = client.get("/t/acme/", params={"range": "custom", "from": FROM, "to": TO})
            assert page.status_code == 200, (role, page.text[:500])
            assert "<h1>Overview</h1>" in page.text
            if role != readers[0]:
                continue  # the figures do not depend on the role: compared once
            api = _api(client, "acme", ids=ids, **{"from": FROM, "to": TO})
            units = {m["id"]: m["unit"] for m in api["metrics"]}
            total = api["totals"][0]
            cards = {m: (href, value, html.unescape(text)) for href, m, value, text in KPI.findall(page.text)}
            assert set(cards) == {c.metric for c in CARDS}
            for metric, (_href, value, text) in cards.items():
                want = total["values"][metric]
                assert value == ("" if want is None else str(want)), metric
                assert text == _display(want, units[metric], metric), metric
            assert total["values"]["gmv"] and Decimal(total["values"]["gmv"]) > 0
            assert cards["gmv"][0] == f"/t/acme/orders?date_from={FROM}&amp;date_to={TO}"
            assert cards["visitors"][0] == "#funnel" and cards["roas"][0] == "#campaigns"
            # Period-over-period change of GMV: the seeded shop starts on Oct 31, so the 14 days before
            # the range hold orders on a few days only. The API keeps the arithmetic and says why it is not
            # comparable; the page prints "not comparable" and the reason instead of a percentage.
            prev = total["previous_period"]["gmv"]
            gmv_change = total["previous_period_change"]["gmv"]
            assert gmv_change["change"] == pytest.approx(
                relative_change(Decimal(total["values"]["gmv"]), Decimal(prev))
            )
            assert not gmv_change["comparable"] and gmv_change["reason_code"] == "sparse_period"
            sparse = gmv_change["details"]
            assert sparse["days"] == 14 and 0 < sparse["days_with_data"] <= 5
            assert sparse["current_days_with_data"] > 2 * sparse["days_with_data"]
            text = html.unescape(page.text)
            assert f"The previous period has orders on only {sparse['days_with_data']} of 14 days." in text
            assert i18n.percent(abs(gmv_change["change"]), "en") not in text
            assert re.search(
                r'data-metric="gmv".*?data-compare="previous_period">vs previous\s*'
                r'<span class="ov-delta na"[^>]*>not comparable</span>',
                page.text,
                re.S,
            )

            channels = _api(
                client,
                "acme",
                ids="gmv,orders,buyers",
                breakdown="channel",
                limit=12,
                **{"from": FROM, "to": TO},
            )
            shown = dict(
                re.findall(r'<tr data-channel="([^"]+)">\s*<td>.*?data-value="([^"]+)"', page.text, re.S)
            )
            assert shown == {t["breakdown_value"]: t["values"]["gmv"] for t in channels["totals"]}
            assert f"/t/acme/orders?date_from={FROM}&amp;date_to={TO}&amp;channel=" in page.text

            products = _api(
                client,
                "acme",
                ids="gmv,orders",
                breakdown="product",
                limit=10,
                compare="false",
                **{"from": FROM, "to": TO},
            )
            rows = re.findall(r'<tr data-product="([^"]+)">.*?data-value="([^"]+)"', page.text, re.S)
            assert rows == [(t["breakdown_value"], t["values"]["gmv"]) for t in products["totals"]]
            assert f'href="/t/acme/products/{rows[0][0]}"' in page.text

            campaigns = _api(
                client,
                "acme",
                ids="ad_spend,attributed_revenue,roas",
                breakdown="campaign",
                limit=10,
                compare="false",
                **{"from": FROM, "to": TO},
            )
            shown_c = re.findall(
                r'<tr data-campaign="([^"]+)">.*?<td class="num" data-value="([^"]+)"', page.text, re.S
            )
            assert shown_c == [
                (html.escape(t["breakdown_value"]), t["values"]["ad_spend"]) for t in campaigns["totals"]
            ]

            cur = server.state.warehouses.get(tenant.id).cursor()
            try:
                steps = funnel.counts(cur, date.fromisoformat(FROM), date.fromisoformat(TO), tenant.timezone)
            finally:
                cur.close()
            shown_f = dict(re.findall(r'<li data-step="([a-z_]+)" data-value="(\d+)">', page.text))
            assert shown_f == {k: str(v) for k, v in steps.items()}
            # The same funnel from its API.
            api_funnel = client.get("/api/v1/t/acme/funnel", params={"from": FROM, "to": TO})
            assert api_funnel.status_code == 200, api_funnel.text
            assert {st["id"]: st["visitors"] for st in api_funnel.json()["steps"]} == steps
            backwards = client.get("/api/v1/t/acme/funnel", params={"from": TO, "to": FROM})
            assert backwards.status_code == 422 and f"from ({TO}) is after to ({FROM})" in backwards.text


CAMPAIGN_ROW = re.compile(
    r'<tr data-campaign="([^"]+)">\s*<td class="wrap"><a href="([^"]+)">.*?'
    r'<td class="num"><a href="([^"]+)" data-value="([^"]+)">',
    re.S,
)


def _all_orders(client: Any, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every order the orders API lists for ``params``, through its keyset pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            "/api/v1/t/acme/orders", params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_campaign_rows_drill_down_to_their_orders(
    server: InProcServer, engine: Engine, data_dir: Path
) -> None:
    """Each campaign row links to the orders list filtered to its utm_campaign and the page's range: the
    list holds exactly the range's orders of that campaign (an independent SQL count), of every status;
    those the engine counts are the campaign's `orders` and sum to the row's attributed revenue."""
    tenant = server.tenant
    seed_demo(engine, server.state.warehouses.get(tenant.id), tenant, SEED, data_dir / "manifest.json")
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/", params={"range": "custom", "from": FROM, "to": TO})
        assert page.status_code == 200
        rows = CAMPAIGN_ROW.findall(page.text)
        assert len(rows) >= 3, page.text[page.text.find('id="campaigns"') :][:2000]
        assert "of every status" in page.text
        per_campaign = _api(
            client,
            "acme",
            ids="orders",
            breakdown="campaign",
            limit=100,
            compare="false",
            **{"from": FROM, "to": TO},
        )
        engine_orders = {t["breakdown_value"]: t["values"]["orders"] for t in per_campaign["totals"]}
        cur = server.state.warehouses.get(tenant.id).cursor()
        try:
            keys = set(
                cur.execute("SELECT DISTINCT utm_source, utm_medium, utm_campaign FROM ad_spend").fetchall()
            )
        finally:
            cur.close()
        seen: set[str] = set()
        for name, href, revenue_href, revenue in rows:
            name = html.unescape(name)
            assert href == revenue_href
            url = html.unescape(href)
            parts = urlsplit(url)
            assert parts.path == "/t/acme/orders"
            assert parse_qs(parts.query) == {"date_from": [FROM], "date_to": [TO], "utm_campaign": [name]}
            listed = client.get(url)
            assert listed.status_code == 200
            assert 'id="orders-utm-note"' in listed.text and f'value="{html.escape(name)}"' in listed.text
            shown = re.search(r'<h2 id="orders-heading">([\d,]+) orders</h2>', listed.text)
            cur = server.state.warehouses.get(tenant.id).cursor()
            try:
                # Independent count: local calendar days in the shop's zone, the engine's "(none)" rule.
                (want,) = cur.execute(
                    "SELECT count(*) FROM orders WHERE (timezone(?, ordered_at))::DATE BETWEEN ? AND ? "
                    "AND coalesce(nullif(trim(utm_campaign), ''), '(none)') = ?",
                    [tenant.timezone, date.fromisoformat(FROM), date.fromisoformat(TO), name],
                ).fetchone()
            finally:
                cur.close()
            assert shown is not None and int(shown.group(1).replace(",", "")) == want, name
            items = _all_orders(client, {"date_from": FROM, "date_to": TO, "utm_campaign": name})
            assert len(items) == want and all((o["utm_campaign"] or "(none)") == name for o in items)
            counted = [
                o
                for o in items
                if o["status"].lower() not in EXCLUDED_ORDER_STATUSES and o["currency"] == "CNY"
            ]
            assert len(counted) == engine_orders.get(name, 0), name
            attributed = sum(
                (
                    Decimal(o["total"])
                    for o in counted
                    if (o["utm_source"], o["utm_medium"], o["utm_campaign"]) in keys
                ),
                Decimal(0),
            )
            assert attributed == Decimal(revenue), name
            if attributed > 0:
                seen.add(name)
        assert len(seen) >= 2  # not only empty campaigns: real orders were followed and summed


def test_presets_single_day_and_chinese(server: InProcServer, engine: Engine, data_dir: Path) -> None:
    tenant = server.tenant
    seed_demo(engine, server.state.warehouses.get(tenant.id), tenant, SEED, data_dir / "manifest.json")
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"accept-language": "zh-CN"}) as (client, _):
        d11 = client.get("/t/acme/", params={"range": "d11"})
        assert d11.status_code == 200
        assert 'data-range="d11" aria-current="true"' in d11.text
        assert "双十一" in d11.text and "成交总额" in d11.text and "¥" in d11.text
        # One day: the trend is by hour, 24 buckets.
        day = client.get("/t/acme/", params={"from": "2026-11-11"})
        assert day.status_code == 200
        chart = re.search(r'id="ov-trend" data-chart="([^"]+)"', day.text)
        assert chart is not None and html.unescape(chart.group(1)).count(":00") >= 24
        bad = client.get("/t/acme/", params={"range": "custom", "from": "2026-11-12", "to": "2026-11-11"})
        assert bad.status_code == 422 and "from (2026-11-12) is after to (2026-11-11)" in bad.text


def test_empty_shop_renders(server: InProcServer, engine: Engine) -> None:
    add_member(engine, "vic@acme.test", "viewer")
    with signed_in(server, "vic@acme.test") as (client, _):
        page = client.get("/t/acme/")
        assert page.status_code == 200
        assert "No orders in this range." in page.text and "the funnel needs events" in page.text
        assert re.search(r'data-metric="gmv" data-value="0.0000"', page.text)


def test_timezone_edge_for_today(server: InProcServer, engine: Engine) -> None:
    """ "Today" is the shop's local day (Asia/Shanghai), whatever the server's clock zone."""
    add_member(engine, "ana@acme.test", "analyst")
    today = (pd.Timestamp.now(tz="Asia/Shanghai")).date()
    with signed_in(server, "ana@acme.test") as (client, _):
        page = client.get("/t/acme/", params={"range": "today"})
        assert page.status_code == 200
        assert f'value="{today.isoformat()}"' in page.text


def test_an_engine_error_is_a_page_not_a_500(
    server: InProcServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A metrics timeout (a huge shop) shows the engine's message with its status."""
    from ecomops.analytics import engine as metrics_engine

    def too_slow(*_: Any) -> Any:
        raise metrics_engine.MetricsTimeout("metrics cancelled after 120 s; ask for a shorter window")

    monkeypatch.setattr(metrics_engine, "compute_for_warehouse", too_slow)
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        page = client.get("/t/acme/", params={"range": "7d"})
        assert page.status_code == 400 and "metrics cancelled after 120 s" in page.text
