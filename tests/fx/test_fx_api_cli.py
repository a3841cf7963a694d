"""The FX table through the API (a real server) and ``ecomops fx``: validation with line and field,
all-or-nothing imports, permissions, audit."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit import service as audit
from ecomops.cli import app
from ecomops.fx import service
from ecomops.platform import commandline as cliutil
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer


def _client(server: InProcServer, role: str) -> httpx.Client:
    _, key = tenancy.create_api_key(server.state.engine, server.tenant.slug, role, f"fx-{role}")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/{server.tenant.slug}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def test_api_set_list_import_delete_and_audit(server: InProcServer) -> None:
    with _client(server, "viewer") as viewer, _client(server, "admin") as admin:
        body = {"currency": "gbp", "valid_from": "2010-12-01", "rate": "8.91230000"}
        denied = viewer.post("/fx-rates", json=body)
        assert denied.status_code == 403 and denied.json()["error"]["details"]["permission"] == "fx:write"
        created = admin.post("/fx-rates", json=body)
        assert created.status_code == 200, created.text
        assert created.json()["currency"] == "GBP" and created.json()["rate"] == "8.91230000"
        # The shop's own currency, a float, too many places, a zero rate: 422 naming the field.
        for bad, field in (
            ({**body, "currency": "CNY"}, "currency"),
            ({**body, "rate": "1.123456789"}, "rate"),
            ({**body, "rate": "0"}, "rate"),
            ({**body, "rate": "abc"}, "rate"),
        ):
            answer = admin.post("/fx-rates", json=bad)
            assert answer.status_code == 422, bad
            assert answer.json()["error"]["details"]["field"] == field
        assert admin.post("/fx-rates", json={**body, "rate": 8.9}).status_code == 422  # strict: no floats

        # One bad line imports nothing; every bad line is named with its field.
        bad_csv = (
            "currency,valid_from,rate\nUSD,2011-01-01,7.1\nUSD,2011-13-01,7.2\nEUR,2011-01-01,-1\n"
            "USD,2011-01-01,7\n"
        )
        answer = admin.post("/fx-rates/import", json={"csv": bad_csv})
        assert answer.status_code == 422
        errors = answer.json()["error"]["details"]["errors"]
        assert [(e["row"], e["field"]) for e in errors] == [(3, "valid_from"), (4, "rate"), (5, "valid_from")]
        assert "line 3, valid_from" in answer.json()["error"]["message"]
        header = admin.post("/fx-rates/import", json={"csv": "currency,rate\nUSD,7\n"})
        assert (
            header.status_code == 422 and "missing column 'valid_from'" in header.json()["error"]["message"]
        )
        assert [r["currency"] for r in viewer.get("/fx-rates").json()["rates"]] == ["GBP"]

        good = "Currency,Valid_From,Rate\nUSD,2011-01-01,7.1\nGBP,2010-12-01,8.9123\nGBP,2011-06-01,9.5\n"
        imported = admin.post("/fx-rates/import", json={"csv": good})
        assert imported.json() == {"rows": 3, "created": 2, "updated": 0, "unchanged": 1}
        table = viewer.get("/fx-rates").json()
        assert table["currency"] == "CNY"
        assert [(r["currency"], r["valid_from"], r["rate"]) for r in table["rates"]] == [
            ("GBP", "2010-12-01", "8.91230000"),
            ("GBP", "2011-06-01", "9.50000000"),
            ("USD", "2011-01-01", "7.10000000"),
        ]
        params = {"currency": "USD", "valid_from": "2011-01-01"}
        assert admin.delete("/fx-rates", params=params).status_code == 204
        assert admin.delete("/fx-rates", params=params).status_code == 404
    actions = [r["action"] for r in audit.export(server.state.engine, server.tenant.id, action="fx.*")]
    assert actions == ["fx.rate_set", "fx.rates_imported", "fx.rate_deleted"]


def _cli(*args: str) -> Any:
    cliutil.console.width = 300
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    return result


def test_cli_set_import_list(engine: Engine, settings: Settings, tenant: TenantInfo, tmp_path: Path) -> None:
    assert _cli("fx", "set", "--tenant", "acme", "GBP", "8.5", "--from", "2010-12-01").exit_code == 0
    path = tmp_path / "rates.csv"
    path.write_text("currency,valid_from,rate\nGBP,2011-01-01,8.6\nGBP,2011-02-01,x\n", encoding="utf-8")
    bad = _cli("fx", "import", "--tenant", "acme", str(path))
    assert bad.exit_code == 1 and "line 3, rate" in bad.output
    path.write_text("currency,valid_from,rate\nGBP,2011-01-01,8.6\n", encoding="utf-8")
    assert "1 created" in _cli("fx", "import", "--tenant", "acme", str(path)).output
    listed = json.loads(_cli("fx", "list", "--tenant", "acme", "--json").output)
    assert [(r["valid_from"], r["rate"]) for r in listed["rates"]] == [
        ("2010-12-01", "8.50000000"),
        ("2011-01-01", "8.60000000"),
    ]
    assert service.rates_for(engine, tenant.id)[1].rate == Decimal("8.6")
