"""``GET /metrics``: Prometheus text a real parser reads, with the figures real traffic produced, served
to loopback clients and token holders only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ecomops.app import create_app
from ecomops.platform.jobs import scheduler_of
from ecomops.platform.observability.endpoint import is_loopback
from ecomops.platform.observability.metrics import metrics_of
from ecomops.platform.settings import Settings, get_settings
from ecomops.privacy import retention
from tests.conftest import InProcServer
from tests.imports.test_rejects import BAD_ROWS, HEADER
from tests.timing import DEADLINE, ManualDateTime, wait_until

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: A client the in-process server's uvicorn believes (it trusts X-Forwarded-For from 127.0.0.1).
STRANGER = {"X-Forwarded-For": "203.0.113.7"}
TOKEN = "scrape-token-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: InProcServer, headers: dict[str, str] | None = None) -> Samples:
    answer = httpx.get(server.url + "/metrics", headers=headers or {}, timeout=DEADLINE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def quiet_jobs(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Job intervals no test outlives: passes happen when the test ticks a schedule, and only then."""
    monkeypatch.setenv("ECOMOPS_RETENTION_INTERVAL_SECONDS", "86400")
    monkeypatch.setenv("ECOMOPS_ALERTS_INTERVAL_SECONDS", "86400")
    get_settings.cache_clear()


