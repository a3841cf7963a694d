"""Alert firings as CSV/.xlsx (API ``/alerts/events?format=`` and the alerts page): the same events as
the JSON list, the rule's name beside its id, times in the shop's zone; audited as ``alerts.export``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import openpyxl

from ecomops.audit.service import export as audit_records
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in


def test_firings_export_equals_the_events_list(server: InProcServer) -> None:
    engine = server.state.engine
    _, key = tenancy.create_api_key(engine, "acme", "operator", "alerts-export")
    rule = {"name": "gmv floor", "metric": "gmv", "condition": "below", "threshold": "1000000"}
    with httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as c:
        created = c.post("/alerts", json={**rule, "breakdown": "channel", "breakdown_value": "web"}).json()
        # The real clock: yesterday's web GMV (0 in this empty shop) is below the floor, so it fires.
        assert [r["status"] for r in c.post("/alerts/run", json={"rule_ids": [created["id"]]}).json()] == [
            "fired"
        ]
        events = c.get("/alerts/events").json()
        answer = c.get("/alerts/events", params={"format": "csv"})
        assert c.get("/alerts/events", params={"format": "txt"}).status_code == 422
    assert len(events) == 1 and answer.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    zone = ZoneInfo(server.tenant.timezone)
    fired = datetime.fromisoformat(events[0]["fired_at"]).astimezone(zone).replace(tzinfo=None, microsecond=0)
    assert rows[0][:3] == [f"Fired at ({server.tenant.timezone})", "Rule", "Rule ID"]
    assert rows[1][:5] == [
        fired.isoformat(sep=" "),
        "gmv floor",
        created["id"],
        "firing",
        events[0]["period"],
    ]
    assert rows[1][7] == events[0]["message"] and rows[1][8] == "no_webhook"
    add_member(engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test") as (client, _):
        page = client.get("/t/acme/alerts")
        assert 'data-export="xlsx"' in page.text
        xlsx = client.get("/t/acme/alerts", params={"format": "xlsx"})
        assert client.get("/t/acme/alerts", params={"format": "doc"}).status_code == 422
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    assert table[1][:3] == (fired, "gmv floor", created["id"])
    records = [r for r in audit_records(engine, server.tenant.id) if r["action"] == "alerts.export"]
    assert [(r["actor"].split(":")[0], r["target_id"], r["details"]["rows"]) for r in records] == [
        ("api_key", "csv", 1),
        ("user", "xlsx", 1),
    ]
