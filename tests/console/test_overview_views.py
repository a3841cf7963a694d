"""The overview's breakdown views (region, device, traffic source…) and the product page's daily trend,
each checked against hand-written SQL over the seeded shop (local days mapped with zoneinfo)."""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from ecomops.simulate.params import SeedParams
from ecomops.simulate.service import seed_demo
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in

SEED = SeedParams(days=21, customers=500, seed=7, end_date=date(2026, 11, 20))
FROM, TO = date(2026, 11, 5), date(2026, 11, 18)
ROW = re.compile(r'<tr data-value="([^"]*)">(.*?)</tr>', re.S)
CELL = re.compile(r'data-metric="([a-z_]+)" data-value="([^"]*)"')


def _bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    return datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz)


def _reference(cur: Any, column: str, zone: str) -> dict[str, dict[str, Any]]:
    """Visitors, orders, GMV and conversion per value of ``column`` from the raw tables, by hand."""
    lo, hi = _bounds(FROM, TO, zone)
    sales = cur.execute(
        f"SELECT coalesce(nullif(trim(CAST({column} AS VARCHAR)), ''), '(none)') AS v, count(*), sum(total), "
        "count(DISTINCT coalesce(customer_id, 'anon:' || anonymous_id)) FROM orders "
        "WHERE lower(status) NOT IN ('cancelled', 'canceled', 'voided') AND currency = 'CNY' "
        "AND ordered_at >= ? AND ordered_at < ? GROUP BY 1",
        [lo, hi],
    ).fetchall()
    visits = cur.execute(
        f"SELECT coalesce(nullif(trim(CAST({column} AS VARCHAR)), ''), '(none)') AS v, "
        "count(DISTINCT coalesce(anonymous_id, user_id)) FROM events "
        "WHERE type IN ('page', 'screen') AND ts >= ? AND ts < ? GROUP BY 1",
        [lo, hi],
    ).fetchall()
    visitors = dict(visits)
    sold = {value: (orders, Decimal(gmv), buyers) for value, orders, gmv, buyers in sales}
    out = {}
    for value in set(sold) | set(visitors):
        orders, gmv, buyers = sold.get(value, (0, Decimal(0), 0))
        v = visitors.get(value)
        out[value] = {
            "orders": orders,
            "gmv": gmv,
            "visitors": v,
            "conversion_rate": buyers / v if v else None,
        }
    return out


def test_views_equal_hand_written_sql(server: InProcServer, engine: Engine, data_dir: Path) -> None:
    tenant = server.tenant
    warehouse = server.state.warehouses.get(tenant.id)
    seed_demo(engine, warehouse, tenant, SEED, data_dir / "manifest.json")
    add_member(engine, "analyst@acme.test", "analyst")
    with signed_in(server, "analyst@acme.test", **{"accept-language": "en"}) as (client, _):
        for view, column in (("region", "region"), ("device", "device"), ("source", "utm_source")):
            page = client.get(
                "/t/acme/", params={"range": "custom", "from": str(FROM), "to": str(TO), "view": view}
            )
            assert page.status_code == 200, page.text[:300]
            assert f'id="ov-view-table" data-view="{view}"' in page.text
            assert 'id="ov-view-chart"' in page.text
            shown = {
                html.unescape(name): dict(CELL.findall(cells))
                for name, cells in ROW.findall(page.text.split('id="ov-view-table"')[1].split("</table>")[0])
            }
            cur = warehouse.cursor()
            try:
                want = _reference(cur, column, tenant.timezone)
            finally:
                cur.close()
            top = sorted(want, key=lambda k: (-want[k]["gmv"], k))[:15]
            assert list(shown) == top, view
            for value in top:
                got, ref = shown[value], want[value]
                assert int(got["orders"]) == ref["orders"], (view, value)
                assert Decimal(got["gmv"]) == ref["gmv"], (view, value)
                if ref["visitors"] is None:
                    assert got["visitors"] in ("", "0"), (view, value)
                else:
                    assert int(got["visitors"]) == ref["visitors"], (view, value)
                    assert float(got["conversion_rate"]) == ref["conversion_rate"], (view, value)
            # The API the view reads: the metrics endpoint with its breakdown parameter.
            api = client.get(
                "/api/v1/t/acme/metrics",
                params={
                    "ids": "gmv,orders,visitors,conversion_rate",
                    "breakdown": view,
                    "from": str(FROM),
                    "to": str(TO),
                    "limit": 15,
                },
            ).json()
            assert [t["breakdown_value"] for t in api["totals"]] == top
        bad = client.get("/t/acme/", params={"view": "planet"})
        assert bad.status_code == 422 and "unknown view" in bad.text


