"""The read-only query service: what runs, what is refused, and the safety nets behind the allowlist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ecomops.platform.warehouse import query as service
from ecomops.platform.warehouse.connection import Warehouse, connect, open_warehouse
from ecomops.platform.warehouse.query import (
    QueryFailed,
    QueryRefused,
    QueryTimeout,
    query_warehouse,
)

TENANT = "tn_query"

#: Statements that would write, touch files, reach other databases or change the session.
REFUSED = {
    # A quoted path after SUMMARIZE/DESCRIBE is a file read (found in review: it leaked server.json).
    "summarize_quoted_path": "SUMMARIZE '.ecomops/server.json'",
    "summarize_quoted_etc": "SUMMARIZE '/etc/passwd'",
    "describe_quoted_path": "DESCRIBE '/etc/passwd'",
    "describe_quoted_wal": 'DESCRIBE "wal/x/events-1.ndjson"',
    "insert": "INSERT INTO orders SELECT * FROM orders",
    "update": "UPDATE orders SET total = 0",
    "delete": "DELETE FROM orders",
    "drop": "DROP TABLE orders",
    "create": "CREATE TABLE stolen AS SELECT * FROM orders",
    "create_view": "CREATE VIEW v AS SELECT 1",
    "alter": "ALTER TABLE orders ADD COLUMN x INTEGER",
    "truncate": "TRUNCATE orders",
    "select_into": "SELECT * INTO stolen FROM orders",
    "copy_to": "COPY orders TO '/tmp/orders.csv'",
    "copy_from": "COPY orders FROM '/tmp/orders.csv'",
    "copy_query_to": "COPY (SELECT * FROM orders) TO '/tmp/orders.parquet' (FORMAT parquet)",
    "export": "EXPORT DATABASE '/tmp/dump'",
    "import": "IMPORT DATABASE '/tmp/dump'",
    "attach": "ATTACH '/tmp/other.duckdb' AS other",
    "detach": "DETACH other",
    "use": "USE other",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "pragma": "PRAGMA table_info('orders')",
    "set": "SET threads = 1",
    "set_variable": "SET VARIABLE x = 1",
    "reset": "RESET threads",
    "call": "CALL pragma_version()",
    "checkpoint": "CHECKPOINT",
    "vacuum": "VACUUM",
    "begin": "BEGIN TRANSACTION",
    "create_secret": "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "macro": "CREATE MACRO m() AS 1",
    "two_statements": "SELECT 1; DROP TABLE orders",
    "statement_after_comment": "SELECT 1; -- harmless\nDELETE FROM orders",
    "read_csv": "SELECT * FROM read_csv('/etc/passwd')",
    "read_csv_auto": "SELECT * FROM read_csv_auto('/etc/passwd')",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_blob": "FROM read_blob('/etc/passwd')",
    "read_parquet": "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "parquet_scan": "SELECT * FROM parquet_scan('/tmp/x.parquet')",
    "read_json": "SELECT * FROM read_json('/tmp/x.json')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "sniff_csv": "SELECT * FROM sniff_csv('/etc/passwd')",
    "query_function": "SELECT * FROM query('DELETE FROM orders')",
    "query_table": "SELECT * FROM query_table('orders')",
    "json_execute": "SELECT * FROM json_execute_serialized_sql('x')",
    "settings_function": "SELECT * FROM duckdb_settings()",
    "secrets_function": "SELECT * FROM duckdb_secrets()",
    "scalar_read_text": "SELECT read_text('/etc/passwd')",
    "getenv": "SELECT getenv('HOME')",
    "nextval": "SELECT nextval('seq')",
    "file_as_table": "SELECT * FROM '/etc/passwd'",
    "csv_as_table": "SELECT * FROM 'orders.csv'",
    "quoted_path": 'SELECT * FROM "data.parquet"',
    "file_in_join": "SELECT * FROM orders o JOIN read_csv('/etc/passwd') p ON true",
    "file_in_lateral": "SELECT * FROM orders, LATERAL read_csv('/etc/passwd')",
    "file_in_scalar_subquery": "SELECT (SELECT count(*) FROM read_csv('/etc/passwd'))",
    "file_in_where": "SELECT * FROM orders WHERE order_id IN (SELECT * FROM read_json('/tmp/x'))",
    "file_in_cte": "WITH p AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM p",
    "file_in_parens": "SELECT * FROM (read_csv('/etc/passwd'))",
    "cte_name_out_of_scope": (
        'SELECT * FROM (WITH "/etc/passwd" AS (SELECT 1) SELECT * FROM "/etc/passwd") x, "/etc/passwd"'
    ),
    "other_database": "SELECT * FROM other.main.orders",
    "temp_catalog": "SELECT * FROM temp.main.t",
    "describe_file": "DESCRIBE SELECT * FROM read_csv('/etc/passwd')",
    "summarize_file": "SUMMARIZE read_parquet('/tmp/x.parquet')",
    "explain_write": "EXPLAIN DELETE FROM orders",
    "explain_analyze_copy": "EXPLAIN ANALYZE COPY orders TO '/tmp/x.csv'",
    "unknown_table": "SELECT * FROM no_such_table",
    "empty": "   ",
    "garbage": "SELEKT * FRUM orders",
    # DuckDB runs a PIVOT without an IN list as CREATE TYPE … + SELECT: not one read-only statement.
    "pivot_without_in": "PIVOT orders ON status USING sum(total)",
}

ALLOWED = {
    "select": "SELECT order_id, total FROM orders ORDER BY order_id",
    "from_first": "FROM orders SELECT order_id ORDER BY order_id",
    "with": "WITH paid AS (SELECT * FROM orders WHERE status = 'paid') SELECT count(*) FROM paid",
    "cte_reused_in_subquery": "WITH a AS (SELECT 1 AS x) SELECT * FROM a, (SELECT * FROM a) b",
    "union": "SELECT 1 UNION ALL SELECT 2",
    "values": "VALUES (1, 'a'), (2, 'b')",
    "range": "SELECT * FROM range(3)",
    "generate_series": "SELECT * FROM generate_series(1, 3)",
    "unnest": "SELECT * FROM unnest([1, 2, 3])",
    "group_by_all": "SELECT status, sum(total) FROM orders GROUP BY ALL ORDER BY ALL",
    "window": "SELECT order_id, row_number() OVER (ORDER BY ordered_at) FROM orders",
    "qualify": "SELECT * FROM orders QUALIFY row_number() OVER (ORDER BY ordered_at) = 1",
    "exclude": "SELECT * EXCLUDE (properties) FROM orders",
    "pivot": "PIVOT orders ON status IN ('paid', 'refunded') USING sum(total)",
    "qualified": "SELECT count(*) FROM main.orders",
    "information_schema": "SELECT table_name FROM information_schema.tables",
    "describe": "DESCRIBE orders",
    "describe_query": "DESCRIBE SELECT total FROM orders",
    "summarize": "SUMMARIZE orders",
    "explain": "EXPLAIN SELECT * FROM orders",
    "explain_analyze": "EXPLAIN ANALYZE SELECT count(*) FROM orders",
    "show_tables": "SHOW TABLES",
    "trailing_semicolon": "SELECT 1;",
    "comment_with_fake_statement": "SELECT 1 -- */ DROP TABLE orders; /*",
    "string_with_fake_statement": "SELECT 'x''; DROP TABLE orders; --' AS s",
    "tz_bucketing": (
        "SELECT CAST(timezone('Asia/Shanghai', ordered_at) AS DATE) AS day, count(*) FROM orders GROUP BY 1"
    ),
}


def _seed(wh: Warehouse) -> None:
    with wh.write() as cur:
        cur.execute(
            "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total, properties) VALUES "
            "('o1', 'paid', '2026-11-10 16:30:00+00', 'CNY', 100, 108.5, '{\"coupon\": \"D11\"}'), "
            "('o2', 'paid', '2026-11-11 01:00:00+00', 'CNY', 50, 50.25, NULL), "
            "('o3', 'refunded', '2026-11-11 02:00:00+00', 'CNY', 20, 20, NULL)"
        )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    wh = open_warehouse(tmp_path, TENANT)
    _seed(wh)
    yield wh
    wh.close()


def _orders_count(wh: Warehouse) -> int:
    return int(wh.query("SELECT count(*) FROM orders")[0][0])


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_refused_on_the_server_connection(warehouse: Warehouse, sql: str) -> None:
    with pytest.raises(QueryRefused):
        query_warehouse(warehouse, sql)
    tables = {r[0] for r in warehouse.query("SELECT table_name FROM information_schema.tables")}
    assert "stolen" not in tables and "orders" in tables
    assert _orders_count(warehouse) == 3


@pytest.mark.parametrize("sql", ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed_statements_run(warehouse: Warehouse, sql: str) -> None:
    result = query_warehouse(warehouse, sql)
    assert result.columns and result.row_count >= 1
    assert _orders_count(warehouse) == 3


def test_refusal_messages_say_what_and_why(warehouse: Warehouse) -> None:
    messages = {}
    for key in ("drop", "read_csv", "two_statements", "file_as_table", "unknown_table", "pragma", "getenv"):
        with pytest.raises(QueryRefused) as info:
            query_warehouse(warehouse, REFUSED[key])
        messages[key] = info.value.message
    assert messages["drop"].startswith("refused: DROP statements are not allowed")
    assert "table function read_csv() is not allowed" in messages["read_csv"]
    assert "exactly one statement is allowed, got 2" in messages["two_statements"]
    assert "'/etc/passwd' is not a table name" in messages["file_as_table"]
    assert (
        "unknown table 'no_such_table'" in messages["unknown_table"] and "orders" in messages["unknown_table"]
    )
    # DuckDB's parser turns PRAGMA table_info('orders') into a call of the table function it stands for.
    assert "table function pragma_table_info() is not allowed" in messages["pragma"]
    assert "getenv() is not allowed" in messages["getenv"]


def test_values_are_rendered_json_safe(warehouse: Warehouse) -> None:
    result = query_warehouse(
        warehouse,
        "SELECT total, ordered_at, properties, [1, 2] AS list, {'a': 1.5} AS struct, 'ab'::BLOB AS blob, "
        "'nan'::DOUBLE AS nan, INTERVAL 90 MINUTE AS span, DATE '2026-11-11' AS day, NULL AS nothing "
        "FROM orders WHERE order_id = 'o1'",
    )
    assert [c.name for c in result.columns][:3] == ["total", "ordered_at", "properties"]
    assert [c.type for c in result.columns][:2] == ["DECIMAL(18,4)", "TIMESTAMP WITH TIME ZONE"]
    assert result.rows == [
        [
            "108.5000",  # exact decimal as a string, never a float
            "2026-11-10T16:30:00+00:00",
            {"coupon": "D11"},  # JSON columns come back as JSON, not as an escaped string
            [1, 2],
            {"a": "1.5"},
            "YWI=",
            "NaN",
            "P0DT5400S",
            "2026-11-11",
            None,
        ]
    ]
    assert Decimal(str(result.rows[0][0])) == Decimal("108.5")
    assert service.to_json_value(timedelta(days=-1)) == "-P1DT0S"


def test_rows_are_capped_and_truncation_reported(warehouse: Warehouse) -> None:
    capped = query_warehouse(warehouse, "SELECT * FROM range(1000000000)", limit=5)
    assert capped.rows == [[0], [1], [2], [3], [4]] and capped.truncated
    exact = query_warehouse(warehouse, "SELECT * FROM range(5)", limit=5)
    assert exact.row_count == 5 and not exact.truncated
    with pytest.raises(QueryRefused):
        query_warehouse(warehouse, "SELECT 1", limit=0)
    with pytest.raises(QueryRefused):
        query_warehouse(warehouse, "SELECT 1", limit=service.MAX_LIMIT + 1)


def test_long_queries_are_cancelled(warehouse: Warehouse) -> None:
    with pytest.raises(QueryTimeout, match=r"cancelled after 0\.5 s"):
        query_warehouse(warehouse, "SELECT count(*) FROM range(1000000000000) a", timeout_seconds=0.5)
    assert query_warehouse(warehouse, "SELECT 1").rows == [[1]]  # the connection is still usable


def test_database_errors_are_reported_not_raised_raw(warehouse: Warehouse) -> None:
    with pytest.raises(QueryFailed, match='column "nope"'):
        query_warehouse(warehouse, "SELECT nope FROM orders")


def test_read_only_transaction_is_a_second_net(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even if the allowlist let a write through, DuckDB's READ ONLY transaction refuses it."""
    monkeypatch.setattr(service, "check_read_only", lambda sql, catalog: service.CheckedQuery("query", sql))
    with pytest.raises(QueryFailed, match="read-only"):
        query_warehouse(warehouse, "DELETE FROM orders")
    with pytest.raises(QueryFailed, match="read-only"):
        query_warehouse(warehouse, "CREATE TABLE stolen AS SELECT 1")
    assert _orders_count(warehouse) == 3


