"""``POST …/query`` with ``"format": "csv"|"xlsx"``: the same rows as the JSON answer, headed by the
result's column names, numbers as numbers, times in the shop's zone; a refused statement is a 400 (no
half file, no audit record); each download is audited as ``query.export`` with its statement."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import openpyxl

from ecomops.audit.service import export as audit_records
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer

SQL = (
    "SELECT status, count(*) AS n, sum(total) AS gmv, max(ordered_at) AS last FROM orders "
    "GROUP BY 1 ORDER BY 1"
)
ORDERS = (
    ("o1", "paid", "10.5000", datetime(2026, 11, 10, 17, 30, tzinfo=UTC)),
    ("o2", "paid", "20.2500", datetime(2026, 11, 11, 1, 0, tzinfo=UTC)),
    ("o3", "=refunded", "5.0000", datetime(2026, 11, 9, 8, 0, tzinfo=UTC)),
)


def test_query_result_as_csv_and_xlsx(server: InProcServer) -> None:
    engine, tenant = server.state.engine, server.tenant
    with server.state.warehouses.get(tenant.id).write() as cur:
        for oid, status, total, at in ORDERS:
            cur.execute(
                "INSERT INTO orders (order_id, channel, status, ordered_at, currency, subtotal, total, "
                "items_count) VALUES (?, 'web', ?, ?, 'CNY', ?, ?, 1)",
                [oid, status, at, total, total],
            )
    _, key = tenancy.create_api_key(engine, "acme", "analyst", "query-export")
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as api:
        answer = api.post("/query", json={"sql": SQL}).json()
        as_csv = api.post("/query", json={"sql": SQL, "format": "csv"})
        as_xlsx = api.post("/query", json={"sql": SQL, "format": "xlsx", "limit": 1})
        refused = api.post("/query", json={"sql": "COPY orders TO '/tmp/x.csv'", "format": "csv"})
        assert api.post("/query", json={"sql": SQL, "format": "pdf"}).status_code == 422
    assert refused.status_code == 400
    zone = ZoneInfo(tenant.timezone)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [c["name"] for c in answer["columns"]] == ["status", "n", "gmv", "last"]
    assert rows[0] == ["status", "n", "gmv", f"last ({tenant.timezone})"]  # the zone the times are in

    def local(text: str) -> str:
        return datetime.fromisoformat(text).astimezone(zone).replace(tzinfo=None).isoformat(sep=" ")

    assert rows[1:] == [
        ["'" + s if s.startswith("=") else s, str(n), str(Decimal(g)), local(t)]
        for s, n, g, t in answer["rows"]
    ]
    # Against the facts written above, by hand: two paid orders, one "=refunded" (kept as text).
    assert rows[1:] == [
        ["'=refunded", "1", "5.0000", "2026-11-09 16:00:00"],
        ["paid", "2", "30.7500", "2026-11-11 09:00:00"],
    ]
    sheet = list(
        openpyxl.load_workbook(io.BytesIO(as_xlsx.content), read_only=True)
        .worksheets[0]
        .iter_rows(values_only=True)
    )
    assert sheet == [
        ("status", "n", "gmv", f"last ({tenant.timezone})"),
        ("=refunded", 1, 5, datetime(2026, 11, 9, 16, 0)),
    ]
    records = [r for r in audit_records(engine, tenant.id) if r["action"] == "query.export"]
    assert [
        (r["target_id"], r["details"]["rows"], r["details"]["sql"], r["details"]["truncated_by"])
        for r in records
    ] == [
        ("csv", 2, SQL, None),
        ("xlsx", 1, SQL, "rows"),
    ]
