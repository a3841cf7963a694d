"""``ecomops query`` with and without a running server, and the HTTP endpoint behind it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from ecomops.cli import app
from ecomops.platform.context import TenantInfo
from ecomops.platform.server import running_server
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from ecomops.tenancy import service as tenancy
from tests.conftest import LiveServer, start_server

SEED = (
    "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total) VALUES "
    "('o1', 'paid', '2026-11-10 16:30:00+00', 'CNY', 100, 108.5), "
    "('o2', 'paid', '2026-11-11 01:00:00+00', 'CNY', 50, 50.25), "
    "('o3', 'refunded', '2026-11-11 02:00:00+00', 'CNY', 20, 20)"
)
BY_STATUS = "SELECT status, count(*) AS orders, sum(total) AS gmv FROM orders GROUP BY status ORDER BY status"
#: One per family of refusal; the full matrix runs against the service in test_warehouse_query.py.
REFUSED = [
    "INSERT INTO orders (order_id) VALUES ('x')",
    "UPDATE orders SET total = 0",
    "DELETE FROM orders",
    "DROP TABLE orders",
    "CREATE TABLE t AS SELECT 1",
    "COPY orders TO '/tmp/ecomops-leak.csv'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT 1; DROP TABLE orders",
    "PRAGMA database_list",
    "SET threads = 1",
    "INSTALL httpfs",
    "LOAD httpfs",
]


@pytest.fixture
def seeded(settings: Settings, tenant: TenantInfo) -> TenantInfo:
    """The `acme` tenant with three orders in its warehouse file (closed again, as after a CLI import)."""
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        with wh.write() as cur:
            cur.execute(SEED)
    finally:
        wh.close()
    return tenant


@pytest.fixture
def server(data_dir: Path, seeded: TenantInfo) -> Iterator[LiveServer]:
    live = start_server(data_dir)
    yield live
    live.stop()


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["query", *args], catch_exceptions=False)


def _check_outputs() -> None:
    as_json = run("--tenant", "acme", "--format", "json", BY_STATUS)
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert [c["name"] for c in payload["columns"]] == ["status", "orders", "gmv"]
    assert payload["columns"][2]["type"] == "DECIMAL(38,4)"
    assert payload["rows"] == [["paid", 2, "158.7500"], ["refunded", 1, "20.0000"]]
    assert payload["row_count"] == 2 and payload["truncated"] is False

    as_csv = run("--tenant", "acme", "-f", "csv", BY_STATUS)
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["status", "orders", "gmv"],
        ["paid", "2", "158.7500"],
        ["refunded", "1", "20.0000"],
    ]

    as_table = run("--tenant", "acme", BY_STATUS)
    assert as_table.exit_code == 0, as_table.output
    assert "158.7500" in as_table.stdout and "refunded" in as_table.stdout
    assert "2 row(s)" in as_table.stderr

    truncated = run("--tenant", "acme", "--limit", "2", "-f", "csv", "SELECT * FROM range(10)")
    assert truncated.stdout.splitlines() == ["range", "0", "1"]
    assert "truncated to 2 rows" in truncated.stderr


def _check_refusals() -> None:
    for sql in REFUSED:
        result = run("--tenant", "acme", sql)
        assert result.exit_code == 1, sql
        assert "refused" in result.stderr or "not allowed" in result.stderr, (sql, result.stderr)
        assert "Traceback" not in result.output
    check = run("--tenant", "acme", "-f", "json", "SELECT count(*) FROM orders")
    assert json.loads(check.stdout)["rows"] == [[3]]
    assert not Path("/tmp/ecomops-leak.csv").exists()


def test_cli_without_server_reads_the_file(settings: Settings, seeded: TenantInfo) -> None:
    assert running_server(settings) is None
    _check_outputs()
    _check_refusals()


def test_cli_with_running_server_goes_through_its_api(settings: Settings, server: LiveServer) -> None:
    # The server holds DuckDB's write lock, so answers can only have come through its API.
    assert running_server(settings) is not None
    _check_outputs()
    _check_refusals()


def test_cli_errors_for_unknown_tenant_and_missing_file(settings: Settings, engine: Engine) -> None:
    unknown = run("--tenant", "ghost", "SELECT 1")
    assert unknown.exit_code == 1 and "tenant 'ghost' not found" in unknown.stderr
    tenancy.create_tenant(engine, "fresh")  # created through the service: no warehouse file yet
    missing = run("--tenant", "fresh", "SELECT 1")
    assert missing.exit_code == 1 and "has no warehouse file yet" in " ".join(missing.stderr.split())


def test_api_auth_roles_and_validation(server: LiveServer, engine: Engine, seeded: TenantInfo) -> None:
    url = f"{server.url}/api/v1/t/acme/query"
    _, analyst = tenancy.create_api_key(engine, "acme", "analyst")
    _, viewer = tenancy.create_api_key(engine, "acme", "viewer")
    tenancy.create_tenant(engine, "globex")
    _, outsider = tenancy.create_api_key(engine, "globex", "owner")

    def post(body: object, key: str | None = analyst) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(url, json=body, headers=headers, timeout=30)

    ok = post({"sql": "SELECT order_id, total FROM orders ORDER BY 1", "limit": 2})
    assert ok.status_code == 200, ok.text
    assert ok.json()["rows"] == [["o1", "108.5000"], ["o2", "50.2500"]] and ok.json()["truncated"] is True
    assert post({"sql": "SELECT 1"}).json()["rows"] == [[1]]  # limit is optional

    refused = post({"sql": "DROP TABLE orders"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "query_refused"
    failed = post({"sql": "SELECT nope FROM orders"})
    assert failed.status_code == 400 and failed.json()["error"]["code"] == "query_failed"

    assert post({"sql": "SELECT 1"}, key=None).status_code == 401
    assert post({"sql": "SELECT 1"}, key="eco_live_bogus").status_code == 401
    assert post({"sql": "SELECT 1"}, key=viewer).status_code == 403
    assert post({"sql": "SELECT 1"}, key=outsider).status_code == 404  # other tenants stay unknowable

    for bad in (
        {"sql": "SELECT 1", "limit": "10"},
        {"sql": "SELECT 1", "limit": True},
        {"sql": "SELECT 1", "limit": 0},
        {"sql": "SELECT 1", "limit": 10**9},
        {"sql": ""},
        {"sql": 1},
        {"limit": 5},
        {"sql": "SELECT 1", "extra": True},
    ):
        response = post(bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "validation_failed"

    counted = post({"sql": "SELECT count(*) FROM orders"})
    assert counted.json()["rows"] == [[3]]
