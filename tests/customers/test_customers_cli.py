"""``ecomops customers list|show`` without a server: the warehouse file read-only, PII from the vault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openpyxl
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export
from ecomops.customers.cli import customers_app
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.store.scoping import tenant_session
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.privacy import vault
from ecomops.tenancy import service as tenancy
from tests.conftest import start_server
from tests.timing import DEADLINE, wait_until

runner = CliRunner()


def _seed(settings: Settings, engine: Engine, tenant: TenantInfo) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        with wh.write() as cur:
            cur.execute(
                """INSERT INTO customers (customer_id, source, first_seen_at, last_seen_at, country)
                   VALUES ('c-1', 'events', '2026-01-01', '2026-03-01', 'CN'),
                          ('c-2', 'events', '2026-01-05', '2026-02-01', 'US')"""
            )
            cur.execute(
                """INSERT INTO orders (order_id, source, channel, customer_id, status, ordered_at, currency,
                                       subtotal, total, items_count)
                   VALUES ('o-1', 'events', 'web', 'c-1', 'paid', '2026-02-01', 'CNY', 100, 100, 1),
                          ('o-2', 'events', 'web', 'c-1', 'cancelled', '2026-02-02', 'CNY', 50, 50, 1),
                          ('o-3', 'events', 'web', 'c-1', 'paid', '2026-02-03', 'CNY', 20.5, 20.5, 2)"""
            )
    finally:
        wh.close()
    with tenant_session(engine, tenant.id) as s:
        vault.upsert_pii(
            s, tenant.id, "c-1", {"name": "王小明", "email": "ming@example.cn", "phone": "13900001111"}
        )


def test_list_and_show_masked_then_revealed(
    settings: Settings, engine: Engine, tenant: TenantInfo, data_dir: Path
) -> None:
    _seed(settings, engine, tenant)
    listed = runner.invoke(customers_app, ["list", "--tenant", tenant.slug, "--json"])
    assert listed.exit_code == 0, listed.output
    page = json.loads(listed.output)
    assert [i["customer_id"] for i in page["items"]] == ["c-1", "c-2"]  # most recently seen first
    first = page["items"][0]
    assert (first["orders_count"], first["spend"]) == (3, "120.50")  # the cancelled order is not spend
    # The API's shape: every vault field, null where the customer has none.
    assert first["pii"] == {
        "name": "王**",
        "first_name": None,
        "last_name": None,
        "email": "m***@example.cn",
        "phone": "139****1111",
        "address": None,
        "birthday": None,
    }
    assert page["items"][1]["pii"] is None

    by_phone = runner.invoke(
        customers_app, ["list", "--tenant", tenant.slug, "--phone", "139 0000 1111", "--json"]
    )
    assert [i["customer_id"] for i in json.loads(by_phone.output)["items"]] == ["c-1"]

    table = runner.invoke(customers_app, ["list", "--tenant", tenant.slug])
    assert (
        table.exit_code == 0 and "m***@example.cn" in table.output and "ming@example.cn" not in table.output
    )

    shown = runner.invoke(customers_app, ["show", "c-1", "--tenant", tenant.slug, "--reveal"])
    assert shown.exit_code == 0, shown.output
    profile = json.loads(shown.output)
    assert profile["pii"]["email"] == "ming@example.cn"
    assert profile["orders"]["orders_count"] == 3
    assert [o["order_id"] for o in profile["orders"]["recent"]] == ["o-3", "o-2", "o-1"]
    reads = [r for r in export(engine, tenant.id) if r["action"] == "customer.pii_read"]
    assert [(r["target_id"], r["details"]["via"]) for r in reads] == [("c-1", "cli")]
    assert reads[0]["actor"].startswith("cli:")

    missing = runner.invoke(customers_app, ["show", "nobody", "--tenant", tenant.slug])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_list_filters_sorts_and_exports_without_a_server(
    settings: Settings, engine: Engine, tenant: TenantInfo, tmp_path: Path
) -> None:
    _seed(settings, engine, tenant)
    base = ["list", "--tenant", tenant.slug]
    by_spend = runner.invoke(customers_app, [*base, "--sort", "spend", "--order", "asc", "--json"])
    assert [i["customer_id"] for i in json.loads(by_spend.output)["items"]] == ["c-2", "c-1"]
    buyers = runner.invoke(customers_app, [*base, "--min-orders", "1", "--search", "C-", "--json"])
    assert [i["customer_id"] for i in json.loads(buyers.output)["items"]] == ["c-1"]
    bad = runner.invoke(customers_app, [*base, "--sort", "price"])
    assert bad.exit_code == 1 and "sort must be one of" in bad.output
    csv_out = runner.invoke(customers_app, [*base, "--format", "csv", "--country", "CN"])
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.stdout_bytes.startswith("\ufeff".encode())
    lines = csv_out.stdout_bytes.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Customer ID,Name,Email,Phone,") and len(lines) == 2
    assert lines[1].startswith("c-1,王**,m***@example.cn,139****1111,") and ",3,120.50," in lines[1]
    no_file = runner.invoke(customers_app, [*base, "--format", "xlsx"])
    assert no_file.exit_code != 0 and "--output" in no_file.output
    target = tmp_path / "customers.xlsx"
    saved = runner.invoke(
        customers_app, [*base, "--format", "xlsx", "--output", str(target), "--lang", "zh_CN"]
    )
    assert saved.exit_code == 0, saved.output
    sheet = openpyxl.load_workbook(target, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("客户 ID", "名称", "邮箱") and [r[0] for r in rows[1:]] == ["c-1", "c-2"]
    exports = [r for r in export(engine, tenant.id) if r["action"] == "customers.export"]
    assert [(r["target_id"], r["details"]["rows"], r["details"]["via"]) for r in exports] == [
        ("csv", 1, "cli"),
        ("xlsx", 2, "cli"),
    ]


def test_cli_goes_through_a_running_server(engine: Engine, tenant: TenantInfo, data_dir: Path) -> None:
    _, write_key = tenancy.create_source(engine, tenant.slug, "site", "web")
    server = start_server(data_dir)
    try:
        identify = {
            "userId": "c-9",
            "messageId": "m-9",
            "traits": {"email": "nine@example.com", "plan": "pro"},
        }
        r = httpx.post(f"{server.url}/v1/identify", json=identify, auth=(write_key, ""), timeout=DEADLINE)
        assert r.status_code == 200, r.text

        def listed_once_loaded() -> dict[str, Any] | None:
            """The CLI's list through the server, once its loader has taken the acknowledged event."""
            listed = runner.invoke(customers_app, ["list", "--tenant", tenant.slug, "--json"])
            assert listed.exit_code == 0, listed.output
            page: dict[str, Any] = json.loads(listed.output)
            return page if page["total"] == 1 else None

        page = wait_until(listed_once_loaded, "the server to load the identify event", poll=0.2)
        assert page["items"][0]["pii"]["email"] == "n***@example.com"
        shown = runner.invoke(customers_app, ["show", "c-9", "--tenant", tenant.slug, "--reveal"])
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["pii"]["email"] == "nine@example.com"
        target = data_dir / "export.csv"
        saved = runner.invoke(
            customers_app, ["list", "--tenant", tenant.slug, "--format", "csv", "--output", str(target)]
        )
        assert saved.exit_code == 0, saved.output
        assert target.read_bytes().decode("utf-8-sig").splitlines()[1].startswith("c-9,,n***@example.com,")
    finally:
        server.stop()
    reads = [r for r in export(engine, tenant.id) if r["action"] == "customer.pii_read"]
    assert [(r["actor"], r["target_id"], r["details"]["via"]) for r in reads] == [
        ("local-cli", "c-9", "local")
    ]
    exports = [r for r in export(engine, tenant.id) if r["action"] == "customers.export"]
    assert [(r["actor"], r["details"]["via"], r["details"]["rows"]) for r in exports] == [
        ("local-cli", "local", 1)
    ]
