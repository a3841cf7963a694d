"""Back-pressure: the WAL absorbs a burst the loader cannot keep up with until the tenant's backlog budget,
then 429 with the reason; the loader serves tenants in fair turns.

The loader is paused by replacing the pipeline's ``_load_all`` (what the loader thread calls), so a
backlog builds up deterministically however fast the machine loads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.ingest.pipeline import IngestPipeline
from ecomops.platform.settings import get_settings
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE

#: ~1 KB of properties per event, so a few batches make megabytes of WAL.
PADDING = "x" * 900


def _batch(prefix: str, n: int = 100) -> dict[str, object]:
    return {
        "batch": [
            {
                "type": "track",
                "event": "Product Viewed",
                "userId": f"{prefix}-u",
                "messageId": f"{prefix}-{i}",
                "properties": {"product_id": "p1", "note": PADDING},
            }
            for i in range(n)
        ]
    }


def _env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"ECOMOPS_INGEST_{name.upper()}", value)
    get_settings.cache_clear()


@pytest.fixture
def paused(server: InProcServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[IngestPipeline]:
    pipeline: IngestPipeline = server.state.services["ingest"]
    monkeypatch.setattr(pipeline, "_load_all", lambda: None)
    yield pipeline


def _count(server: InProcServer, tenant_id: str) -> int:
    return int(server.state.warehouses.get(tenant_id).query("SELECT count(*) FROM events")[0][0])


@pytest.fixture
def small_turns(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, load_turn_mb="1")


def test_the_loader_gives_each_tenant_a_turn_instead_of_draining_a_flood_first(
    small_turns: None,
    server: InProcServer,
    paused: IngestPipeline,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tenancy.create_tenant(engine, "quiet", "Quiet Shop", "UTC", "EUR")
    _, quiet_key = tenancy.create_source(engine, other.slug, "site", "web")
    with server.client() as flood:
        for n in range(40):  # ≈ 4 MB for the flooding tenant, acknowledged first
            assert flood.post("/v1/batch", json=_batch(f"f{n}")).status_code == 200
    with server.client(quiet_key) as quiet:
        assert quiet.post("/v1/batch", json=_batch("q", 1)).json()["accepted"] == 1

    assert paused._load_pass() is True  # one turn each; the flood has more left
    assert _count(server, other.id) == 1
    loaded = _count(server, server.tenant.id)
    assert 0 < loaded < 4000, loaded  # a turn (1 MB) of the flood, not all of it

    monkeypatch.undo()  # the loader again: everything gets loaded
    paused.flush()
    assert _count(server, server.tenant.id) == 4000


@pytest.fixture
def tiny_backlog(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, backlog_max_mb="1")


def test_past_the_backlog_budget_ingest_answers_429_and_recovers_once_loaded(
    tiny_backlog: None, server: InProcServer, paused: IngestPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.client() as client:
        accepted = 0
        for n in range(20):  # ≈ 2 MB: acknowledged (durable) while under the budget
            answer = client.post("/v1/batch", json=_batch(f"b{n}"))
            if answer.status_code != 200:
                break
            accepted += answer.json()["accepted"]
        assert answer.status_code == 429, answer.text
        assert accepted >= 800  # the WAL absorbed the first megabyte (lines of ≈ 1.2 KB)
        assert answer.headers["retry-after"] == "5"
        error = answer.json()["error"]
        assert error["code"] == "overloaded"
        assert error["details"]["reason"] == "backlog" and error["details"]["max_bytes"] == 1 << 20
        metrics = httpx.get(server.url + "/metrics", timeout=DEADLINE).text
        assert "ecomops_ingest_backlog_max_bytes 1.048576e+06" in metrics
        assert f'ecomops_ingest_wal_backlog_bytes{{tenant="{server.tenant.slug}"}} 0.0' not in metrics

        monkeypatch.undo()
        paused.flush()
        assert client.post("/v1/batch", json=_batch("after")).status_code == 200
    assert _count(server, server.tenant.id) == accepted


@pytest.fixture
def short_lag(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, backlog_max_seconds="0.3")


def test_past_the_lag_budget_ingest_answers_429(
    short_lag: None, server: InProcServer, paused: IngestPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.client() as client:
        assert client.post("/v1/batch", json=_batch("first", 1)).status_code == 200
        time.sleep(0.4)  # the budget is in wall time: the oldest unloaded event must get older than it
        late = client.post("/v1/batch", json=_batch("late", 1))
        assert late.status_code == 429
        assert late.json()["error"]["details"]["reason"] == "lag"
        monkeypatch.undo()
        paused.flush()
        assert client.post("/v1/batch", json=_batch("late", 1)).json()["accepted"] == 1


@pytest.fixture
def full_disk(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, min_free_disk_mb=str(1 << 40))  # an exabyte: more than any disk has free


def test_a_nearly_full_disk_answers_429_before_the_wal_fills_it(
    full_disk: None, server: InProcServer
) -> None:
    with server.client() as client:
        answer = client.post("/v1/batch", json=_batch("d", 1))
    assert answer.status_code == 429
    assert answer.json()["error"]["details"]["reason"] == "disk"
    assert answer.headers["retry-after"] == "30"