def test_what_runs_is_the_statement_duckdb_parsed(warehouse: Warehouse) -> None:
    catalog = service.read_catalog(warehouse.cursor())
    checked = service.check_read_only("select 1 -- */ DROP TABLE orders; /*", catalog)
    assert checked == service.CheckedQuery("query", "select 1 -- */ DROP TABLE orders; /*")
    assert query_warehouse(warehouse, checked.sql).rows == [[1]]
    assert service.check_read_only("SELECT 1;  ", catalog).kind == "query"
    explained = service.check_read_only("explain analyze from orders", catalog)
    assert explained == service.CheckedQuery("explain", "explain analyze from orders")
    assert service.check_read_only("SUMMARIZE orders", catalog).kind == "summarize"
    assert service.check_read_only("DESCRIBE orders", catalog).kind == "describe"
    assert service.check_read_only("SHOW TABLES", catalog).kind == "show"


def test_a_commands_read_only_file_has_no_file_access(warehouse: Warehouse, tmp_path: Path) -> None:
    """No server: a command opens the file read-only (``commandline.LocalWarehouses``)."""
    path = warehouse.path
    warehouse.close()  # no server: the file is free
    (tmp_path / "leak.csv").write_text("secret\nhunter2\n")
    local = Warehouse(TENANT, path, connect(path, read_only=True), read_only=True)
    try:
        result = query_warehouse(local, "SELECT order_id FROM orders ORDER BY 1")
        assert result.rows == [["o1"], ["o2"], ["o3"]]
        for sql in (REFUSED["read_csv"], REFUSED["drop"], REFUSED["attach"]):
            with pytest.raises(QueryRefused):
                query_warehouse(local, sql)
        # Bypass the allowlist to show the connection itself cannot reach files or write.
        original = service.check_read_only
        try:
            service.check_read_only = lambda sql, catalog: service.CheckedQuery("query", sql)  # type: ignore[assignment]
            with pytest.raises(QueryFailed, match="disabled by configuration"):
                query_warehouse(local, f"SELECT * FROM read_csv('{tmp_path / 'leak.csv'}')")
            with pytest.raises(QueryFailed):
                query_warehouse(local, "DELETE FROM orders")
        finally:
            service.check_read_only = original
    finally:
        local.close()
    reopened = open_warehouse(path.parent, TENANT)
    try:
        assert _orders_count(reopened) == 3
    finally:
        reopened.close()
