"""Product analytics: units, revenue, refunds, margin, latest stock and reviews per product.

Expected figures are worked out by hand from the rows written here (and re-derived in Python where a
window applies), so the SQL is checked against numbers nobody computed with SQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.cli import app
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.products import service
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer

ROWS = [
    "INSERT INTO products (product_id, sku, name, category, price, cost, currency, status) VALUES "
    "('p1', 'SKU-1', '面霜 50ml', 'skincare', 120, 40, 'CNY', 'active'), "
    "('p2', 'SKU-2', 'Serum 30ml', 'skincare', 80, NULL, 'CNY', 'active'), "
    "('p3', 'SKU-3', 'Lipstick', 'makeup', 60, 20, 'CNY', 'active')",
    # o1 on 2026-11-11 00:30 Shanghai (16:30 UTC on the 10th), o2 on 2026-11-12, o3 cancelled.
    "INSERT INTO orders (order_id, channel, status, ordered_at, currency, subtotal, total) VALUES "
    "('o1', 'douyin', 'paid', '2026-11-10 16:30:00+00', 'CNY', 440, 440), "
    "('o2', 'web', 'paid', '2026-11-12 02:00:00+00', 'CNY', 200, 200), "
    "('o3', 'web', 'cancelled', '2026-11-12 03:00:00+00', 'CNY', 1200, 1200)",
    "INSERT INTO order_items (item_id, order_id, product_id, sku, quantity, unit_price, line_total, "
    "currency, ordered_at) VALUES "
    "('i1', 'o1', 'p1', 'SKU-1', 3, 120, 360, 'CNY', '2026-11-10 16:30:00+00'), "
    "('i2', 'o1', 'p2', 'SKU-2', 1, 80, 80, 'CNY', '2026-11-10 16:30:00+00'), "
    "('i3', 'o2', 'p1', 'SKU-1', 1, 120, 120, 'CNY', '2026-11-12 02:00:00+00'), "
    "('i4', 'o2', 'p2', 'SKU-2', 1, 80, 80, 'CNY', '2026-11-12 02:00:00+00'), "
    "('i5', 'o3', 'p1', 'SKU-1', 10, 120, 1200, 'CNY', '2026-11-12 03:00:00+00')",
    "INSERT INTO refunds (refund_id, order_id, product_id, quantity, amount, currency, refunded_at) VALUES "
    "('r1', 'o1', 'p1', 1, 120, 'CNY', '2026-11-13 00:00:00+00'), "
    "('r2', 'o1', NULL, NULL, 10, 'CNY', '2026-11-13 00:00:00+00')",
    "INSERT INTO inventory_snapshots (snapshot_at, product_id, warehouse_code, on_hand, reserved) VALUES "
    "('2026-11-10 00:00:00+00', 'p1', 'SH', 50, 5), ('2026-11-12 00:00:00+00', 'p1', 'SH', 44, 2), "
    "('2026-11-10 00:00:00+00', 'p1', 'GZ', 10, 0), ('2026-11-12 00:00:00+00', 'p2', 'SH', 7, 1)",
    "INSERT INTO reviews (review_id, product_id, rating, title, body, created_at) VALUES "
    "('v1', 'p1', 5, '很好', '滋润', '2026-11-14 00:00:00+00'), "
    "('v2', 'p1', 4, 'ok', NULL, '2026-11-15 00:00:00+00'), "
    "('v3', 'p2', 2, 'meh', NULL, '2026-11-15 00:00:00+00')",
]


def seed_products(wh: Warehouse) -> None:
    with wh.write() as cur:
        for sql in ROWS:
            cur.execute(sql)


@pytest.fixture
def warehouse(settings: Settings, tenant: TenantInfo) -> Iterator[Warehouse]:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_products(wh)
    yield wh
    wh.close()


def test_figures_per_product(warehouse: Warehouse) -> None:
    page = service.list_products(warehouse.cursor(), "Asia/Shanghai")
    by_id = {p.product_id: p for p in page.items}
    assert [p.product_id for p in page.items] == ["p1", "p2", "p3"]  # by revenue, no sales last
    p1, p2, p3 = by_id["p1"], by_id["p2"], by_id["p3"]
    # p1: 3 + 1 units (the cancelled order's 10 do not count), 360 + 120 revenue, cost 40 each.
    assert (p1.units_sold, p1.revenue, p1.orders) == (4, Decimal("480.0000"), 2)
    assert p1.gross_margin == Decimal("480") - 4 * Decimal("40")
    assert p1.margin_rate == Decimal("0.6667")
    assert (p1.refunded, p1.refunds) == (Decimal("120.0000"), 1)  # the whole-order refund is not p1's
    assert (p1.stock_on_hand, p1.stock_reserved) == (44 + 10, 2 + 0)  # latest per warehouse
    assert (p1.review_count, p1.avg_rating) == (2, 4.5)
    # p2: unknown cost → no margin, not a 100 % one.
    assert p2.gross_margin is None and p2.margin_rate is None and p2.stock_on_hand == 7
    assert (p3.units_sold, p3.revenue, p3.stock_on_hand, p3.review_count) == (
        0,
        Decimal(0),
        None,
        0,
    )


def test_window_is_in_the_tenant_time_zone(warehouse: Warehouse) -> None:
    d11 = service.ProductFilters(date_from=date(2026, 11, 11), date_to=date(2026, 11, 11))
    shanghai = {
        p.product_id: p for p in service.list_products(warehouse.cursor(), "Asia/Shanghai", d11).items
    }
    utc = {p.product_id: p for p in service.list_products(warehouse.cursor(), "UTC", d11).items}
    assert shanghai["p1"].units_sold == 3  # o1 is Double 11 in Shanghai …
    assert utc["p1"].units_sold == 0  # … and the 10th in UTC


def test_search_category_sort_and_paging(warehouse: Warehouse) -> None:
    cur = warehouse.cursor()
    assert [
        p.sku for p in service.list_products(cur, "UTC", service.ProductFilters(search="sku-")).items
    ] == [
        "SKU-1",
        "SKU-2",
        "SKU-3",
    ]
    found = service.list_products(cur, "UTC", service.ProductFilters(search="面霜"))
    assert [p.product_id for p in found.items] == ["p1"] and found.total == 1
    makeup = service.list_products(cur, "UTC", service.ProductFilters(category="makeup"))
    assert [p.product_id for p in makeup.items] == ["p3"]
    assert [p.product_id for p in service.list_products(cur, "UTC", sort="stock").items] == [
        "p2",
        "p1",
        "p3",
    ]
    assert [p.product_id for p in service.list_products(cur, "UTC", sort="rating").items] == [
        "p1",
        "p2",
        "p3",
    ]
    second = service.list_products(cur, "UTC", sort="name", limit=1, offset=1)
    assert [p.name for p in second.items] == ["Serum 30ml"] and second.total == 3
    with pytest.raises(ValidationFailed, match="sort must be one of"):
        service.list_products(cur, "UTC", sort="price; DROP TABLE products")
    with pytest.raises(ValidationFailed, match="offset"):
        service.list_products(cur, "UTC", offset=service.MAX_OFFSET + 1)


def test_detail_by_channel_stock_and_reviews(warehouse: Warehouse) -> None:
    p1 = service.get_product(warehouse.cursor(), "Asia/Shanghai", "p1")
    assert [(c.channel, c.units_sold, c.revenue) for c in p1.by_channel] == [
        ("douyin", 3, Decimal("360.0000")),
        ("web", 1, Decimal("120.0000")),
    ]
    assert [(s.warehouse_code, s.on_hand, s.reserved) for s in p1.stock] == [
        ("GZ", 10, 0),
        ("SH", 44, 2),
    ]
    assert p1.rating_histogram == {4: 1, 5: 1}
    assert [r.review_id for r in p1.recent_reviews] == ["v2", "v1"]
    with pytest.raises(NotFound, match="product 'p9' not found"):
        service.get_product(warehouse.cursor(), "UTC", "p9")


def test_api_and_cli(server: InProcServer, engine: Engine, settings: Settings) -> None:
    seed_products(server.state.warehouses.get(server.tenant.id))
    _, key = tenancy.create_api_key(engine, "acme", "marketer", "catalogue")
    with httpx.Client(
        base_url=server.url + "/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as c:
        page = c.get("/products", params={"sort": "units"}).json()
        assert [(p["product_id"], p["units_sold"], p["revenue"]) for p in page["items"]] == [
            ("p1", 4, "480.0000"),
            ("p2", 2, "160.0000"),
            ("p3", 0, "0.0000"),
        ]
        assert page["items"][0]["margin_rate"] == "0.6667" and page["items"][1]["gross_margin"] is None
        detail = c.get("/products/p1", params={"date_from": "2026-11-12"}).json()
        assert detail["units_sold"] == 1 and detail["window"] == {"date_from": "2026-11-12"}
        assert c.get("/products", params={"sort": "bogus"}).status_code == 422
        assert c.get("/products/p9").status_code == 404
    server.state.warehouses.close_all()  # the CLI below opens the file itself, as without a server
    result = CliRunner().invoke(app, ["products", "list", "--tenant", "acme", "--json", "--search", "serum"])
    assert result.exit_code == 0, result.output
    assert [p["product_id"] for p in json.loads(result.stdout)["items"]] == ["p2"]
    shown = CliRunner().invoke(app, ["products", "show", "p1", "--tenant", "acme"])
    assert shown.exit_code == 0 and "douyin" in shown.stdout and "GZ" in shown.stdout


def test_trend_by_local_day_with_the_previous_period(warehouse: Warehouse, tenant: TenantInfo) -> None:
    """o1 (00:30 on 11-11 in Shanghai, 16:30 UTC the day before) counts on 11-11; cancelled o3 nowhere."""
    with warehouse.reading() as cur:
        trend = service.get_trend(cur, tenant.timezone, "p1", date(2026, 11, 11), date(2026, 11, 12))
        earlier = service.get_trend(cur, tenant.timezone, "p1", date(2026, 11, 13), date(2026, 11, 14))
        with pytest.raises(NotFound):
            service.get_trend(cur, tenant.timezone, "p9", date(2026, 11, 11), date(2026, 11, 12))
    got = [
        (d.day, d.units_sold, d.revenue, d.orders, d.previous_day, d.previous_units_sold) for d in trend.days
    ]
    assert got == [
        (date(2026, 11, 11), 3, Decimal("360.0000"), 1, date(2026, 11, 9), 0),
        (date(2026, 11, 12), 1, Decimal("120.0000"), 1, date(2026, 11, 10), 0),
    ]
    assert (trend.total_units_sold, trend.total_revenue, trend.total_orders) == (4, Decimal("480.0000"), 2)
    assert not trend.has_events and trend.days[0].views is None
    # The previous period of 11-13…11-14 is 11-11…11-12.
    assert (earlier.previous_units_sold, earlier.previous_revenue, earlier.previous_orders) == (
        4,
        Decimal("480.0000"),
        2,
    )
    with pytest.raises(ValidationFailed):
        service.trend_window(date(2026, 11, 12), date(2026, 11, 11), date(2026, 11, 30))
    assert service.trend_window(None, None, date(2026, 11, 30)) == (date(2026, 11, 1), date(2026, 11, 30))


def test_trend_cli(settings: Settings, tenant: TenantInfo) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_products(wh)
    wh.close()
    shown = CliRunner().invoke(
        app,
        [
            "products",
            "trend",
            "p1",
            "--tenant",
            "acme",
            "--from",
            "2026-11-11",
            "--to",
            "2026-11-12",
            "--json",
        ],
    )
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert [(d["day"], d["units_sold"]) for d in body["days"]] == [("2026-11-11", 3), ("2026-11-12", 1)]
    bad = CliRunner().invoke(app, ["products", "trend", "p1", "--tenant", "acme", "--from", "2026-13-01"])
    assert bad.exit_code != 0
