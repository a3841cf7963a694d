"""``ecomops import``: direct mode (no server) in-process, and upload mode against a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from ecomops.cli import app
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import open_warehouse
from tests.conftest import LiveServer
from tests.imports.conftest import FIXTURES
from tests.timing import DEADLINE

SHOPIFY = FIXTURES / "shopify_orders_export.csv"


def _flat(text: str) -> str:
    """Rich wraps long error lines; compare with the wrapping undone."""
    return " ".join(text.split())


SUMMARY_KEYS = {
    "rows_read",
    "rows_loaded",
    "rows_duplicate",
    "rows_rejected",
    "orders",
    "customers",
    "reject_file",
}


def test_direct_json(settings: Settings, tenant: TenantInfo) -> None:
    result = CliRunner().invoke(
        app, ["import", "--tenant", "acme", "--preset", "shopify", "--json", str(SHOPIFY)]
    )
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)  # the finished job, as the API answers it
    assert (
        job["status"] == "succeeded" and job["rejects_url"] == f"/api/v1/t/acme/imports/{job['id']}/rejects"
    )
    summary = job["summary"]
    assert summary.keys() >= SUMMARY_KEYS
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"], summary["orders"]) == (
        7,
        5,
        2,
        4,
    )
    assert Path(summary["reject_file"]).read_text(encoding="utf-8").startswith("file,row,column,value,reason")
    warehouse = open_warehouse(settings.warehouse_dir(), tenant.id)
    try:
        assert warehouse.query("SELECT count(*) FROM orders") == [(4,)]
    finally:
        warehouse.close()

    again = json.loads(
        CliRunner()
        .invoke(app, ["import", "--tenant", "acme", "--preset", "shopify", "--json", str(SHOPIFY)])
        .stdout
    )["summary"]
    assert (again["rows_loaded"], again["rows_duplicate"], again["orders"]) == (0, 5, 0)


def test_direct_table_output_and_errors(settings: Settings, tenant: TenantInfo, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "import",
            "--tenant",
            "acme",
            "--preset",
            "generic",
            "--mapping",
            str(FIXTURES / "generic_mapping.yaml"),
            str(FIXTURES / "generic_orders.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "generic_orders.csv" in result.stdout and "2 rows rejected" in result.stdout

    broken = tmp_path / "broken.csv"
    broken.write_text("Name,Email\n#1,a@b.c\n", encoding="utf-8")
    failed = CliRunner().invoke(app, ["import", "--tenant", "acme", "--preset", "shopify", str(broken)])
    assert failed.exit_code == 1
    assert "broken.csv: missing required column(s) Created at, Lineitem quantity, Lineitem price" in _flat(
        failed.stderr
    )
    unknown = CliRunner().invoke(app, ["import", "--tenant", "nobody", "--preset", "shopify", str(SHOPIFY)])
    assert unknown.exit_code == 1 and "tenant 'nobody' not found" in _flat(unknown.stderr)


def test_cli_uploads_to_a_running_server(live_server: LiveServer) -> None:
    """The server owns the warehouse file: the CLI must go through its API, not open DuckDB."""
    env = {**os.environ, "ECOMOPS_DATA_DIR": str(live_server.data_dir)}
    env.pop("ECOMOPS_DATABASE_URL", None)
    command = [
        sys.executable,
        "-m",
        "ecomops.cli",
        "import",
        "--tenant",
        "acme",
        "--preset",
        "olist",
        "--json",
        *(
            str(FIXTURES / n)
            for n in (
                "olist_orders_dataset.csv",
                "olist_customers_dataset.csv",
                "olist_order_items_dataset.csv",
            )
        ),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert (summary["orders"], summary["customers"], summary["rows_rejected"]) == (4, 4, 4)
    jobs = httpx.get(
        f"{live_server.url}/api/v1/t/acme/imports",
        headers={"Authorization": f"Bearer {live_server.token}"},
        timeout=DEADLINE,
    ).json()
    assert [(j["id"], j["status"]) for j in jobs] == [(summary["import_id"], "succeeded")]

    failed = subprocess.run(
        [*command[:7], "online-retail-ii", str(FIXTURES / "generic_orders.csv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "generic_orders.csv: missing required column(s) Invoice" in _flat(failed.stderr)
