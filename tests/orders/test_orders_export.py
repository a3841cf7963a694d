"""Orders as CSV and .xlsx: the same rows as the list for the same filters (API, console, CLI), times in
the shop's zone, money as numbers with a currency, audited as ``orders.export``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import httpx
import openpyxl
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export as audit_records
from ecomops.cli import app
from ecomops.orders import service
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.orders.test_orders import ORDERS, SHANGHAI, reference, seed_orders

FILTERS = {"channel": "douyin"}
HEADER_EN = "Order ID,External ID,Ordered at (Asia/Shanghai),Status,Channel,Source,Customer ID,Items,Total"


def _expected(filters: service.OrderFilters) -> list[list[object]]:
    """Order id, local time, status, customer, total and currency of the reference's orders, in its order."""
    by_id = {o[0]: o for o in ORDERS}
    return [
        [
            oid,
            by_id[oid][1].astimezone(SHANGHAI).replace(tzinfo=None),
            by_id[oid][2],
            by_id[oid][4],
            by_id[oid][5],
            "CNY",
        ]
        for oid in reference(filters)
    ]


def _from_csv(body: bytes) -> tuple[list[str], list[list[object]]]:
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    head = rows[0]
    at, total, currency = head[2], head.index(head[8]), head.index(head[10])
    assert "Asia/Shanghai" in at
    return head, [
        [r[0], datetime.fromisoformat(r[2]), r[3], r[6] or None, Decimal(r[total]), r[currency]]
        for r in rows[1:]
    ]


def test_api_and_console_exports_equal_the_list(server: InProcServer, engine: Engine) -> None:
    seed_orders(server.state.warehouses.get(server.tenant.id))
    filters = service.OrderFilters(channel="douyin")
    _, key = tenancy.create_api_key(engine, "acme", "viewer", "exporter")
    with httpx.Client(
        base_url=server.url + "/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as c:
        listed = [o["order_id"] for o in c.get("/orders", params=FILTERS).json()["items"]]
        answer = c.get("/orders", params={**FILTERS, "format": "csv"})
        every = c.get("/orders", params={"format": "csv"})
        bad = c.get("/orders", params={"format": "pdf"})
    assert bad.status_code == 422
    assert answer.headers["content-type"].startswith("text/csv")
    head, rows = _from_csv(answer.content)
    assert ",".join(head).startswith(HEADER_EN)
    assert [r[0] for r in rows] == listed and rows == _expected(filters)
    assert _from_csv(every.content)[1] == _expected(service.OrderFilters())  # all, not one page

    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        client.cookies.set("eco_lang", "zh_CN")
        page = client.get("/t/acme/orders", params=FILTERS)
        assert 'data-export="xlsx"' in page.text and "channel=douyin&amp;format=xlsx" in page.text
        xlsx = client.get("/t/acme/orders", params={**FILTERS, "format": "xlsx"})
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][:3] == ["订单 ID", "外部 ID", "下单时间 (Asia/Shanghai)"]
    got = [[r[0], r[2], r[3], r[6], Decimal(str(r[8])), r[10]] for r in table[1:]]
    assert got == _expected(filters)
    assert isinstance(table[1][8], float | int | Decimal) and isinstance(table[1][2], datetime)
    records = [r for r in audit_records(engine, server.tenant.id) if r["action"] == "orders.export"]
    assert [(r["actor"].split(":")[0], r["target_id"], r["details"]["rows"]) for r in records] == [
        ("api_key", "csv", 2),
        ("api_key", "csv", len(ORDERS)),
        ("user", "xlsx", 2),
    ]
    assert records[0]["details"]["filters"] == FILTERS


def test_cli_exports_without_a_server(settings: Settings, tenant: TenantInfo, tmp_path: Path) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        seed_orders(wh)
    finally:
        wh.close()
    runner = CliRunner()
    out = runner.invoke(app, ["orders", "list", "--tenant", "acme", "--status", "paid", "--format", "csv"])
    assert out.exit_code == 0, out.output
    _, rows = _from_csv(out.stdout_bytes)
    assert rows == _expected(service.OrderFilters(status="paid"))
    target = tmp_path / "orders.xlsx"
    saved = runner.invoke(
        app, ["orders", "list", "--tenant", "acme", "--format", "xlsx", "--output", str(target)]
    )
    assert saved.exit_code == 0, saved.output
    sheet = openpyxl.load_workbook(target, read_only=True).worksheets[0]
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == reference(service.OrderFilters())
    bad = runner.invoke(app, ["orders", "list", "--tenant", "acme", "--format", "json"])
    assert bad.exit_code != 0 and "csv or xlsx" in bad.output
