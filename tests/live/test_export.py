"""The live page's tables as files (``/t/{slug}/live?export=<table>&format=``): the rows of the current
snapshot — the same as ``GET …/live`` — checked against the facts written here; audited as
``live.<table>.export``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import openpyxl
from sqlalchemy import Engine

from ecomops.audit.service import export as audit_records
from ecomops.kernel.clock import utcnow
from ecomops.live.service import day_start
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in

ORDERS = (  # order id, channel, status, total, live session, product, quantity
    ("o1", "web", "paid", "120.0000", None, "p1", 2),
    ("o2", "douyin", "paid", "300.0000", "ls1", "p2", 1),
    ("o3", "douyin", "paid", "80.0000", "ls1", "p1", 1),
    ("o4", "web", "pending", "55.5000", None, "p2", 1),
    ("o5", "web", "cancelled", "999.0000", None, "p2", 9),
)


def _local(text: str | None, zone: str) -> str:
    if text is None:
        return ""
    return (
        datetime.fromisoformat(text)
        .astimezone(ZoneInfo(zone))
        .replace(tzinfo=None, microsecond=0)
        .isoformat(sep=" ")
    )


def test_live_tables_export_the_snapshot(server: InProcServer, engine: Engine) -> None:
    tenant = server.tenant
    now = utcnow()
    start = day_start(now, tenant.timezone)
    at = start + (now - start) / 2  # today in the shop's zone, in the past, whatever the hour
    with server.state.warehouses.get(tenant.id).write() as cur:
        cur.execute(
            "INSERT INTO live_sessions VALUES "
            "('ls1', 'douyin', 'Mei', '=Double 11 warm-up', ?, NULL, 900, 3000)",
            [at.astimezone(UTC)],
        )
        for oid, channel, status, total, session, product, qty in ORDERS:
            cur.execute(
                "INSERT INTO orders (order_id, channel, customer_id, status, ordered_at, currency, subtotal, "
                "total, items_count, live_session_id) VALUES (?, ?, ?, ?, ?, 'CNY', ?, ?, ?, ?)",
                [oid, channel, f"c_{oid}", status, at, total, total, qty, session],
            )
            cur.execute(
                "INSERT INTO order_items (item_id, order_id, product_id, name, quantity, unit_price, "
                "line_total, currency, ordered_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'CNY', ?)",
                [f"i_{oid}", oid, product, f"Product {product}", qty, total, total, at],
            )
    _, key = tenancy.create_api_key(engine, "acme", "viewer", "live-export")
    snap = httpx.get(
        f"{server.url}/api/v1/t/acme/live", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ).json()
    add_member(engine, "ana@acme.test", "analyst")
    files = {}
    with signed_in(server, "ana@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/live")
        assert 'href="/t/acme/live?export=unpaid&amp;format=csv"' in page.text
        for table in ("hot_products", "channels", "live_sessions", "unpaid"):
            answer = client.get("/t/acme/live", params={"export": table, "format": "csv"})
            assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf"), answer.text[:200]
            files[table] = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        xlsx = client.get("/t/acme/live", params={"export": "hot_products", "format": "xlsx"})
        bad = client.get("/t/acme/live", params={"export": "minutes", "format": "csv"})
        assert bad.status_code == 422 and "unknown table" in bad.text
        big = client.get("/t/acme/live", params={"screen": "big"})
        assert 'data-export="csv"' not in big.text  # no download buttons on the office TV
    zone = tenant.timezone

    # Hot products by line revenue of counted orders: p2 300, p1 120 + 80 (o4 is pending but counted).
    hot = files["hot_products"]
    assert hot[0] == ["#", "Product ID", "Product", "Category", "Units", "Revenue", "Orders", "Currency"]
    assert [(r[1], r[4], Decimal(r[5]), r[6]) for r in hot[1:]] == [
        ("p2", "2", Decimal("355.5"), "2"),
        ("p1", "3", Decimal("200"), "2"),
    ]
    assert [(r[1], Decimal(r[5])) for r in hot[1:]] == [
        (p["product_id"], Decimal(p["revenue"])) for p in snap["hot_products"]
    ]
    assert (
        [r[0] for r in files["channels"][1:]] == [c["channel"] for c in snap["channels"]] == ["douyin", "web"]
    )
    assert [Decimal(r[2]) for r in files["channels"][1:]] == [Decimal("380"), Decimal("175.5")]
    sessions = files["live_sessions"]
    assert sessions[1][:3] == ["ls1", "'=Double 11 warm-up", "Mei"]  # a formula stays text
    assert sessions[1][4] == _local(snap["live_sessions"][0]["started_at"], zone)
    assert (sessions[1][6], sessions[1][9], Decimal(sessions[1][10])) == ("yes", "2", Decimal("380"))
    assert [(r[0], r[2], Decimal(r[6])) for r in files["unpaid"][1:]] == [("o4", "pending", Decimal("55.5"))]
    assert files["unpaid"][1][1] == _local(snap["unpaid"][0]["ordered_at"], zone)
    sheet = list(
        openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert [(r[1], r[5]) for r in sheet[1:]] == [("p2", 355.5), ("p1", 200)]
    records = [r for r in audit_records(engine, tenant.id) if r["action"].startswith("live.")]
    assert sorted((r["action"], r["target_id"], r["details"]["rows"]) for r in records) == [
        ("live.channels.export", "csv", 2),
        ("live.hot_products.export", "csv", 2),
        ("live.hot_products.export", "xlsx", 2),
        ("live.live_sessions.export", "csv", 1),
        ("live.unpaid.export", "csv", 1),
    ]
