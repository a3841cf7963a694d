"""``ecomops demo seed`` on its own, and through a running server's ``POST /api/v1/t/{tenant}/demo/seed``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import Engine
from typer.testing import CliRunner

from ecomops.audit.service import export
from ecomops.cli import app
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.tenancy import service as tenancy
from tests.conftest import LiveServer

SMALL = ["--days", "30", "--customers", "600", "--seed", "5", "--end-date", "2026-06-30"]


def test_cli_seeds_directly_and_prints_json(settings: Settings, tenant: TenantInfo, tmp_path: Path) -> None:
    manifest = tmp_path / "truth.json"
    result = CliRunner().invoke(
        app,
        ["demo", "seed", "--tenant", tenant.slug, *SMALL, "--manifest", str(manifest), "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["manifest_path"] == str(manifest)  # this process seeded and wrote it
    assert out["manifest"]["row_counts"] == out["row_counts"]
    assert out["row_counts"]["customers"] == 600
    assert out["params"] == {
        "days": 30,
        "customers": 600,
        "seed": 5,
        "end_date": "2026-06-30",
        "start_date": "2026-06-01",
    }
    assert json.loads(manifest.read_text())["row_counts"] == out["row_counts"]
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        assert wh.query("SELECT count(*) FROM orders")[0][0] == out["row_counts"]["orders"]
    finally:
        wh.close()


def test_cli_reports_bad_input_and_unknown_tenant(settings: Settings, tenant: TenantInfo) -> None:
    runner = CliRunner()
    bad_date = runner.invoke(app, ["demo", "seed", "--tenant", tenant.slug, "--end-date", "30/06/2026"])
    assert bad_date.exit_code == 1 and "YYYY-MM-DD" in bad_date.output
    too_short = runner.invoke(app, ["demo", "seed", "--tenant", tenant.slug, "--days", "3"])
    assert too_short.exit_code == 1 and "days must be between" in too_short.output
    missing = runner.invoke(app, ["demo", "seed", "--tenant", "nope", *SMALL])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_api_route_and_cli_through_the_running_server(
    live_server: LiveServer, tenant: TenantInfo, engine: Engine
) -> None:
    url = f"{live_server.url}/api/v1/t/{tenant.slug}/demo/seed"
    auth = {"Authorization": f"Bearer {live_server.token}"}
    assert httpx.post(url, json={}, timeout=30).status_code == 401
    _, analyst_key = tenancy.create_api_key(engine, tenant.slug, "analyst")
    forbidden = httpx.post(url, json={}, headers={"Authorization": f"Bearer {analyst_key}"}, timeout=30)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert httpx.post(url, json={"days": 3}, headers=auth, timeout=30).status_code == 422
    assert httpx.post(url, json={"days": "30"}, headers=auth, timeout=30).status_code == 422  # strict ints
    assert httpx.post(url, json={"days": 30, "bogus": 1}, headers=auth, timeout=30).status_code == 422

    body = {"days": 30, "customers": 600, "seed": 5, "end_date": "2026-06-30"}
    response = httpx.post(url, json=body, headers=auth, timeout=300)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["row_counts"]["customers"] == 600
    assert data["manifest"]["params"]["seed"] == 5
    assert Path(data["manifest_path"]) == live_server.data_dir / "demo" / f"{tenant.slug}-manifest.json"

    # With the server up, the CLI must not open the DuckDB file: it goes through the route.
    result = CliRunner().invoke(
        app, ["demo", "seed", "--tenant", tenant.slug, *SMALL, "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["row_counts"] == data["row_counts"], "same parameters, same shop"
    # The server seeded both times (a seed here would be audited as the OS user, cli:…).
    seeded_by = [r["actor"] for r in export(engine, tenant.id) if r["action"] == "demo.seed"]
    assert seeded_by == ["local-cli", "local-cli"]