def test_product_trend_equals_sql_by_local_day(server: InProcServer, engine: Engine, data_dir: Path) -> None:
    tenant = server.tenant
    warehouse = server.state.warehouses.get(tenant.id)
    seed_demo(engine, warehouse, tenant, SEED, data_dir / "manifest.json")
    zone = ZoneInfo(tenant.timezone)
    cur = warehouse.cursor()
    try:
        product = cur.execute(
            "SELECT i.product_id FROM order_items i GROUP BY 1 ORDER BY sum(i.quantity) DESC LIMIT 1"
        ).fetchone()[0]
        lines = cur.execute(
            "SELECT i.ordered_at, i.quantity, i.line_total, i.order_id FROM order_items i "
            "JOIN orders o ON o.order_id = i.order_id WHERE i.product_id = ? AND o.status <> 'cancelled'",
            [product],
        ).fetchall()
        events = cur.execute(
            "SELECT ts, event FROM events WHERE product_id = ? AND type = 'track' "
            "AND event IN ('Product Viewed', 'Product Added')",
            [product],
        ).fetchall()
    finally:
        cur.close()
    units: dict[date, int] = defaultdict(int)
    revenue: dict[date, Decimal] = defaultdict(Decimal)
    orders: dict[date, set[str]] = defaultdict(set)
    views: dict[date, int] = defaultdict(int)
    for at, qty, total, order_id in lines:
        day = at.astimezone(zone).date()
        units[day] += qty
        revenue[day] += total
        orders[day].add(order_id)
    for at, event in events:
        if event == "Product Viewed":
            views[at.astimezone(zone).date()] += 1
    add_member(engine, "analyst@acme.test", "analyst")
    with signed_in(server, "analyst@acme.test", **{"accept-language": "en"}) as (client, _):
        answer = client.get(
            f"/api/v1/t/acme/products/{product}/trend", params={"date_from": str(FROM), "date_to": str(TO)}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["days"]) == 14 and body["previous_from"] == "2026-10-22"
        for d in body["days"]:
            day, prev = date.fromisoformat(d["day"]), date.fromisoformat(d["previous_day"])
            assert d["units_sold"] == units[day] and Decimal(d["revenue"]) == revenue[day], day
            assert d["orders"] == len(orders[day]) and d["views"] == views[day], day
            assert d["previous_units_sold"] == units[prev] and Decimal(d["previous_revenue"]) == revenue[prev]
        assert body["has_events"] and sum(d["views"] for d in body["days"]) > 0
        assert Decimal(body["total_revenue"]) == sum(revenue[FROM + timedelta(days=k)] for k in range(14))
        page = client.get(f"/t/acme/products/{product}", params={"date_from": str(FROM), "date_to": str(TO)})
        assert page.status_code == 200
        chart = json.loads(html.unescape(re.search(r'id="product-trend" data-chart="([^"]+)"', page.text)[1]))
        assert chart["units"] == [d["units_sold"] for d in body["days"]]
        assert re.search(rf'data-total="units" data-value="{body["total_units_sold"]}"', page.text)
        bad = client.get(
            f"/api/v1/t/acme/products/{product}/trend", params={"date_from": str(TO), "date_to": str(FROM)}
        )
        assert bad.status_code == 422
        assert client.get("/api/v1/t/acme/products/nope/trend").status_code == 404


def test_currency_notice_links_to_the_fx_page_and_conversion_shows(
    server: InProcServer, engine: Engine, data_dir: Path
) -> None:
    tenant = server.tenant
    warehouse = server.state.warehouses.get(tenant.id)
    seed_demo(engine, warehouse, tenant, SEED, data_dir / "manifest.json")
    at = datetime(2026, 11, 10, 12, tzinfo=ZoneInfo(tenant.timezone))
    with warehouse.write() as cur:
        cur.execute(
            "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total) "
            "VALUES ('gbp-1', 'paid', ?, 'GBP', 100, 100)",
            [at],
        )
    add_member(engine, "admin@acme.test", "admin")
    params = {"range": "custom", "from": str(FROM), "to": str(TO)}
    with signed_in(server, "admin@acme.test", **{"accept-language": "en"}) as (client, csrf):
        before = client.get("/t/acme/", params=params).text
        gmv_before = Decimal(re.search(r'data-metric="gmv" data-value="([^"]+)"', before)[1])
        note = before.split('id="ov-currency-note"')[1].split("</div>")[0]
        assert "GBP: 1 orders" in note and 'href="/t/acme/settings/fx"' in note
        rate = client.post(
            "/api/v1/t/acme/fx-rates",
            json={"currency": "GBP", "valid_from": "2026-11-01", "rate": "9.5"},
            headers={"x-csrf-token": csrf},
        )
        assert rate.status_code == 200, rate.text
        after = client.get("/t/acme/", params=params).text
        assert 'id="ov-currency-note"' not in after
        assert "GBP: 1 orders" in after.split('id="ov-converted-note"')[1].split("</div>")[0]
        gmv_after = Decimal(re.search(r'data-metric="gmv" data-value="([^"]+)"', after)[1])
        assert gmv_after - gmv_before == Decimal("950.0000")
