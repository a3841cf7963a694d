"""Products as CSV and .xlsx: the list's rows and figures for the same window and sort, audited."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import openpyxl
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export as audit_records
from ecomops.cli import app
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in
from tests.products.test_products import seed_products


def test_exports_equal_the_list(server: InProcServer, engine: Engine) -> None:
    seed_products(server.state.warehouses.get(server.tenant.id))
    _, key = tenancy.create_api_key(engine, "acme", "marketer", "catalogue")
    params = {"sort": "units", "date_from": "2026-11-01"}
    with httpx.Client(
        base_url=server.url + "/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as c:
        items = c.get("/products", params=params).json()["items"]
        answer = c.get("/products", params={**params, "format": "csv"})
    expected = [
        [p["product_id"], p["name"], p["units_sold"], Decimal(p["revenue"]), p["currency"], p["avg_rating"]]
        for p in items
    ]
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    head = rows[0]
    at = {
        name: head.index(name)
        for name in ("Product ID", "Product", "Units sold", "Revenue", "Currency", "Rating")
    }
    got = [
        [
            r[at["Product ID"]],
            r[at["Product"]],
            int(r[at["Units sold"]]),
            Decimal(r[at["Revenue"]]),
            r[at["Currency"]] or None,
            float(r[at["Rating"]]) if r[at["Rating"]] else None,
        ]
        for r in rows[1:]
    ]
    assert got == expected and [g[0] for g in got] == ["p1", "p2", "p3"]
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        page = client.get("/t/acme/products", params=params)
        assert 'data-export="csv"' in page.text
        xlsx = client.get("/t/acme/products", params={**params, "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert [str(h) for h in table[0]] == head
    assert [[r[0], r[2], r[at["Units sold"]], Decimal(str(r[at["Revenue"]]))] for r in table[1:]] == [
        [e[0], e[1], e[2], e[3]] for e in expected
    ]
    records = [r for r in audit_records(engine, server.tenant.id) if r["action"] == "products.export"]
    assert [(r["target_id"], r["details"]["rows"], r["details"]["filters"]) for r in records] == [
        ("csv", 3, params),
        ("xlsx", 3, params),
    ]
    server.state.warehouses.close_all()  # the CLI below opens the file itself, as without a server
    out = CliRunner().invoke(
        app, ["products", "list", "--tenant", "acme", "--search", "serum", "--format", "csv"]
    )
    assert out.exit_code == 0, out.output
    lines = out.stdout_bytes.decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith("p2,")
