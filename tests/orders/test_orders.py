"""Orders explorer: filters (dates in the tenant's zone), keyset pages, detail — service, API and CLI.

Every filter result is compared with a plain-Python filter over the same rows written in the test,
so the SQL is checked against an independent reference, including the Shanghai-midnight boundary.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.analytics import engine as metrics_engine
from ecomops.analytics.catalogue import EXCLUDED_ORDER_STATUSES, NONE_LABEL
from ecomops.cli import app
from ecomops.kernel.errors import NotFound, ValidationFailed
from ecomops.orders import service
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, start_server

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: (order_id, ordered_at UTC, status, channel, customer, total, coupon)
ORDERS: list[tuple[str, datetime, str, str, str | None, Decimal, str | None]] = [
    # 2026-11-10 23:59 Shanghai = 15:59 UTC on the 10th: the day before Double 11 locally.
    ("o1", datetime(2026, 11, 10, 15, 59, tzinfo=UTC), "paid", "web", "c1", Decimal("99.0000"), None),
    # 2026-11-11 00:00 Shanghai = 16:00 UTC on the 10th: already Double 11 locally.
    ("o2", datetime(2026, 11, 10, 16, 0, tzinfo=UTC), "paid", "douyin", "c2", Decimal("518.5000"), "D11"),
    ("o3", datetime(2026, 11, 11, 3, 0, tzinfo=UTC), "refunded", "tmall", "c1", Decimal("20.0000"), None),
    ("o4", datetime(2026, 11, 11, 3, 0, tzinfo=UTC), "paid", "douyin", "c3", Decimal("1200.0000"), "D11"),
    ("o5", datetime(2026, 11, 11, 15, 59, tzinfo=UTC), "cancelled", "web", None, Decimal("75.2500"), None),
    # 2026-11-12 00:30 Shanghai: the day after.
    (
        "o6",
        datetime(2026, 11, 11, 16, 30, tzinfo=UTC),
        "partially_refunded",
        "jd",
        "c2",
        Decimal("300.0000"),
        "VIP",
    ),
    ("o7", datetime(2026, 11, 12, 9, 0, tzinfo=UTC), "paid", "web", "c4", Decimal("45.0000"), None),
]


def seed_orders(wh: Warehouse) -> None:
    with wh.write() as cur:
        for oid, at, status, channel, customer, total, coupon in ORDERS:
            cur.execute(
                "INSERT INTO orders (order_id, external_id, source, channel, customer_id, status, "
                "ordered_at, currency, subtotal, discount, total, coupon, items_count) "
                "VALUES (?, ?, 'test', ?, ?, ?, ?, 'CNY', ?, 0, ?, ?, 2)",
                [oid, f"EXT-{oid}", channel, customer, status, at, total, total, coupon],
            )
        cur.execute(
            "INSERT INTO order_items (item_id, order_id, product_id, sku, name, quantity, unit_price, "
            "line_total, currency, ordered_at) VALUES "
            "('o2-1', 'o2', 'p1', 'SKU-1', '面霜 50ml', 1, 18.5, 18.5, 'CNY', ?), "
            "('o2-2', 'o2', 'p2', 'SKU-2', '精华液', 2, 250, 500, 'CNY', ?)",
            [ORDERS[1][1], ORDERS[1][1]],
        )
        cur.execute(
            "INSERT INTO refunds (refund_id, order_id, product_id, sku, quantity, amount, currency, "
            "reason, refunded_at) VALUES "
            "('r1', 'o2', 'p1', 'SKU-1', 1, 18.5, 'CNY', '不喜欢', '2026-11-13 08:00:00+00')"
        )
        cur.execute(
            "INSERT INTO order_payments (payment_id, order_id, sequential, payment_type, amount, currency) "
            "VALUES ('pay1', 'o2', 1, 'alipay', 518.5, 'CNY')"
        )


def reference(filters: service.OrderFilters) -> list[str]:
    """The same filters in plain Python over ORDERS, newest first (ties by order id descending)."""

    def local_day(at: datetime) -> date:
        return at.astimezone(SHANGHAI).date()

    kept = []
    for oid, at, status, channel, customer, total, coupon in ORDERS:
        if filters.date_from and local_day(at) < filters.date_from:
            continue
        if filters.date_to and local_day(at) > filters.date_to:
            continue
        if filters.channel and channel != filters.channel:
            continue
        if filters.status and status != filters.status:
            continue
        if filters.customer_id and customer != filters.customer_id:
            continue
        if filters.coupon and coupon != filters.coupon:
            continue
        if filters.min_total is not None and total < filters.min_total:
            continue
        if filters.max_total is not None and total > filters.max_total:
            continue
        kept.append((at, oid))
    return [oid for _, oid in sorted(kept, reverse=True)]


@pytest.fixture
def warehouse(settings: Settings, tenant: TenantInfo) -> Iterator[Warehouse]:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_orders(wh)
    yield wh
    wh.close()


CASES = [
    service.OrderFilters(),
    service.OrderFilters(date_from=date(2026, 11, 11), date_to=date(2026, 11, 11)),
    service.OrderFilters(date_to=date(2026, 11, 10)),
    service.OrderFilters(date_from=date(2026, 11, 12)),
    service.OrderFilters(channel="douyin"),
    service.OrderFilters(status="paid", min_total=Decimal("99")),
    service.OrderFilters(max_total=Decimal("75.25")),
    service.OrderFilters(customer_id="c2"),
    service.OrderFilters(coupon="D11", date_from=date(2026, 11, 11), date_to=date(2026, 11, 11)),
    service.OrderFilters(channel="web", status="paid", max_total=Decimal("50")),
    service.OrderFilters(coupon="NOPE"),
]


@pytest.mark.parametrize(
    "filters", CASES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.active().items()) or "all"
)
def test_filters_match_a_python_reference(warehouse: Warehouse, filters: service.OrderFilters) -> None:
    page = service.list_orders(warehouse.cursor(), "Asia/Shanghai", filters, limit=100)
    assert [o.order_id for o in page.items] == reference(filters)
    assert page.total == len(reference(filters))
    assert page.next_cursor is None


def test_double_11_in_shanghai_is_not_double_11_in_utc(warehouse: Warehouse) -> None:
    d11 = service.OrderFilters(date_from=date(2026, 11, 11), date_to=date(2026, 11, 11))
    shanghai = service.list_orders(warehouse.cursor(), "Asia/Shanghai", d11)
    utc = service.list_orders(warehouse.cursor(), "UTC", d11)
    assert {o.order_id for o in shanghai.items} == {"o2", "o3", "o4", "o5"}
    assert {o.order_id for o in utc.items} == {"o3", "o4", "o5", "o6"}


def test_keyset_pages_visit_every_order_once_in_order(warehouse: Warehouse) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = service.list_orders(warehouse.cursor(), "Asia/Shanghai", limit=2, cursor=cursor)
        seen += [o.order_id for o in page.items]
        pages += 1
        assert page.total == len(ORDERS)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == reference(service.OrderFilters())  # o3/o4 share a timestamp: the id breaks the tie
    assert pages == 4
    # A filter applies across pages too.
    first = service.list_orders(
        warehouse.cursor(), "Asia/Shanghai", service.OrderFilters(channel="web"), limit=1
    )
    rest = service.list_orders(
        warehouse.cursor(),
        "Asia/Shanghai",
        service.OrderFilters(channel="web"),
        limit=10,
        cursor=first.next_cursor,
    )
    assert [o.order_id for o in first.items + rest.items] == ["o7", "o5", "o1"]


def test_bad_input_is_refused_with_the_field_named(warehouse: Warehouse) -> None:
    cur = warehouse.cursor()
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"filters": service.OrderFilters(date_from=date(2026, 11, 12), date_to=date(2026, 11, 11))},
            "date_from",
        ),
        ({"filters": service.OrderFilters(min_total=Decimal(10), max_total=Decimal(5))}, "min_total"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"filters": service.OrderFilters(utm_campaign="x" * (service.MAX_TEXT + 1))}, "utm_campaign"),
        ({"filters": service.OrderFilters(utm_source="")}, "utm_source"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailed) as info:
            service.list_orders(cur, "UTC", **kwargs)
        assert info.value.details["field"] == field


def test_order_detail_has_items_refunds_payments(warehouse: Warehouse) -> None:
    order = service.get_order(warehouse.cursor(), "o2")
    assert order.coupon == "D11" and order.channel == "douyin"
    assert [(i.sku, i.quantity, i.line_total) for i in order.items] == [
        ("SKU-1", 1, Decimal("18.5000")),
        ("SKU-2", 2, Decimal("500.0000")),
    ]
    assert [(r.refund_id, r.amount, r.reason) for r in order.refunds] == [
        ("r1", Decimal("18.5000"), "不喜欢")
    ]
    assert order.refunded_total == Decimal("18.5000")
    assert order.payments[0].payment_type == "alipay"
    with pytest.raises(NotFound, match="order 'nope' not found"):
        service.get_order(warehouse.cursor(), "nope")


def test_api_lists_filters_pages_and_shows_orders(server: InProcServer, engine: Engine) -> None:
    seed_orders(server.state.warehouses.get(server.tenant.id))
    _, key = tenancy.create_api_key(engine, "acme", "viewer", "explorer")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url + "/api/v1/t/acme", headers=headers, timeout=30) as c:
        d11 = c.get(
            "/orders", params={"date_from": "2026-11-11", "date_to": "2026-11-11", "coupon": "D11"}
        ).json()
        assert [o["order_id"] for o in d11["items"]] == ["o4", "o2"]
        assert d11["items"][1]["total"] == "518.5000" and d11["filters"]["coupon"] == "D11"
        first = c.get("/orders", params={"limit": 3}).json()
        second = c.get("/orders", params={"limit": 3, "cursor": first["next_cursor"]}).json()
        assert [o["order_id"] for o in first["items"] + second["items"]] == reference(service.OrderFilters())[
            :6
        ]
        detail = c.get("/orders/o2").json()
        assert detail["items"][1]["line_total"] == "500.0000" and detail["refunded_total"] == "18.5000"
        assert detail["payments"][0]["amount"] == "518.5000"
        missing = c.get("/orders/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        bad = c.get("/orders", params={"min_total": "10", "max_total": "5"})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "min_total"
        not_a_date = c.get("/orders", params={"date_from": "11/11"})
        assert not_a_date.status_code == 422
        assert not_a_date.json()["error"]["details"][0]["loc"] == ["query", "date_from"]
        tampered = c.get("/orders", params={"cursor": "eyJub3QiOiJ2YWxpZCJ9"})
        assert tampered.status_code == 422 and tampered.json()["error"]["details"]["field"] == "cursor"


def test_cli_lists_and_shows_without_and_with_a_server(settings: Settings, tenant: TenantInfo) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_orders(wh)
    with wh.write() as cur:
        cur.execute(
            "INSERT INTO products (product_id, sku, name, price, cost, currency) VALUES "
            "('p1', 'SKU-1', '面霜 50ml', 18.5, 5, 'CNY'), ('p2', 'SKU-2', '精华液', 250, NULL, 'CNY')"
        )
    wh.close()
    runner = CliRunner()
    local = runner.invoke(
        app, ["orders", "list", "--tenant", "acme", "--from", "2026-11-11", "--to", "2026-11-11", "--json"]
    )
    assert local.exit_code == 0, local.output
    assert [o["order_id"] for o in json.loads(local.stdout)["items"]] == ["o5", "o4", "o3", "o2"]
    table = runner.invoke(app, ["orders", "show", "o2", "--tenant", "acme"])
    assert table.exit_code == 0 and "SKU-2" in table.stdout and "518.5000" in table.stdout
    wrong = runner.invoke(app, ["orders", "list", "--tenant", "acme", "--from", "2026-13-01"])
    assert wrong.exit_code == 2 and "not a date" in wrong.output
    live = start_server(settings.resolved_data_dir)
    try:
        through = runner.invoke(
            app, ["orders", "list", "--tenant", "acme", "--channel", "web", "--json", "--limit", "2"]
        )
        assert through.exit_code == 0, through.output
        page = json.loads(through.stdout)
        assert [o["order_id"] for o in page["items"]] == ["o7", "o5"] and page["next_cursor"]
        shown = runner.invoke(app, ["orders", "show", "o2", "--tenant", "acme", "--json"])
        assert json.loads(shown.stdout)["refunds"][0]["refund_id"] == "r1"
        missing = runner.invoke(app, ["orders", "show", "nope", "--tenant", "acme"])
        assert missing.exit_code == 1 and "not found" in missing.output
        # Product analytics take the same road through the server.
        products = runner.invoke(app, ["products", "list", "--tenant", "acme", "--json"])
        assert products.exit_code == 0, products.output
        assert [
            (p["product_id"], p["units_sold"], p["revenue"]) for p in json.loads(products.stdout)["items"]
        ] == [
            ("p2", 2, "500.0000"),
            ("p1", 1, "18.5000"),
        ]
    finally:
        live.stop()


# --- UTM filters: the metric engine's breakdown labels -------------------------------------------------

#: order → (utm_source, utm_medium, utm_campaign). Missing and blank values are the engine's "(none)".
UTM: dict[str, tuple[str | None, str | None, str | None]] = {
    "o1": ("baidu", "cpc", "d11_search"),
    "o2": ("baidu", "cpc", "d11_search"),
    "o3": ("douyin", "feed", "d11_search"),  # the same campaign name from another source
    "o4": ("baidu", "cpc", "D11_search"),  # case matters: another campaign
    "o5": ("baidu", "cpc", "d11_search"),  # cancelled: listed, not counted by the engine
    "o6": ("", " \t", None),
    "o7": (None, None, "(none)"),  # literally "(none)": the engine puts it in the missing row too
}


def seed_utm(wh: Warehouse) -> None:
    with wh.write() as cur:
        for oid, (source, medium, campaign) in UTM.items():
            cur.execute(
                "UPDATE orders SET utm_source = ?, utm_medium = ?, utm_campaign = ? WHERE order_id = ?",
                [source, medium, campaign, oid],
            )


def utm_label(value: str | None) -> str:
    return NONE_LABEL if value is None or value.strip() == "" else value


def utm_reference(index: int, label: str, filters: service.OrderFilters | None = None) -> list[str]:
    return [
        oid for oid in reference(filters or service.OrderFilters()) if utm_label(UTM[oid][index]) == label
    ]


def test_utm_filters_select_the_engine_labels(warehouse: Warehouse, tenant: TenantInfo) -> None:
    seed_utm(warehouse)
    cur = warehouse.cursor()
    for index, name in enumerate(service.UTM_FILTERS):
        for label in {utm_label(v[index]) for v in UTM.values()} | {"nope", "D11_SEARCH"}:
            page = service.list_orders(cur, "Asia/Shanghai", service.OrderFilters(**{name: label}), limit=100)
            assert [o.order_id for o in page.items] == utm_reference(index, label), (name, label)
            assert page.total == len(page.items) and page.filters == {name: label}
    assert {
        o.order_id
        for o in service.list_orders(cur, "UTC", service.OrderFilters(utm_campaign=NONE_LABEL)).items
    } == {"o6", "o7"}
    both = service.OrderFilters(
        date_from=date(2026, 11, 11),
        date_to=date(2026, 11, 11),
        utm_source="baidu",
        utm_campaign="d11_search",
    )
    assert [o.order_id for o in service.list_orders(cur, "Asia/Shanghai", both).items] == ["o5", "o2"]
    listed = service.list_orders(cur, "Asia/Shanghai", service.OrderFilters(utm_campaign="D11_search")).items
    assert [(o.utm_source, o.utm_medium, o.utm_campaign) for o in listed] == [UTM["o4"]]
    facets = service.facets(cur)
    assert facets["utm_campaign"] == ["(none)", "D11_search", "d11_search"]

    # The engine's own rows: each campaign/source row's `orders` are the listed orders of its label
    # minus the statuses the engine leaves out (the list shows every status).
    for breakdown, name in (("campaign", "utm_campaign"), ("source", "utm_source")):
        query = metrics_engine.MetricsQuery(
            ids=["orders"],
            first=date(2026, 11, 10),
            last=date(2026, 11, 12),
            breakdown=breakdown,
            compare=False,
            source="facts",
        )
        answer = metrics_engine.compute_for_warehouse(warehouse, tenant, query)
        rows = {row.breakdown_value: row.values["orders"] for row in answer.totals}
        index = service.UTM_FILTERS.index(name)
        assert set(rows) == {utm_label(v[index]) for v in UTM.values()}, breakdown
        for label, counted in rows.items():
            filters = service.OrderFilters(date_from=query.first, date_to=query.last, **{name: label})
            items = service.list_orders(cur, tenant.timezone, filters, limit=100).items
            assert counted == sum(o.status not in EXCLUDED_ORDER_STATUSES for o in items), (
                breakdown,
                label,
            )


def test_api_and_cli_filter_by_utm(settings: Settings, engine: Engine, tenant: TenantInfo) -> None:
    """The API's query parameters (422 naming the field), the CLI options without and with a server."""
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    seed_orders(wh)
    seed_utm(wh)
    wh.close()
    runner = CliRunner()
    local = runner.invoke(
        app,
        [
            "orders",
            "list",
            "--tenant",
            "acme",
            "--utm-source",
            "baidu",
            "--utm-campaign",
            "d11_search",
            "--json",
        ],
    )
    assert local.exit_code == 0, local.output
    body = json.loads(local.stdout)
    assert [o["order_id"] for o in body["items"]] == ["o5", "o2", "o1"]
    assert body["filters"] == {"utm_source": "baidu", "utm_campaign": "d11_search"}
    table = runner.invoke(app, ["orders", "list", "--tenant", "acme", "--utm-medium", "(none)"])
    assert table.exit_code == 0 and "o7" in table.stdout and "o6" in table.stdout and "o1" not in table.stdout
    too_long = runner.invoke(app, ["orders", "list", "--tenant", "acme", "--utm-campaign", "x" * 201])
    assert too_long.exit_code == 1 and "utm_campaign must be 1..200 characters" in too_long.output
    live = start_server(settings.resolved_data_dir)
    try:
        through = runner.invoke(
            app, ["orders", "list", "--tenant", "acme", "--utm-campaign", "(none)", "--json"]
        )
        assert through.exit_code == 0, through.output
        assert [o["order_id"] for o in json.loads(through.stdout)["items"]] == ["o7", "o6"]
        _, key = tenancy.create_api_key(engine, "acme", "viewer", "utm")
        with httpx.Client(
            base_url=live.url + "/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as c:
            d11 = c.get(
                "/orders",
                params={"date_from": "2026-11-11", "date_to": "2026-11-11", "utm_campaign": "d11_search"},
            )
            assert d11.status_code == 200, d11.text
            assert [o["order_id"] for o in d11.json()["items"]] == ["o5", "o3", "o2"]
            assert d11.json()["items"][1]["utm_source"] == "douyin"
            assert d11.json()["filters"]["utm_campaign"] == "d11_search"
            medium = c.get("/orders", params={"utm_medium": "feed"}).json()
            assert [o["order_id"] for o in medium["items"]] == ["o3"]
            for name in service.UTM_FILTERS:
                for bad in ("x" * (service.MAX_TEXT + 1), ""):
                    refused = c.get("/orders", params={name: bad})
                    assert refused.status_code == 422, (name, bad)
                    assert refused.json()["error"]["details"][0]["loc"] == ["query", name]
    finally:
        live.stop()