@pytest.fixture
def metrics_token(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ECOMOPS_METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    return TOKEN


def _import(server: InProcServer, tmp_path: Path) -> dict[str, Any]:
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([HEADER, *BAD_ROWS]) + "\n", encoding="utf-8")
    auth = {"Authorization": f"Bearer {server.state.control_token}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=DEADLINE) as client:
        created = client.post(
            "/api/v1/t/acme/imports",
            files=[("files", (bad.name, bad.read_bytes(), "text/csv"))],
            data={"preset": "online-retail-ii"},
        )
        assert created.status_code == 202, created.text

        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = client.get(f"/api/v1/t/acme/imports/{created.json()['id']}").json()
            return job if job["status"] in ("succeeded", "failed") else None

        return wait_until(finished, "the import to finish", timeout=2 * DEADLINE)


def test_figures_of_real_traffic(quiet_jobs: None, server: InProcServer, tmp_path: Path) -> None:
    batch = [
        {"type": "track", "event": "Viewed", "userId": "u1", "messageId": "m1"},
        {"type": "track", "event": "Viewed", "userId": "u1", "messageId": "m1"},  # duplicate
        {"type": "track", "userId": "u1", "messageId": "m2"},  # invalid: no event name
        {"type": "identify", "userId": "u1", "messageId": "m3"},
    ]
    with server.client() as client:
        assert client.post("/v1/batch", json={"batch": batch}).json()["accepted"] == 2
        strict = client.post("/v1/batch", params={"strict": "true"}, json={"batch": batch[2:3]})
        assert strict.status_code == 400
    server.query("SELECT 1")  # load everything acknowledged

    samples = scrape(server)
    events = {o: value(samples, "ecomops_ingest_events_total", tenant="acme", outcome=o) for o in
              ("accepted", "deduplicated", "rejected")}  # fmt: skip
    assert events == {"accepted": 2, "deduplicated": 1, "rejected": 2}
    assert value(samples, "ecomops_ingest_wal_backlog_bytes", tenant="acme") == 0
    assert value(samples, "ecomops_ingest_loader_lag_seconds", tenant="acme") == 0
    assert value(samples, "ecomops_ingest_queue_events") == 0
    assert (
        value(samples, "ecomops_ingest_queue_capacity_events")
        == server.state.settings.ingest_queue_max_events
    )
    ingest = {"method": "POST", "route": "/v1/batch"}
    assert value(samples, "ecomops_http_request_duration_seconds_count", **ingest, status="2xx") == 1
    assert value(samples, "ecomops_http_request_duration_seconds_count", **ingest, status="4xx") == 1
    assert value(samples, "ecomops_build_info", version="0.1.0") == 1
    assert value(samples, "ecomops_import_jobs_running") == 0
    refreshes = value(samples, "ecomops_rollup_refresh_duration_seconds_count", kind="loaded")
    assert refreshes >= 1  # the loader's transaction(s) refreshed the rollups

    job = _import(server, tmp_path)
    assert job["status"] == "succeeded", job

    def counted() -> Samples | None:
        samples = scrape(server)
        return samples if value(samples, "ecomops_import_jobs_finished_total", status="succeeded") else None

    samples = wait_until(counted, "the runner to count the import")
    assert value(samples, "ecomops_import_jobs_finished_total", status="failed") == 0
    assert value(samples, "ecomops_import_jobs_queued") == value(samples, "ecomops_import_jobs_running") == 0
    # The import's one transaction refreshed the rollups once; nothing else wrote meanwhile.
    assert value(samples, "ecomops_rollup_refresh_duration_seconds_count", kind="loaded") == refreshes + 1
    uploads = {"method": "POST", "route": "/api/v1/t/{tenant}/imports", "status": "2xx"}
    assert value(samples, "ecomops_http_request_duration_seconds_count", **uploads) == 1


def test_job_runs_failures_and_last_pass(
    quiet_jobs: None, server: InProcServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    retention.set_policy(
        server.state.engine,
        server.tenant.id,
        events_days=None,
        events_action="anonymise",
        dead_letters_days=365,
        reject_files_days=None,
    )
    schedule = scheduler_of(server.state).schedule("privacy.retention")
    schedule.clock = ManualDateTime(NOW)
    job = {"job": "privacy.retention", "module": "privacy"}
    before = scrape(server)
    assert value(before, "ecomops_job_passes_total", **job) == 0
    assert ("ecomops_job_last_pass_timestamp_seconds", frozenset(job.items())) not in before

    schedule.tick()
    assert schedule.wait_for_passes(1, DEADLINE)

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(retention, "run_retention", broken)
    schedule.tick()
    assert schedule.wait_for_passes(2, DEADLINE)

    samples = scrape(server)
    assert value(samples, "ecomops_job_passes_total", **job) == 2
    assert value(samples, "ecomops_job_runs_total", **job) == 1
    assert value(samples, "ecomops_job_failures_total", **job) == 1
    assert value(samples, "ecomops_job_skips_total", **job) == 0
    assert value(samples, "ecomops_job_last_pass_duration_seconds", **job) >= 0
    assert abs(value(samples, "ecomops_job_last_pass_timestamp_seconds", **job) - time.time()) < DEADLINE
    assert value(samples, "ecomops_job_passes_total", job="alerts.evaluate", module="alerts") == 0


def test_only_local_clients_and_token_holders_may_scrape(metrics_token: str, server: InProcServer) -> None:
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as client:
        unknown = client.get("/no-such-path", headers=STRANGER)
        refused = client.get("/metrics", headers=STRANGER)
        assert refused.status_code == 404 and refused.json() == unknown.json()
        for wrong in (f"Bearer {metrics_token}x", "Bearer", f"Basic {metrics_token}", metrics_token):
            assert client.get("/metrics", headers={**STRANGER, "Authorization": wrong}).status_code == 404
        for token in (metrics_token, server.state.control_token):
            allowed = client.get("/metrics", headers={**STRANGER, "Authorization": f"Bearer {token}"})
            assert allowed.status_code == 200 and "ecomops_build_info" in allowed.text
        assert client.get("/metrics").status_code == 200  # from 127.0.0.1 itself
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_without_a_token_setting_strangers_are_refused_whatever_they_send(server: InProcServer) -> None:
    assert server.state.settings.metrics_token is None
    for auth in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
        answer = httpx.get(server.url + "/metrics", headers={**STRANGER, **auth}, timeout=DEADLINE)
        assert answer.status_code == 404


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("203.0.113.7", False),
        ("::ffff:203.0.113.7", False),
        ("testclient", False),
        ("localhost", False),  # a name, not an address: never taken on trust
        ("", False),
        (None, False),
    ],
)
def test_loopback_addresses(host: str | None, local: bool) -> None:
    assert is_loopback(host) is local


@pytest.fixture
def two_apps(settings: Settings) -> Iterator[list[Any]]:
    yield [create_app(settings), create_app(settings)]


def test_each_app_has_its_own_registry(two_apps: list[Any]) -> None:
    first, second = (metrics_of(app.state.ecomops) for app in two_apps)
    assert first.registry is not second.registry
    first.observe_request("GET", "/healthz", 200, 0.01)
    first.observe_request("BREW", "/healthz", 418, 0.01)  # made-up methods share one label value
    count = "ecomops_http_request_duration_seconds_count"

    def counts(metrics: Any) -> dict[tuple[str, str], float]:
        return {
            (s.labels["method"], s.labels["status"]): s.value
            for family in text_string_to_metric_families(metrics.exposition().decode())
            for s in family.samples
            if s.name == count
        }

    assert counts(first) == {("GET", "2xx"): 1, ("other", "4xx"): 1}
    assert counts(second) == {}
