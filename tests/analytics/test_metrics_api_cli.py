"""The metrics API and ``ecomops metrics`` on a small hand-made shop whose answers are worked out by hand.

The shop (Asia/Shanghai, CNY) has the edge cases the definitions talk about: a cancelled order, a guest
order identified only by its anonymous id, an order in another currency, a refund on a later day, an order
just after local midnight, a product without a cost, a missing device.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ecomops.analytics.catalogue import METRICS
from ecomops.analytics.docs import DOC_PATH, render
from ecomops.analytics.engine import MetricsQuery, compute_for_warehouse
from ecomops.analytics.results import MetricsResult
from ecomops.cli import app
from ecomops.kernel.jsonutil import json_form
from ecomops.platform import commandline
from ecomops.platform.context import TenantInfo
from ecomops.platform.server import ServerInfo, remove_lock, write_lock
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

FACTS = [
    "INSERT INTO products (product_id, category, cost) VALUES "
    "('p1', 'A', 10), ('p2', 'B', 15), ('p3', 'A', NULL)",
    # UTC times. o1 10:00 local Nov 10; o2 01:30 local Nov 11; o3 cancelled; o4 guest; o5 USD; o6 Nov 9.
    "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, discount, shipping, total, "
    "customer_id, anonymous_id, channel, device, region) VALUES "
    "('o1', 'paid', '2026-11-10 02:00', 'CNY', 100, 10, 5, 95, 'c1', NULL, 'web', 'mobile', 'Shanghai'),"
    "('o2', 'completed', '2026-11-10 17:30', 'CNY', 50, 0, 0, 50, 'c1', NULL, 'tmall', NULL, 'Shanghai'),"
    "('o3', 'cancelled', '2026-11-10 03:00', 'CNY', 1000, 0, 0, 1000, 'c2', NULL, 'web', 'mobile', NULL),"
    "('o4', 'paid', '2026-11-10 04:00', 'CNY', 20, 0, 0, 20, NULL, 'a9', 'web', 'mobile', NULL),"
    "('o5', 'paid', '2026-11-10 05:00', 'USD', 7, 0, 0, 7, 'c4', NULL, 'web', 'desktop', NULL),"
    "('o6', 'paid', '2026-11-09 05:00', 'CNY', 30, 0, 0, 30, 'c3', NULL, 'web', 'desktop', NULL)",
    "INSERT INTO order_items (item_id, order_id, product_id, category, quantity, unit_price, line_total, "
    "currency, ordered_at) VALUES "
    "('i1', 'o1', 'p1', 'A', 2, 30, 60, 'CNY', '2026-11-10 02:00'),"
    "('i2', 'o1', 'p2', 'B', 1, 40, 40, 'CNY', '2026-11-10 02:00'),"
    "('i3', 'o2', 'p1', 'A', 1, 50, 50, 'CNY', '2026-11-10 17:30'),"
    "('i4', 'o4', 'p3', 'A', 1, 20, 20, 'CNY', '2026-11-10 04:00'),"
    "('i5', 'o6', 'p1', 'A', 1, 30, 30, 'CNY', '2026-11-09 05:00')",
    "INSERT INTO refunds (refund_id, order_id, product_id, amount, currency, refunded_at) VALUES "
    "('r1', 'o1', 'p2', 40, 'CNY', '2026-11-11 03:00')",
    "INSERT INTO events (message_id, type, event, anonymous_id, ts, received_at, channel) VALUES "
    "('e1', 'page', 'Home', 'a1', '2026-11-10 01:00', '2026-11-10 01:00', 'web'),"
    "('e2', 'page', 'Home', 'a2', '2026-11-10 01:00', '2026-11-10 01:00', 'web'),"
    "('e3', 'page', 'Home', 'a9', '2026-11-10 03:59', '2026-11-10 03:59', 'web'),"
    "('e4', 'track', 'Product Added', 'a1', '2026-11-10 01:05', '2026-11-10 01:05', 'web'),"
    "('e5', 'page', 'Home', 'a1', '2026-11-11 02:00', '2026-11-11 02:00', 'tmall')",
]
WINDOW = {"from": "2026-11-10", "to": "2026-11-11"}
IDS = "gmv,net_sales,orders,buyers,aov,visitors,conversion_rate,add_to_cart_rate,refund_rate,repurchase_rate,"
IDS += "new_buyers,returning_buyers,gross_profit,gross_margin,ad_spend"


def load(warehouse: Warehouse) -> None:
    with warehouse.write() as cur:
        for sql in FACTS:
            cur.execute(sql)


@pytest.fixture
def api(server: InProcServer) -> Iterator[httpx.Client]:
    load(server.state.warehouses.get(server.tenant.id))
    headers = {"Authorization": f"Bearer {server.state.control_token}"}
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/{server.tenant.slug}", headers=headers, timeout=60
    ) as c:
        yield c


def check_hand_worked(body: dict[str, Any]) -> None:
    assert body["currency"] == "CNY" and body["timezone"] == "Asia/Shanghai"
    day10, day11 = (row["values"] for row in body["series"])
    assert [row["bucket"] for row in body["series"]] == ["2026-11-10", "2026-11-11"]
    # Nov 10: o1 + o4 (o3 cancelled, o5 in USD, o2 is already Nov 11 in Shanghai).
    assert day10["gmv"] == "115.0000" and day10["orders"] == 2 and day10["buyers"] == 2
    assert day10["net_sales"] == "110.0000"  # subtotal − discount: 90 + 20, no shipping
    assert day10["aov"] == "57.5000"
    assert day10["visitors"] == 3 and day10["conversion_rate"] == pytest.approx(2 / 3)
    assert day10["add_to_cart_rate"] == pytest.approx(1 / 3)
    assert day10["new_buyers"] == 2 and day10["returning_buyers"] == 0
    assert day10["gross_profit"] is None and day10["gross_margin"] is None  # p3 has no cost
    # Nov 11: c1's second order, and the refund of o1's p2 made that day.
    assert day11["gmv"] == "50.0000" and day11["net_sales"] == "10.0000"
    assert day11["refund_rate"] == pytest.approx(0.8)
    assert day11["new_buyers"] == 0 and day11["returning_buyers"] == 1
    assert day11["gross_profit"] == "40.0000" and day11["gross_margin"] == pytest.approx(0.8)
    assert day11["conversion_rate"] == pytest.approx(1.0)
    total = body["totals"][0]
    assert total["values"]["gmv"] == "165.0000" and total["values"]["buyers"] == 2
    assert total["values"]["repurchase_rate"] == pytest.approx(0.5)  # c1 twice, a9 once
    assert total["values"]["visitors"] == 3
    assert total["previous_period"]["gmv"] == "30.0000"  # o6 on Nov 9
    assert total["last_year"]["gmv"] == "0.0000"
    assert body["series"][0]["previous"]["gmv"] == "30.0000"
    assert body["series"][1]["previous"] == body["series"][0]["values"]
    assert body["other_currencies"] == {"USD": 1}
    spend = next(m for m in body["metrics"] if m["id"] == "ad_spend")
    assert spend["available"] is False and spend["reason"] == "this tenant has no ad spend in CNY"
    assert day10["ad_spend"] is None


def test_api_answers_the_hand_worked_values(api: httpx.Client, server: InProcServer) -> None:
    response = api.get("/metrics", params={"ids": IDS, **WINDOW})
    assert response.status_code == 200, response.text
    body = response.json()
    check_hand_worked(body)
    query = MetricsQuery(IDS, first=date(2026, 11, 10), last=date(2026, 11, 11))
    direct = compute_for_warehouse(server.state.warehouses.get(server.tenant.id), server.tenant, query)
    assert json_form(direct, MetricsResult) == body  # the route adds nothing and loses nothing


def test_api_breakdowns_time_zone_and_currency(api: httpx.Client) -> None:
    by_channel = api.get("/metrics", params={"ids": "gmv,orders", "breakdown": "channel", **WINDOW}).json()
    assert [t["breakdown_value"] for t in by_channel["totals"]] == ["web", "tmall"]  # ranked by GMV
    cells = {(r["bucket"], r["breakdown_value"]): r["values"]["gmv"] for r in by_channel["series"]}
    assert cells[("2026-11-10", "web")] == "115.0000" and cells[("2026-11-11", "tmall")] == "50.0000"
    assert cells[("2026-11-10", "tmall")] == "0.0000"
    by_device = api.get("/metrics", params={"ids": "gmv", "breakdown": "device", **WINDOW}).json()
    assert {t["breakdown_value"]: t["values"]["gmv"] for t in by_device["totals"]} == {
        "mobile": "115.0000",
        "(none)": "50.0000",
    }
    utc = api.get("/metrics", params={"ids": "gmv,refunds", "timezone": "UTC", **WINDOW}).json()
    assert [r["values"]["gmv"] for r in utc["series"]] == ["165.0000", "0.0000"]
    assert [r["values"]["refunds"] for r in utc["series"]] == ["0.0000", "40.0000"]
    usd = api.get("/metrics", params={"ids": "gmv,orders", "currency": "usd", **WINDOW}).json()
    assert usd["currency"] == "USD" and usd["totals"][0]["values"]["gmv"] == "7.0000"
    weekly = api.get("/metrics", params={"ids": "gmv", "granularity": "week", **WINDOW}).json()
    assert (weekly["from"], weekly["to"]) == ("2026-11-09", "2026-11-15")  # whole ISO week
    assert weekly["series"][0]["values"]["gmv"] == "195.0000"  # o6 on Monday Nov 9 too
    no_compare = api.get("/metrics", params={"ids": "gmv", "compare": "false", **WINDOW}).json()
    assert "previous" not in no_compare["series"][0] or no_compare["series"][0]["previous"] is None


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"ids": "gmv,bogus"}, "unknown metric id(s) 'bogus'"),
        ({"ids": "gmv", "breakdown": "colour"}, "unknown breakdown 'colour'"),
        (
            {"ids": "gmv", "from": "2026-11-12", "to": "2026-11-10"},
            "from (2026-11-12) is after to (2026-11-10)",
        ),
        (
            {"ids": "gmv", "from": "2026-01-01", "to": "2026-12-31", "granularity": "hour"},
            "allows at most 93",
        ),
        ({"ids": "gmv", "timezone": "Mars/Olympus"}, "unknown IANA time zone"),
        ({"ids": "gmv", "granularity": "fortnight"}, "request validation failed"),
        ({"ids": "gmv", "limit": "0"}, "request validation failed"),
        ({"ids": "gmv", "from": "yesterday"}, "request validation failed"),
    ],
)
def test_api_validates_at_the_edge(api: httpx.Client, params: dict[str, str], fragment: str) -> None:
    response = api.get("/metrics", params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert fragment in error["message"], error


def test_api_needs_credentials_and_serves_the_catalogue(api: httpx.Client, server: InProcServer) -> None:
    bare = httpx.get(
        f"{server.url}/api/v1/t/{server.tenant.slug}/metrics", params={"ids": "gmv"}, timeout=DEADLINE
    )
    assert bare.status_code == 401
    _, viewer_key = tenancy.create_api_key(server.state.engine, server.tenant.slug, "viewer", "v")
    as_viewer = httpx.get(
        f"{server.url}/api/v1/t/{server.tenant.slug}/metrics",
        params={"ids": "gmv", **WINDOW},
        headers={"Authorization": f"Bearer {viewer_key}"},
        timeout=DEADLINE,
    )
    assert as_viewer.status_code == 200  # orders:read: every role
    catalogue = api.get("/metrics/catalogue").json()
    assert [m["id"] for m in catalogue["metrics"]] == [m.id for m in METRICS]
    assert "product" in catalogue["breakdowns"]


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["metrics", *args], catch_exceptions=False)


@pytest.fixture
def local_shop(settings: Settings, tenant: TenantInfo) -> TenantInfo:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        load(wh)
    finally:
        wh.close()
    return tenant


def test_cli_reads_the_file_without_a_server(local_shop: TenantInfo) -> None:
    args = ["--tenant", local_shop.slug, *IDS.split(","), "--from", WINDOW["from"], "--to", WINDOW["to"]]
    as_json = _cli(*args, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    check_hand_worked(json.loads(as_json.stdout))
    as_csv = _cli(
        "--tenant",
        local_shop.slug,
        "gmv",
        "orders",
        "--from",
        "2026-11-10",
        "--to",
        "2026-11-11",
        "-f",
        "csv",
    )
    assert as_csv.stdout.splitlines() == [
        "bucket,gmv,orders",
        "2026-11-10,115.0000,2",
        "2026-11-11,50.0000,1",
    ]
    table = _cli(
        "--tenant", local_shop.slug, "gmv", "visitors", "--breakdown", "channel", "--from", "2026-11-10"
    )
    assert table.exit_code == 0 and "tmall" in table.stdout and "previous period" in table.stdout


def test_cli_errors_and_catalogue(local_shop: TenantInfo) -> None:
    unknown = _cli("--tenant", local_shop.slug, "gmv", "bogus")
    assert unknown.exit_code == 1 and "unknown metric id(s) 'bogus'" in unknown.output
    backwards = _cli("--tenant", local_shop.slug, "gmv", "--from", "2026-11-12", "--to", "2026-11-10")
    assert backwards.exit_code == 1 and "is after to" in backwards.output
    bad_day = _cli("--tenant", local_shop.slug, "gmv", "--from", "10/11/2026")
    assert bad_day.exit_code == 1 and "YYYY-MM-DD" in bad_day.output
    missing = _cli("--tenant", "nope", "gmv")
    assert missing.exit_code == 1 and "not found" in missing.output
    listing = _cli("--list", "--format", "json")
    assert [m["id"] for m in json.loads(listing.stdout)["metrics"]] == [m.id for m in METRICS]


def test_cli_goes_through_the_running_server(
    api: httpx.Client, server: InProcServer, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a server owning the file the CLI must not open it: it calls the API with the control token."""

    def refuse(*_: Any) -> Any:
        raise AssertionError("opened the warehouse although a server runs")

    monkeypatch.setattr(commandline, "local_state", refuse)
    write_lock(settings, ServerInfo(os.getpid(), server.url, server.state.control_token))
    try:
        result = _cli(
            "--tenant",
            server.tenant.slug,
            *IDS.split(","),
            "--from",
            "2026-11-10",
            "--to",
            "2026-11-11",
            "-f",
            "json",
        )
    finally:
        remove_lock(settings, os.getpid())
    assert result.exit_code == 0, result.output
    via_server = json.loads(result.stdout)
    check_hand_worked(via_server)
    assert via_server == api.get("/metrics", params={"ids": IDS, **WINDOW}).json()


def test_docs_metrics_md_is_generated_from_the_catalogue() -> None:
    assert DOC_PATH.read_text("utf-8") == render(), "regenerate with: python -m ecomops.analytics.docs"
    for metric in METRICS:
        assert f"### `{metric.id}`" in render()


def test_money_stays_decimal_in_json(api: httpx.Client) -> None:
    body = api.get("/metrics", params={"ids": "gmv,aov,orders,conversion_rate", **WINDOW}).json()
    values = body["totals"][0]["values"]
    assert isinstance(values["gmv"], str) and Decimal(values["gmv"]) == Decimal("165")
    assert isinstance(values["aov"], str) and isinstance(values["orders"], int)
    assert isinstance(values["conversion_rate"], float)
