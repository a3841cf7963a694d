"""An analyst key cannot make the server hold a huge answer, run past the time limit, read the server's
settings and paths, or crash the guard with deep nesting (issue 10, "Broken" 2 and hardening).

Before: results were capped in rows only, so 100,000 wide rows became a 1.5 GB answer that grew the
server by 2.5 GB; now rows are fetched in chunks and the JSON is capped in bytes, and every warehouse
gets a DuckDB memory limit instead of DuckDB's 80 % of the machine per database.
"""

from __future__ import annotations

import logging
import os
import time

import httpx
import pytest
from sqlalchemy import Engine

from ecomops.platform.settings import Settings, get_settings
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


# --- the process environment stays out of reach (issue 10, "pg_settings through the SQL endpoint") ---------

#: Each read the settings, paths or files of the server: before, ``pg_catalog.pg_settings`` answered every
#: DuckDB setting (temp directory under the data dir with the tenant id in it, ``/root/.duckdb/…``).
ENVIRONMENT_READS = [
    "SELECT name, setting FROM pg_catalog.pg_settings",
    "SELECT * FROM system.pg_catalog.pg_settings",
    'SELECT * FROM "PG_CATALOG"."PG_SETTINGS"',
    "SUMMARIZE pg_catalog.pg_settings",
    "DESCRIBE pg_catalog.pg_settings",
    "SELECT * FROM pg_catalog.pg_prepared_statements",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_databases",
    "SELECT * FROM system.main.duckdb_databases",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM pragma_database_list()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM which_secret('s3://bucket/x', 's3')",
    "SELECT current_setting('temp_directory')",
    "SELECT pg_catalog.current_setting('home_directory')",
    "SELECT getenv('HOME')",
    "SELECT write_log('hello')",
]


def test_settings_paths_and_environment_are_refused(
    server: InProcServer, engine: Engine, settings: Settings
) -> None:
    with _analyst(server, engine) as api:
        for sql in ENVIRONMENT_READS:
            r = api.post("/query", json={"sql": sql})
            assert r.status_code == 400, (sql, r.text[:300])
            assert r.json()["error"]["code"] == "query_refused", (sql, r.text[:300])
            assert str(settings.data_dir) not in r.text and server.tenant.id not in r.text, sql


def test_catalog_metadata_stays_readable(server: InProcServer, engine: Engine) -> None:
    reads = {
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'": "orders",
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'": "order_id",
        "SELECT tablename FROM pg_catalog.pg_tables": "orders",
        "SELECT schema_name FROM information_schema.schemata": "main",
    }
    with _analyst(server, engine) as api:
        for sql, expected in reads.items():
            r = api.post("/query", json={"sql": sql, "limit": 10_000})
            assert r.status_code == 200, (sql, r.text[:300])
            assert [expected] in r.json()["rows"], sql


# --- deep nesting (issue 10, "a 500 and a 77 KB traceback per request") ---------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_deeply_nested_sql_is_refused_short_without_a_traceback(server: InProcServer, engine: Engine) -> None:
    deep = [
        "SELECT " + "(" * 3000 + "1" + ")" * 3000,
        "SELECT " + "(" * 60 + "1" + ")" * 60,  # the parser's recursion limit is reached near 55
        "SELECT " + "NOT " * 5000 + "true",  # no brackets to count: the RecursionError itself
        "SELECT " + "abs(" * 2000 + "1" + ")" * 2000,
        "SELECT " + "[" * 3000 + "]" * 3000,
        "SELECT * FROM " + "(SELECT * FROM " * 200 + "range(1)" + ") t" * 200,
        "EXPLAIN SELECT " + "NOT " * 5000 + "true",
    ]
    collect = _Collect()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "ecomops", "")]
    for logger in loggers:
        logger.addHandler(collect)
    try:
        with _analyst(server, engine) as api:
            for sql in deep:
                r = api.post("/query", json={"sql": sql})
                assert r.status_code == 400, (sql[:40], r.text[:300])
                assert r.json()["error"]["code"] == "query_refused", r.text[:300]
                assert len(r.content) < 1_000 and "Traceback" not in r.text
            # Legitimate nesting still runs, and the server is fine.
            fine = "SELECT " + "(" * 20 + "1" + ")" * 20 + " AS one, " + "NOT " * 20 + "true AS t"
            r = api.post("/query", json={"sql": fine})
            assert r.status_code == 200 and r.json()["rows"] == [[1, True]], r.text[:300]
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    assert not [rec for rec in collect.records if rec.exc_info], [rec.getMessage() for rec in collect.records]
