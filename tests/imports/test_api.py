"""The imports API on a real ``ecomops serve`` process: upload, follow, download rejects, auth."""

from __future__ import annotations

import csv
import io
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.imports import jobs
from ecomops.imports.execution import JobSpec, uploads_dir
from ecomops.imports.options import ImportOptions, InputFile
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.conftest import LiveServer, start_server
from tests.datasets import ONLINE_RETAIL_YEAR1
from tests.imports.conftest import FIXTURES
from tests.imports.test_rejects import BAD_ROWS, HEADER
from tests.timing import DEADLINE

OLIST = [
    FIXTURES / n
    for n in (
        "olist_orders_dataset.csv",
        "olist_order_items_dataset.csv",
        "olist_customers_dataset.csv",
        "olist_order_reviews_dataset.csv",
    )
]


def _auth(server: LiveServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def _upload(server: LiveServer, paths: list[Path], preset: str, **form: str) -> httpx.Response:
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in paths]
    return httpx.post(
        f"{server.url}/api/v1/t/acme/imports",
        headers=_auth(server),
        files=files,
        data={"preset": preset, **form},
        timeout=DEADLINE,
    )


def _wait(server: LiveServer, job_id: str, timeout: float = 2 * DEADLINE) -> dict[str, Any]:
    """The job once it has finished; ``timeout`` only bounds a failure (a job that never ends)."""
    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(
            f"{server.url}/api/v1/t/acme/imports/{job_id}", headers=_auth(server), timeout=DEADLINE
        ).json()
        seen.add(job["status"])
        assert 0 <= job["percent"] <= 100
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import {job_id} still not finished; saw {seen}")


def test_upload_poll_and_download_rejects(live_server: LiveServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([HEADER, *BAD_ROWS]) + "\n", encoding="utf-8")
    response = _upload(live_server, [bad], "online-retail-ii")
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["status"] in ("queued", "running") and created["files"] == ["bad.csv"]

    job = _wait(live_server, created["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["percent"] == 100.0 and job["bytes_done"] == job["bytes_total"] == bad.stat().st_size
    summary = job["summary"]
    assert (summary["rows_read"], summary["rows_loaded"], summary["rows_rejected"], summary["orders"]) == (
        11,
        3,
        8,
        3,
    )

    rejects = httpx.get(live_server.url + job["rejects_url"], headers=_auth(live_server), timeout=DEADLINE)
    assert rejects.status_code == 200 and rejects.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(rejects.text)))
    assert rows[0] == {
        "file": "bad.csv",
        "row": "2",
        "column": "Quantity",
        "value": "twelve",
        "reason": "not a whole number",
    }
    assert len({r["row"] for r in rows}) == 8

    listed = httpx.get(
        f"{live_server.url}/api/v1/t/acme/imports", headers=_auth(live_server), timeout=DEADLINE
    ).json()
    assert [j["id"] for j in listed] == [job["id"]]
    # Uploads may hold personal data: gone once the job ends; the reject file stays for download.
    job_dir = live_server.data_dir / "imports" / job["id"]
    assert not (job_dir / "uploads").exists() and (job_dir / "rejects.csv").exists()


def test_several_files_and_reimport(live_server: LiveServer) -> None:
    first = _wait(live_server, _upload(live_server, OLIST, "olist").json()["id"])
    assert first["status"] == "succeeded", first["error"]
    assert (first["summary"]["orders"], first["summary"]["customers"]) == (4, 4)
    again = _wait(live_server, _upload(live_server, OLIST, "olist").json()["id"])
    assert (again["summary"]["rows_loaded"], again["summary"]["orders"]) == (0, 0)


def test_generic_with_mapping_upload(live_server: LiveServer) -> None:
    files = [
        ("files", ("generic_orders.csv", (FIXTURES / "generic_orders.csv").read_bytes(), "text/csv")),
        ("mapping", ("map.yaml", (FIXTURES / "generic_mapping.yaml").read_bytes(), "application/yaml")),
    ]
    response = httpx.post(
        f"{live_server.url}/api/v1/t/acme/imports",
        headers=_auth(live_server),
        files=files,
        data={"preset": "generic"},
        timeout=DEADLINE,
    )
    job = _wait(live_server, response.json()["id"])
    assert job["summary"]["rows_loaded"] == 4


