"""``ecomops doctor``: every check passes on a healthy install and names the problem when not."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from alembic import command
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from ecomops.cli import app
from ecomops.ops import doctor
from ecomops.platform.context import TenantInfo
from ecomops.platform.server import ServerInfo
from ecomops.platform.settings import Settings, get_settings
from ecomops.platform.store.db import engine_for, make_engine
from ecomops.platform.store.migrate import alembic_config, upgrade
from ecomops.platform.warehouse.connection import open_warehouse, warehouse_path
from ecomops.tenancy import service as tenancy
from tests.conftest import LiveServer, free_port
from tests.timing import DEADLINE, wait_until


def run_doctor() -> tuple[Result, dict[str, Any]]:
    result = CliRunner().invoke(app, ["doctor", "--json"], catch_exceptions=False)
    return result, json.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def with_warehouse(settings: Settings, tenant: TenantInfo) -> None:
    open_warehouse(settings.warehouse_dir(), tenant.id).close()


def test_fresh_data_dir_fails_on_the_uninitialised_store(settings: Settings) -> None:
    result, report = run_doctor()
    assert result.exit_code == 1 and report["ok"] is False
    checks = by_name(report)
    assert checks["store"]["status"] == "fail" and "not initialised" in checks["store"]["detail"]
    assert checks["warehouses"]["status"] == "skip"
    for name in ("python", "packages", "sqlglot", "data dir", "disk"):
        assert checks[name]["status"] == "ok", checks[name]


def test_healthy_install_passes(settings: Settings, tenant: TenantInfo) -> None:
    with_warehouse(settings, tenant)
    result, report = run_doctor()
    assert result.exit_code == 0, result.output
    checks = by_name(report)
    assert {n: c["status"] for n, c in checks.items()} == {
        "python": "ok",
        "packages": "ok",
        "sqlglot": "ok",
        "data dir": "ok",
        "disk": "ok",
        "store": "ok",
        "postgresql": "skip",
        "tenant isolation": "skip",
        "redis": "skip",
        "server": "skip",
        "server metrics": "skip",
        "ingest log": "skip",
        "warehouse acme": "ok",
    }
    assert checks["store"]["data"]["journal_mode"] == "wal"
    assert checks["warehouse acme"]["data"]["via"] == "file"
    assert checks["sqlglot"]["data"]["version"] == "30.17.0"
    assert checks["packages"]["data"]["pinned"]["sqlglot"] == "30.17.0"
    assert not list(settings.resolved_data_dir.glob(".doctor-*"))  # the write probe cleans up

    table = CliRunner().invoke(app, ["doctor"], catch_exceptions=False)
    assert table.exit_code == 0 and "all checks passed" in table.stdout and "warehouse acme" in table.stdout


def test_missing_warehouse_file_is_a_warning(settings: Settings, tenant: TenantInfo) -> None:
    result, report = run_doctor()
    assert result.exit_code == 0
    assert by_name(report)["warehouse acme"]["status"] == "warn"
    assert not warehouse_path(settings.warehouse_dir(), tenant.id).exists()  # doctor created nothing


def test_outdated_warehouse_schema_fails(settings: Settings, tenant: TenantInfo) -> None:
    wh = open_warehouse(settings.warehouse_dir(), tenant.id)
    with wh.write() as cur:
        cur.execute(
            "DELETE FROM _module_migrations WHERE module = 'analytics' AND version = "
            "(SELECT max(version) FROM _module_migrations WHERE module = 'analytics')"
        )
    wh.close()
    result, report = run_doctor()
    assert result.exit_code == 1
    check = by_name(report)["warehouse acme"]
    assert check["status"] == "fail" and "schema behind (analytics 5 of 6)" in check["detail"]


def test_store_behind_head_fails(settings: Settings, engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")
    result, report = run_doctor()
    assert result.exit_code == 1
    assert by_name(report)["store"]["status"] == "fail"


def test_unusable_data_dir_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("ECOMOPS_DATA_DIR", str(not_a_dir))
    monkeypatch.delenv("ECOMOPS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        result, report = run_doctor()
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    checks = by_name(report)
    assert checks["data dir"]["status"] == "fail" and checks["store"]["status"] == "fail"


def test_broken_sqlglot_release_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real_version = doctor.importlib.metadata.version

    def fake_version(name: str) -> str:
        return "30.18.0" if name == "sqlglot" else real_version(name)

    monkeypatch.setattr(doctor.importlib.metadata, "version", fake_version)
    check = doctor.check_sqlglot()
    assert check.status is doctor.Status.fail and "breaks create_table" in check.detail
    packages = doctor.check_packages()
    assert packages.status is doctor.Status.warn and "sqlglot 30.18.0 (pinned 30.17.0)" in packages.detail


def test_low_disk_warns_then_fails(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    free = shutil.disk_usage(settings.resolved_data_dir).free
    monkeypatch.setattr(doctor, "DISK_WARN_BYTES", free * 2)
    assert doctor.check_disk(settings).status is doctor.Status.warn
    monkeypatch.setattr(doctor, "DISK_FAIL_BYTES", free * 2)
    assert doctor.check_disk(settings).status is doctor.Status.fail


def test_with_running_server_warehouses_are_checked_through_it(
    settings: Settings,
    engine: Engine,
    live_server: LiveServer,
    tenant: TenantInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The doctor gives a server 3 s to answer /readyz; here that is a bound on failure only.
    monkeypatch.setattr(doctor, "NETWORK_TIMEOUT_SECONDS", DEADLINE)
    _, write_key = tenancy.create_source(engine, "acme", "site", "web")
    batch = [
        {"type": "track", "event": "A", "userId": "u", "messageId": "m1"},
        {"type": "track", "event": "A", "userId": "u", "messageId": "m1"},
        {"type": "track", "event": "A", "userId": "u", "messageId": "m2"},
        {"type": "track", "userId": "u", "messageId": "m3"},
    ]
    sent = httpx.post(
        live_server.url + "/v1/batch", json={"batch": batch}, auth=(write_key, ""), timeout=DEADLINE
    )
    assert sent.json()["accepted"] == 2
    result, report = run_doctor()
    assert result.exit_code == 0, result.output
    checks = by_name(report)
    assert checks["server"]["status"] == "ok" and checks["server"]["data"]["readyz"]["status"] == "ready"
    assert checks["warehouse acme"]["status"] == "ok"
    assert checks["warehouse acme"]["data"]["via"] == "server"
    metrics = checks["server metrics"]
    assert metrics["status"] == "ok", metrics
    figures = metrics["data"]
    assert (figures["ingest_accepted"], figures["ingest_deduplicated"], figures["ingest_rejected"]) == (
        2,
        1,
        1,
    )
    assert figures["job_failures"] == {} and figures["import_jobs_running"] == 0
    assert "ingest 2 accepted, 1 rejected, 1 deduplicated" in metrics["detail"]


EXPOSITION = """\
# TYPE ecomops_ingest_events_total counter
ecomops_ingest_events_total{tenant="a",outcome="accepted"} 10
ecomops_ingest_events_total{tenant="b",outcome="accepted"} 5
ecomops_ingest_events_total{tenant="b",outcome="rejected"} 2
# TYPE ecomops_ingest_loader_lag_seconds gauge
ecomops_ingest_loader_lag_seconds{tenant="a"} 0.5
ecomops_ingest_loader_lag_seconds{tenant="b"} %s
# TYPE ecomops_ingest_wal_backlog_bytes gauge
ecomops_ingest_wal_backlog_bytes{tenant="a"} 100
ecomops_ingest_wal_backlog_bytes{tenant="b"} 20
# TYPE ecomops_ingest_backlog_max_bytes gauge
ecomops_ingest_backlog_max_bytes 200
# TYPE ecomops_ingest_backlog_max_seconds gauge
ecomops_ingest_backlog_max_seconds 600
# TYPE ecomops_ingest_wal_disk_free_bytes gauge
ecomops_ingest_wal_disk_free_bytes 5000000000
# TYPE ecomops_job_failures_total counter
ecomops_job_failures_total{job="alerts.evaluate",module="alerts"} %s
ecomops_job_failures_total{job="privacy.retention",module="privacy"} 0
# TYPE ecomops_import_jobs_finished_total counter
ecomops_import_jobs_finished_total{status="succeeded"} 4
ecomops_import_jobs_finished_total{status="failed"} 1
# TYPE ecomops_ingest_dead_letters_dropped_total counter
ecomops_ingest_dead_letters_dropped_total{tenant="a"} 0
ecomops_ingest_dead_letters_dropped_total{tenant="b"} %s
"""


def _answering(body: bytes) -> Callable[..., bytes]:
    """``ServerClient.raw`` of a server whose /metrics say ``body``."""

    def raw(self: object, method: str, path: str, **_: object) -> bytes:
        assert (method, path) == ("GET", "/metrics")
        return body

    return raw


def test_server_figures_add_up_tenants_and_warn_on_lag_and_failed_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    figures = doctor.server_figures(EXPOSITION % (2.5, 0, 0))
    assert figures == {
        "ingest_accepted": 15,
        "ingest_rejected": 2,
        "ingest_deduplicated": 0,
        "ingest_queue_events": 0,
        "wal_backlog_bytes": 120,
        "wal_backlog_by_tenant": {"a": 100, "b": 20},
        "loader_lag_by_tenant": {"a": 0.5, "b": 2.5},
        "backlog_max_bytes": 200,
        "backlog_max_seconds": 600,
        "wal_disk_free_bytes": 5000000000,
        "dead_letters_dropped": {},
        "loader_lag_seconds": 2.5,
        "job_failures": {},
        "import_jobs_running": 0,
        "import_jobs_queued": 0,
        "import_jobs_failed": 1,
    }
    server = ServerInfo(1, "http://127.0.0.1:1", "ctl_x")
    for lag, failures, dropped, status, said in [
        (2.5, 0, 0, "ok", "loader lag 2.5 s"),
        (61, 0, 0, "warn", "the ingest loader is 61 s behind"),
        (0, 3, 0, "warn", "job runs failed since the server started: alerts.evaluate (3)"),
        (0, 0, 7, "warn", "dead letters dropped at the dead-letter quota: b (7)"),
        (301, 0, 0, "warn", "tenant b has 0 MB / 301 s of events not loaded yet, past half of its backlog"),
    ]:
        exposition = EXPOSITION % (lag, failures, dropped)
        monkeypatch.setattr(doctor.ServerClient, "raw", _answering(exposition.encode()))
        check = doctor.check_server_metrics(server)
        assert (check.status.value, said in check.detail) == (status, True), check


@pytest.mark.postgres
def test_postgresql_store(settings: Settings, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_schema_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", pg_schema_url)
    get_settings.cache_clear()
    result, report = run_doctor()
    assert result.exit_code == 0, result.output
    checks = by_name(report)
    assert checks["store"]["status"] == "ok" and checks["store"]["data"]["dialect"] == "postgresql"
    assert checks["postgresql"]["status"] == "ok"
    assert checks["postgresql"]["data"]["schema"].startswith("ecomops_test_")
    # tests.backends connects as the ordinary role ecomops_app: bound by row-level security.
    isolation = checks["tenant isolation"]
    assert isolation["status"] == "ok", isolation
    assert isolation["data"] == {
        "role": "ecomops_app",
        "superuser": False,
        "bypassrls": False,
        "tables_without_rls": [],
    }


@pytest.mark.postgres
def test_superuser_store_warns_that_row_level_security_is_ignored(
    settings: Settings, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(pg_schema_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:  # and one tenant table whose policy was forgotten
            conn.execute(text("ALTER TABLE products NO FORCE ROW LEVEL SECURITY"))
    finally:
        engine.dispose()
    # The same schema, connecting as the superuser the role option would otherwise switch away from.
    superuser_url = pg_schema_url.replace(quote(" -crole=ecomops_app"), "")
    assert superuser_url != pg_schema_url
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", superuser_url)
    get_settings.cache_clear()
    try:
        result, report = run_doctor()
    finally:
        engine_for(superuser_url).dispose()
    assert result.exit_code == 0, result.output  # a warning, not a failure
    isolation = by_name(report)["tenant isolation"]
    assert isolation["status"] == "warn"
    assert "'postgres', a superuser, so row-level security is ignored" in isolation["detail"]
    assert "without forced row-level security: products" in isolation["detail"]
    assert isolation["data"]["superuser"] is True and isolation["data"]["tables_without_rls"] == ["products"]


@pytest.mark.postgres
def test_unreachable_postgresql_fails(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECOMOPS_DATABASE_URL", f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/nope")
    get_settings.cache_clear()
    result, report = run_doctor()
    assert result.exit_code == 1
    checks = by_name(report)
    assert checks["store"]["status"] == "fail"
    assert "s3cret" not in result.stdout  # passwords never reach the output


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A throwaway redis-server with a password, on a free port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port, password = free_port(), "pa ss/word"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), "--requirepass", password],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError("redis-server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=DEADLINE).close()
        except OSError:
            return False
        return True

    try:
        wait_until(listening, "redis-server to listen")
        yield port, password
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_check(
    settings: Settings, redis_server: tuple[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, password = redis_server
    quoted = password.replace(" ", "%20").replace("/", "%2F")
    monkeypatch.setattr(settings, "redis_url", f"redis://:{quoted}@127.0.0.1:{port}/2")
    ok = doctor.check_redis(settings)
    assert ok.status is doctor.Status.ok, ok.detail
    assert ok.data["version"][0].isdigit() and password not in ok.detail and "***" in ok.detail

    monkeypatch.setattr(settings, "redis_url", f"redis://:wrong@127.0.0.1:{port}/0")
    wrong = doctor.check_redis(settings)
    assert wrong.status is doctor.Status.fail and "WRONGPASS" in wrong.detail

    monkeypatch.setattr(settings, "redis_url", f"redis://127.0.0.1:{port}/0")
    anonymous = doctor.check_redis(settings)
    assert anonymous.status is doctor.Status.fail and "NOAUTH" in anonymous.detail

    monkeypatch.setattr(settings, "redis_url", f"redis://127.0.0.1:{free_port()}")
    assert doctor.check_redis(settings).status is doctor.Status.fail
