"""CSV/.xlsx of the settings lists (exchange rates, members, API keys): the API's ``?format=`` and the
page's export links give the rows the JSON list and the page show, gated like them, audited as
``fx.export``, ``members.export`` and ``keys.export``."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export as audit_records
from ecomops.cli import app
from ecomops.fx import service as fx
from ecomops.platform.context import TenantInfo
from ecomops.security import accounts
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.console.conftest import add_member, signed_in


def _api(server: InProcServer, role: str) -> httpx.Client:
    _, key = tenancy.create_api_key(server.state.engine, "acme", role, f"export-{role}")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _csv(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv") and answer.content.startswith(
        b"\xef\xbb\xbf"
    )
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _xlsx(answer: httpx.Response) -> list[tuple[Any, ...]]:
    assert answer.status_code == 200, answer.text
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True).worksheets[0]
    return list(sheet.iter_rows(values_only=True))


def _local(text: str | None, zone: str) -> str:
    if text is None:
        return ""
    return (
        datetime.fromisoformat(text)
        .astimezone(ZoneInfo(zone))
        .replace(tzinfo=None, microsecond=0)
        .isoformat(sep=" ")
    )


def _exports(server: InProcServer, table: str) -> list[tuple[str, str, int]]:
    records = audit_records(server.state.engine, server.tenant.id)
    return [
        (r["actor"].split(":")[0], r["target_id"], r["details"]["rows"])
        for r in records
        if r["action"] == f"{table}.export"
    ]


def test_fx_rates_export_equals_the_list(server: InProcServer) -> None:
    zone = server.tenant.timezone
    with _api(server, "admin") as admin, _api(server, "viewer") as viewer:
        imported = admin.post(
            "/fx-rates/import",
            json={"csv": "currency,valid_from,rate\nUSD,2011-01-01,6.6\nGBP,2010-12-01,10.2\n"},
        )
        assert imported.status_code == 200, imported.text
        assert (
            admin.post(
                "/fx-rates", json={"currency": "EUR", "valid_from": "2011-02-01", "rate": "8.91"}
            ).status_code
            == 200
        )
        listed = viewer.get("/fx-rates").json()["rates"]
        rows = _csv(viewer.get("/fx-rates", params={"format": "csv"}))
        assert viewer.get("/fx-rates", params={"format": "pdf"}).status_code == 422
    assert rows[0] == ["Currency", "Valid from", "Rate", "Source", "Changed by", f"Changed ({zone})"]
    assert rows[1:] == [
        [
            r["currency"],
            r["valid_from"],
            str(Decimal(r["rate"])),
            r["source"],
            r["updated_by"],
            _local(r["updated_at"], zone),
        ]
        for r in listed
    ]
    assert [r[0] for r in rows[1:]] == ["EUR", "GBP", "USD"]
    add_member(server.state.engine, "ana@acme.test", "analyst")
    with signed_in(server, "ana@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/settings/fx")
        assert 'href="/t/acme/settings/fx?format=xlsx"' in page.text
        sheet = _xlsx(client.get("/t/acme/settings/fx", params={"format": "xlsx"}))
        assert client.get("/t/acme/settings/fx", params={"format": "doc"}).status_code == 422
    assert [(c, d.date().isoformat(), r) for c, d, r, *_ in sheet[1:]] == [
        (r["currency"], r["valid_from"], float(r["rate"])) for r in listed
    ]
    assert _exports(server, "fx") == [("api_key", "csv", 3), ("user", "xlsx", 3)]


def test_members_export_equals_the_list_and_is_for_member_managers(server: InProcServer) -> None:
    engine = server.state.engine
    add_member(engine, "ada@acme.test", "admin")
    add_member(engine, "=cmd@acme.test", "viewer")  # a spreadsheet formula must stay text
    with _api(server, "admin") as admin, _api(server, "analyst") as analyst:
        listed = admin.get("/members").json()
        rows = _csv(admin.get("/members", params={"format": "csv"}))
        denied = analyst.get("/members", params={"format": "csv"})
    assert denied.status_code == 403 and denied.json()["error"]["details"]["permission"] == "members:manage"
    assert rows[0] == ["Email", "Role", "User ID"]
    expected = [[m["email"], m["role"], m["user_id"]] for m in listed]
    expected = [["'" + e if e.startswith("=") else e, r, u] for e, r, u in expected]
    assert rows[1:] == expected and len(rows) == 3
    with signed_in(server, "ada@acme.test", **{"accept-language": "en"}) as (client, _):
        page = client.get("/t/acme/settings/members")
        assert 'href="/t/acme/settings/members?format=csv"' in page.text
        sheet = _xlsx(client.get("/t/acme/settings/members", params={"format": "xlsx"}))
    assert sheet[1:] == [(m["email"], m["role"], m["user_id"]) for m in listed]
    add_member(engine, "vic@acme.test", "viewer")
    with signed_in(server, "vic@acme.test") as (client, _):
        assert client.get("/t/acme/settings/members", params={"format": "csv"}).status_code == 403
    assert _exports(server, "members") == [("api_key", "csv", 2), ("user", "xlsx", 2)]


def test_api_keys_export_has_prefixes_not_secrets(server: InProcServer) -> None:
    zone = server.tenant.timezone
    engine = server.state.engine
    info, secret = tenancy.create_api_key(engine, "acme", "viewer", "revoked one")
    tenancy.revoke_api_key(engine, "acme", info.id)
    with _api(server, "admin") as admin:
        listed = admin.get("/keys").json()
        answer = admin.get("/keys", params={"format": "csv"})
    rows = _csv(answer)
    assert secret not in answer.text
    assert rows[0] == [
        "Name",
        "Role",
        "Key",
        f"Created ({zone})",
        f"Expires ({zone})",
        f"Last used ({zone})",
        f"Revoked ({zone})",
        "Key ID",
    ]
    assert rows[1:] == [
        [
            k["name"],
            k["role"],
            k["key_prefix"],
            _local(k["created_at"], zone),
            _local(k["expires_at"], zone),
            _local(k["last_used_at"], zone),
            _local(k["revoked_at"], zone),
            k["id"],
        ]
        for k in listed
    ]
    assert rows[1][0] == "revoked one" and rows[1][6] != ""
    add_member(engine, "ada@acme.test", "admin")
    with signed_in(server, "ada@acme.test", **{"accept-language": "en"}) as (client, _):
        assert 'href="/t/acme/settings/keys?format=xlsx"' in client.get("/t/acme/settings/keys").text
        sheet = _xlsx(client.get("/t/acme/settings/keys", params={"format": "xlsx"}))
    assert [r[0] for r in sheet[1:]] == [k["name"] for k in listed]
    assert _exports(server, "keys") == [("api_key", "csv", 2), ("user", "xlsx", 2)]


def test_cli_writes_the_same_files(engine: Engine, tenant: TenantInfo, tmp_path: Path) -> None:
    """``ecomops fx list|member list|apikey list --format``: the same writer and use case (no server here),
    audited with ``via`` cli."""
    fx.set_rate(engine, tenant, "USD", "2011-01-01", "6.6")
    tenancy.create_api_key(engine, "acme", "viewer", "=sum(A1)")
    runner = CliRunner()
    answer = runner.invoke(app, ["fx", "list", "--tenant", "acme", "--format", "csv"])
    assert answer.exit_code == 0, answer.output
    rows = list(csv.reader(io.StringIO(answer.stdout.lstrip("\ufeff"))))
    assert rows[1][:3] == ["USD", "2011-01-01", "6.60000000"]
    keys = runner.invoke(app, ["apikey", "list", "--tenant", "acme", "--format", "csv"])
    assert keys.exit_code == 0, keys.output
    assert list(csv.reader(io.StringIO(keys.stdout.lstrip("\ufeff"))))[1][0] == "'=sum(A1)"
    refused = runner.invoke(app, ["member", "list", "--tenant", "acme", "--format", "xlsx"])
    assert refused.exit_code != 0 and "--output" in refused.output
    out = tmp_path / "members.xlsx"
    written = runner.invoke(
        app,
        ["member", "list", "--tenant", "acme", "--format", "xlsx", "--output", str(out), "--lang", "zh_CN"],
    )
    assert written.exit_code == 0, written.output
    sheet = list(openpyxl.load_workbook(out, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert sheet[0] == ("邮箱", "角色", "用户 ID") and len(sheet) == 1 + len(
        accounts.list_members(engine, "acme")
    )
    actions = [
        (r["action"], r["details"]["via"])
        for r in audit_records(engine, tenant.id)
        if r["action"].endswith(".export")
    ]
    assert actions == [("fx.export", "cli"), ("keys.export", "cli"), ("members.export", "cli")]