def test_unusable_uploads_are_refused_before_a_job_exists(live_server: LiveServer, tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("Invoice,StockCode\n1,2\n", encoding="utf-8")
    response = _upload(live_server, [broken], "online-retail-ii")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == "broken.csv: missing required column(s) Quantity, InvoiceDate, Price"
    assert (
        _upload(live_server, [broken], "nope").json()["error"]["message"].startswith("unknown preset 'nope'")
    )
    bad_map = httpx.post(
        f"{live_server.url}/api/v1/t/acme/imports",
        headers=_auth(live_server),
        files=[
            ("files", ("a.csv", b"a\n1\n", "text/csv")),
            ("mapping", ("m.yaml", b"columns: {order_id: a}", "application/yaml")),
        ],
        data={"preset": "generic"},
        timeout=DEADLINE,
    )
    assert bad_map.status_code == 422
    assert bad_map.json()["error"]["message"].startswith("mapping file: columns.ordered_at: Field required")
    assert (
        httpx.get(
            f"{live_server.url}/api/v1/t/acme/imports", headers=_auth(live_server), timeout=DEADLINE
        ).json()
        == []
    )
    assert list((live_server.data_dir / "imports").iterdir()) == []


def test_authentication_and_roles(live_server: LiveServer, engine: Engine) -> None:
    path = FIXTURES / "generic_orders.csv"
    url = f"{live_server.url}/api/v1/t/acme/imports"
    no_auth = httpx.post(
        url,
        files=[("files", (path.name, path.read_bytes()))],
        data={"preset": "online-retail-ii"},
        timeout=DEADLINE,
    )
    assert no_auth.status_code == 401 and no_auth.json()["error"]["code"] == "unauthorized"
    assert httpx.get(url, timeout=DEADLINE).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=DEADLINE).status_code == 401

    _, analyst = tenancy.create_api_key(engine, "acme", "analyst", "reports")
    refused = httpx.post(
        url,
        headers={"Authorization": f"Bearer {analyst}"},
        files=[("files", (path.name, path.read_bytes()))],
        data={"preset": "online-retail-ii"},
        timeout=DEADLINE,
    )
    assert refused.status_code == 403
    assert httpx.get(url, headers={"Authorization": f"Bearer {analyst}"}, timeout=DEADLINE).status_code == 200
    missing = httpx.get(f"{url}/imp_doesnotexist", headers=_auth(live_server), timeout=DEADLINE)
    assert missing.status_code == 404
    assert (
        httpx.get(f"{url}/imp_doesnotexist/rejects", headers=_auth(live_server), timeout=DEADLINE).status_code
        == 404
    )


@pytest.mark.slow
def test_full_online_retail_file_through_the_api(live_server: LiveServer) -> None:
    job = _wait(
        live_server,
        _upload(live_server, [ONLINE_RETAIL_YEAR1], "online-retail-ii").json()["id"],
        timeout=10 * DEADLINE,
    )
    assert job["status"] == "succeeded", job["error"]
    summary = job["summary"]
    assert summary["rows_read"] == 525_461  # data/README.md
    assert summary["rows_loaded"] + summary["rows_rejected"] == summary["rows_read"]
    assert summary["files"][0]["sha256"] == "07a5be6c929a83b299c76ee0ccae75cf2adf5abda4365b55aacdecb6e4a0050c"


def test_jobs_left_by_a_stopped_server_are_resumed_or_failed(
    settings: Settings, engine: Engine, tenant: TenantInfo
) -> None:
    """A queued job runs after a restart; one cut off while running is failed (nothing of it was applied)."""
    specs = {}
    for name in ("queued", "running"):
        job_id = jobs.new_job_id()
        upload = uploads_dir(settings, job_id) / "generic_orders.csv"
        upload.parent.mkdir(parents=True)
        shutil.copy(FIXTURES / "generic_orders.csv", upload)
        mapping = (FIXTURES / "generic_mapping.yaml").read_text(encoding="utf-8")
        JobSpec(
            job_id,
            tenant.slug,
            tenant.id,
            ImportOptions("generic", mapping=mapping),
            [InputFile(upload, upload.name)],
        ).save(settings)
        jobs.create_job(engine, tenant.id, "generic", [upload.name], upload.stat().st_size, job_id)
        specs[name] = job_id
    jobs.mark_running(engine, specs["running"])

    server = start_server(settings.resolved_data_dir)
    try:
        resumed = _wait(server, specs["queued"])
        assert resumed["status"] == "succeeded" and resumed["summary"]["rows_loaded"] == 4
        failed = httpx.get(
            f"{server.url}/api/v1/t/acme/imports/{specs['running']}", headers=_auth(server), timeout=DEADLINE
        ).json()
        assert failed["status"] == "failed" and "server stopped during this import" in failed["error"]
        assert not uploads_dir(settings, specs["running"]).exists()
    finally:
        server.stop()
