"""An analyst key cannot make the server hold a huge answer or run past the time limit (issue 10, "Broken" 2).

Before: results were capped in rows only, so 100,000 wide rows became a 1.5 GB answer that grew the
server by 2.5 GB; now rows are fetched in chunks and the JSON is capped in bytes, and every warehouse
gets a DuckDB memory limit instead of DuckDB's 80 % of the machine per database.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.platform.settings import get_settings
from ecomops.platform.warehouse import query as guard
from ecomops.platform.warehouse.handle import memory_limit_mb
from ecomops.query import service
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer
from tests.timing import DEADLINE


def _analyst(server: InProcServer, engine: Engine) -> httpx.Client:
    _, key = tenancy.create_api_key(engine, "acme", "analyst", "explorer")
    return httpx.Client(
        base_url=f"{server.url}/api/v1/t/acme", headers={"Authorization": f"Bearer {key}"}, timeout=DEADLINE
    )


def test_a_wide_result_is_cut_at_the_byte_cap(server: InProcServer, engine: Engine) -> None:
    # 100,000 rows of 2 KB: 200 MB of JSON before the cap.
    sql = "SELECT i, lpad(i::VARCHAR, 2000, 'x') AS wide FROM range(100000) t(i)"
    with _analyst(server, engine) as api:
        r = api.post("/query", json={"sql": sql, "limit": 100_000})
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        assert body["truncated"] is True and body["truncated_by"] == "bytes"
        assert 7_000 < body["row_count"] < 8_400  # 16 MB / ~2 KB per row
        assert len(r.content) < guard.MAX_RESULT_BYTES + 64 * 1024
    assert httpx.get(server.url + "/healthz", timeout=DEADLINE).status_code == 200


def test_the_row_limit_still_says_so(server: InProcServer, engine: Engine) -> None:
    with _analyst(server, engine) as api:
        body = api.post("/query", json={"sql": "SELECT * FROM range(50)", "limit": 10}).json()
    assert (body["row_count"], body["truncated"], body["truncated_by"]) == (10, True, "rows")
    with _analyst(server, engine) as api:
        whole = api.post("/query", json={"sql": "SELECT * FROM range(10)", "limit": 10}).json()
    assert (whole["row_count"], whole["truncated"], whole["truncated_by"]) == (10, False, None)


def test_the_time_limit_interrupts_a_long_query(
    server: InProcServer, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "TIMEOUT_SECONDS", 0.5)
    sql = "SELECT count(*) FROM range(100000000000) a"
    with _analyst(server, engine) as api:
        started = time.monotonic()
        r = api.post("/query", json={"sql": sql})
        elapsed = time.monotonic() - started
    assert r.status_code == 400 and r.json()["error"]["code"] == "query_timeout"
    assert elapsed < 10


_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def test_each_warehouse_has_a_memory_limit(server: InProcServer, monkeypatch: pytest.MonkeyPatch) -> None:
    warehouse = server.state.warehouses.get(server.tenant.id)
    [(shown,)] = warehouse.query("SELECT current_setting('memory_limit')")
    number, unit = str(shown).split()
    # A quarter of the machine by default (DuckDB's own default is 80 % per database).
    assert float(number) * _UNITS[unit] == pytest.approx(memory_limit_mb() * 1_000_000, rel=0.02)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert memory_limit_mb() == max(256, total // 4 // (1024 * 1024))
    monkeypatch.setenv("ECOMOPS_WAREHOUSE_MEMORY_LIMIT_MB", "300")
    get_settings.cache_clear()
    assert memory_limit_mb() == 300
