"""``ecomops import`` answers alike through a running server and here, and as the API does: a refused
upload is the API's 422 on every path, a finished import the same job (per-run fields aside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ecomops.imports import jobs
from ecomops.platform import tenants as tenancy_registry
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.imports.conftest import FIXTURES
from tests.one_path import cli_failure, cli_json, http_failure, serving

SHOPIFY = FIXTURES / "shopify_orders_export.csv"
#: What differs between two runs: the job id (and the reject file named after it), times, durations.
PER_RUN = {"id", "created_at", "finished_at", "rejects_url"}
PER_RUN_SUMMARY = {"import_id", "reject_file", "timings"}


def _stable(job: dict[str, Any]) -> dict[str, Any]:
    summary = {k: v for k, v in job["summary"].items() if k not in PER_RUN_SUMMARY}
    return {**{k: v for k, v in job.items() if k not in PER_RUN}, "summary": summary}


def _import(tenant: str, path: Path) -> list[str]:
    return ["import", "--tenant", tenant, "--preset", "shopify", "--json", str(path)]


def test_import_cli_answers_alike_here_through_the_server_and_over_http(
    data_dir: Path, settings: Settings, engine: Engine, tenant: TenantInfo, tmp_path: Path
) -> None:
    tenancy.create_tenant(engine, "beta", "Beta", "Asia/Shanghai", "CNY")  # same shop, fresh warehouse
    broken = tmp_path / "broken.csv"
    broken.write_text("Name,Email\n#1,a@b.c\n", encoding="utf-8")
    with serving(data_dir, "acme") as api:
        upload = [("files", ("broken.csv", broken.read_bytes(), "text/csv"))]
        over_http = http_failure(api.post("/imports", files=upload, data={"preset": "shopify"}))
        through_server = cli_failure(*_import("acme", broken))
        remote_job = cli_json(*_import("acme", SHOPIFY))
        polled = api.get(f"/imports/{remote_job['id']}").json()
    here = cli_failure(*_import("beta", broken))
    here_job = cli_json(*_import("beta", SHOPIFY))

    assert through_server == here == over_http
    assert over_http == (
        422,
        "validation_failed",
        "broken.csv: missing required column(s) Created at, Lineitem quantity, Lineitem price",
    )
    assert remote_job == polled  # the CLI prints the job the API answers
    assert _stable(remote_job) == _stable(here_job)
    assert (here_job["status"], here_job["summary"]["orders"], here_job["summary"]["rows_rejected"]) == (
        "succeeded",
        4,
        2,
    )
    # Refused uploads leave no job behind, on either path.
    beta = tenancy_registry.get_tenant(engine, "beta")
    assert [j.status for j in jobs.list_jobs(engine, tenant.id)] == ["succeeded"]
    assert [j.status for j in jobs.list_jobs(engine, beta.id)] == ["succeeded"]
