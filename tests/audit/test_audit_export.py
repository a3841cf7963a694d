"""The audit log as CSV/.xlsx: every matching record newest first (keyset chunks), the export itself
recorded first, times in the shop's zone; owners and admins only, like the page."""

from __future__ import annotations

import csv
import io
import json
from zoneinfo import ZoneInfo

import httpx
import openpyxl
from sqlalchemy import Engine

from ecomops.audit import service
from ecomops.platform.audit import record_action
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in


def test_audit_exports_equal_the_log(server: InProcServer, engine: Engine) -> None:
    tid = server.tenant.id
    for i in range(25):
        record_action(engine, tid, "test.thing", "thing", f"t{i}", details={"n": i, "名": "值"})
    # Keyset chunks give the same records as one read, newest first.
    chunked = list(service.iter_records(engine, tid, since=None, until=None, action="test.*", chunk=4))
    assert [r["seq"] for r in chunked] == [
        r["seq"] for r in service.export(engine, tid, action="test.*", newest_first=True)
    ]
    add_member(engine, "olga@acme.test", "owner")
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        denied = client.get("/t/acme/settings/audit", params={"format": "csv"})
        assert denied.status_code == 403 and "audit:read" in denied.text
    with signed_in(server, "olga@acme.test") as (client, _):
        page = client.get("/t/acme/settings/audit", params={"action": "test.*"})
        assert 'data-export="csv"' in page.text
        answer = client.get("/t/acme/settings/audit", params={"action": "test.*", "format": "csv"})
        xlsx = client.get("/t/acme/settings/audit", params={"action": "test.*", "format": "xlsx"})
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert answer.content.startswith("\ufeff".encode())
    assert rows[0][:3] == ["Sequence", f"Time ({server.tenant.timezone})", "Actor"]
    expected = service.export(engine, tid, action="test.*", newest_first=True)
    assert [int(r[0]) for r in rows[1:]] == [r["seq"] for r in expected] and len(expected) == 25
    assert [json.loads(r[8]) for r in rows[1:]] == [r["details"] for r in expected]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(min_row=2, values_only=True))
    zone = ZoneInfo(server.tenant.timezone)
    newest = service.iter_records(engine, tid, since=None, until=None, action="test.*")
    first = next(newest)
    assert table[0][0] == first["seq"] and table[0][1] == first["at"].replace(
        tzinfo=first["at"].tzinfo or ZoneInfo("UTC")
    ).astimezone(zone).replace(tzinfo=None, microsecond=0)
    exports = service.export(engine, tid, action="audit.export")
    assert [(r["actor"], r["target_id"], r["details"]["rows"]) for r in exports] == [
        ("user:olga@acme.test", "csv", 25),
        ("user:olga@acme.test", "xlsx", 25),
    ]
    _, key = tenancy.create_api_key(engine, "acme", "admin", "auditor")
    api = httpx.get(
        f"{server.url}/api/v1/t/acme/audit",
        params={"action": "audit.export", "format": "csv"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    # The API's own export is recorded before the rows are read, so it is in its own file.
    assert (
        api.status_code == 200
        and len(list(csv.reader(io.StringIO(api.content.decode("utf-8-sig"))))) == 1 + 3
    )
