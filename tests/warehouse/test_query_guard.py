"""The query guard decides on DuckDB's own parse of a statement (issue 13, item 6).

``… JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium`` used to be refused
("table function … not allowed") while the same join in brackets ran: the old check read the SQL with
another parser. Here: a table of read-only statements that must run over the tenant's tables and give
exactly what DuckDB gives without the guard, a table of refused statements with their messages, and a
generated set (query shapes × join conditions; every file/extension/setting escape in every position).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecomops.platform.warehouse.connection import Warehouse, open_warehouse
from ecomops.platform.warehouse.query import QueryRefused, query_warehouse, to_json_value

TENANT = "tn_guard"

SEED = [
    "INSERT INTO orders (order_id, status, ordered_at, currency, subtotal, total, customer_id, utm_source, "
    "utm_medium, utm_campaign) VALUES "
    "('o1', 'paid', '2026-11-10 16:30:00+00', 'GBP', 100, 108.5, 'c1', 'google', 'cpc', 'brand'), "
    "('o2', 'paid', '2026-11-11 01:00:00+00', 'GBP', 50, 50.25, 'c2', 'google', 'organic', NULL), "
    "('o3', 'refunded', '2026-11-11 02:00:00+00', 'GBP', 20, 20, 'c1', 'meta', 'cpc', 'retarget'), "
    "('o4', 'paid', '2026-11-12 09:00:00+00', 'GBP', 70, 75, NULL, NULL, NULL, NULL)",
    "INSERT INTO ad_spend (date, channel, utm_source, utm_medium, utm_campaign, spend, currency) VALUES "
    "('2026-11-10', 'web', 'google', 'cpc', 'brand', 30, 'GBP'), "
    "('2026-11-11', 'web', 'google', 'cpc', 'generic', 12.5, 'GBP'), "
    "('2026-11-11', 'web', 'meta', 'cpc', 'retarget', 8, 'GBP')",
    "INSERT INTO order_items (item_id, order_id, product_id, name, quantity, unit_price, line_total, "
    "currency, ordered_at) VALUES "
    "('i1', 'o1', 'p1', 'Mug', 2, 50, 100, 'GBP', '2026-11-10 16:30:00+00'), "
    "('i2', 'o2', 'p2', 'Lamp', 1, 50, 50, 'GBP', '2026-11-11 01:00:00+00'), "
    "('i3', 'o3', 'p1', 'Mug', 1, 20, 20, 'GBP', '2026-11-11 02:00:00+00')",
]

COMPOUND_JOIN = (
    "SELECT o.order_id, a.utm_campaign, a.spend FROM orders o "
    "JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium ORDER BY ALL"
)

#: Read-only statements that must run, each with the answer DuckDB gives (checked below without the guard).
ACCEPTED = {
    "compound_join": COMPOUND_JOIN,
    "compound_join_in_brackets": COMPOUND_JOIN.replace("ON a.utm_source", "ON (a.utm_source").replace(
        "o.utm_medium ORDER", "o.utm_medium) ORDER"
    ),
    "three_way_join": (
        "SELECT i.product_id, sum(a.spend) FROM orders o JOIN order_items i ON i.order_id = o.order_id "
        "LEFT JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium "
        "AND a.utm_campaign = o.utm_campaign GROUP BY ALL ORDER BY ALL"
    ),
    "join_using": "SELECT count(*) FROM orders JOIN ad_spend USING (utm_source, utm_medium, utm_campaign)",
    "cte": "WITH paid AS (SELECT * FROM orders WHERE status = 'paid') SELECT count(*), sum(total) FROM paid",
    "chained_ctes": (
        "WITH a AS (SELECT customer_id, total FROM orders), b AS (SELECT customer_id, sum(total) AS t "
        "FROM a GROUP BY ALL) SELECT * FROM b ORDER BY ALL"
    ),
    "recursive_cte": (
        "WITH RECURSIVE days(d) AS (SELECT DATE '2026-11-10' UNION ALL SELECT d + 1 FROM days "
        "WHERE d < DATE '2026-11-12') SELECT d, (SELECT count(*) FROM orders "
        "WHERE CAST(ordered_at AS DATE) = d) FROM days ORDER BY d"
    ),
    "cte_shadowing_a_table": "WITH orders AS (SELECT 1 AS x) SELECT * FROM orders",
    "window": (
        "SELECT order_id, sum(total) OVER (PARTITION BY customer_id ORDER BY ordered_at) AS running "
        "FROM orders ORDER BY order_id"
    ),
    "qualify": (
        "SELECT customer_id, order_id FROM orders WHERE customer_id IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at DESC) = 1 ORDER BY ALL"
    ),
    "scalar_subquery": "SELECT order_id, total - (SELECT avg(total) FROM orders) FROM orders ORDER BY 1",
    "correlated_exists": (
        "SELECT order_id FROM orders o WHERE EXISTS (SELECT 1 FROM ad_spend a "
        "WHERE a.utm_source = o.utm_source AND a.utm_campaign = o.utm_campaign) ORDER BY 1"
    ),
    "in_subquery": "SELECT count(*) FROM orders WHERE utm_source IN (SELECT utm_source FROM ad_spend)",
    "derived_table": "SELECT s.st, s.n FROM (SELECT status AS st, count(*) AS n FROM orders GROUP BY 1) s",
    "lateral": "SELECT o.order_id, l.x FROM orders o, LATERAL (SELECT o.total * 2 AS x) l ORDER BY 1",
    "union": "SELECT utm_source FROM orders UNION SELECT utm_source FROM ad_spend ORDER BY 1",
    "intersect_except": (
        "(SELECT utm_source FROM orders INTERSECT SELECT utm_source FROM ad_spend) "
        "EXCEPT SELECT 'meta' ORDER BY 1"
    ),
    "pivot_in": "PIVOT orders ON status IN ('paid', 'refunded') USING sum(total) GROUP BY customer_id",
    "pivot_subquery": (
        "SELECT * FROM (PIVOT ad_spend ON utm_source IN ('google', 'meta') USING sum(spend) GROUP BY date) "
        "ORDER BY date"
    ),
    "unpivot": (
        "UNPIVOT (SELECT order_id, subtotal, total FROM orders) ON subtotal, total "
        "INTO NAME kind VALUE amount ORDER BY ALL"
    ),
    "string_functions": (
        "SELECT upper(status), concat_ws('/', utm_source, utm_medium), "
        "regexp_replace(order_id, 'o', 'order-'), string_split('a,b', ','), "
        "length(coalesce(utm_campaign, '')) FROM orders ORDER BY 3"
    ),
    "lambda_and_lists": "SELECT list_transform(list(total ORDER BY order_id), x -> x * 2) FROM orders",
    "json_functions": "SELECT json_object('id', order_id)::VARCHAR FROM orders ORDER BY 1",
    "group_by_rollup": "SELECT status, utm_source, count(*) FROM orders GROUP BY ROLLUP (1, 2) ORDER BY ALL",
    "values": "VALUES (1, 'a'), (2, 'b')",
    "table_functions": "SELECT * FROM range(2), generate_series(1, 2), unnest([5, 6]) ORDER BY ALL",
    "describe": "DESCRIBE ad_spend",
    "summarize_query": "SUMMARIZE SELECT total FROM orders",
    "show_tables": "SHOW TABLES",
    "show_table": "SHOW orders",
    "catalog": "SELECT column_name FROM information_schema.columns WHERE table_name = 'ad_spend' ORDER BY 1",
    "comments": (
        "/* spend per campaign */ SELECT utm_campaign, sum(spend) -- total\n"
        "FROM ad_spend GROUP BY 1 ORDER BY 1"
    ),
}

#: Join conditions × query shapes: every combination must run and answer as DuckDB does.
JOIN_CONDITIONS = [
    "a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium",
    "(a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium)",
    "a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium AND a.utm_campaign = o.utm_campaign",
    "a.utm_source = o.utm_source OR a.utm_medium = o.utm_medium",
    "a.utm_source = o.utm_source AND NOT (a.utm_medium <> o.utm_medium)",
    "a.utm_source = o.utm_source AND a.date = CAST(o.ordered_at AS DATE)",
    "lower(a.utm_source) = lower(o.utm_source) AND a.utm_medium LIKE o.utm_medium || '%'",
    "a.utm_source IS NOT DISTINCT FROM o.utm_source AND a.utm_medium IN ('cpc', o.utm_medium)",
    "a.utm_source = o.utm_source AND a.spend BETWEEN 0 AND o.total",
]
SHAPES = [
    "SELECT o.order_id, a.utm_campaign FROM orders o JOIN ad_spend a ON {cond} ORDER BY ALL",
    "SELECT count(*) FROM orders o LEFT JOIN ad_spend a ON {cond}",
    "WITH j AS (SELECT o.order_id FROM orders o JOIN ad_spend a ON {cond}) SELECT count(*) FROM j",
    "SELECT * FROM (SELECT o.order_id, a.spend FROM orders o JOIN ad_spend a ON {cond}) s ORDER BY ALL",
    "SELECT order_id FROM orders WHERE order_id IN (SELECT o.order_id FROM orders o JOIN ad_spend a "
    "ON {cond}) ORDER BY 1",
    "SELECT o.order_id, rank() OVER (PARTITION BY a.utm_source ORDER BY a.spend) FROM orders o "
    "JOIN ad_spend a ON {cond} ORDER BY ALL",
    "SELECT o.order_id FROM orders o JOIN ad_spend a ON {cond} UNION SELECT 'none' ORDER BY 1",
]
GENERATED_ACCEPTED = {
    f"shape{s}-cond{c}": shape.format(cond=cond)
    for (s, shape), (c, cond) in itertools.product(enumerate(SHAPES), enumerate(JOIN_CONDITIONS))
}

#: Relations that read files, other databases, settings or SQL text, with the refusal each one gets.
TABLE_ESCAPES = {
    "read_csv('/etc/passwd')": "table function read_csv() is not allowed",
    "read_csv_auto('/etc/passwd')": "table function read_csv_auto() is not allowed",
    "read_parquet('/tmp/x.parquet')": "table function read_parquet() is not allowed",
    "parquet_scan('/tmp/x.parquet')": "table function parquet_scan() is not allowed",
    "parquet_metadata('/tmp/x.parquet')": "table function parquet_metadata() is not allowed",
    "read_json('/tmp/x.json')": "table function read_json() is not allowed",
    "read_json_auto('/tmp/x.json')": "table function read_json_auto() is not allowed",
    "read_ndjson('/tmp/x.json')": "table function read_ndjson() is not allowed",
    "read_text('/etc/passwd')": "table function read_text() is not allowed",
    "read_blob('/etc/passwd')": "table function read_blob() is not allowed",
    "glob('/etc/*')": "table function glob() is not allowed",
    "sniff_csv('/etc/passwd')": "table function sniff_csv() is not allowed",
    "sqlite_scan('/tmp/x.db', 't')": "table function sqlite_scan() is not allowed",
    "postgres_scan('host=db', 'public', 't')": "table function postgres_scan() is not allowed",
    "iceberg_scan('s3://b/t')": "table function iceberg_scan() is not allowed",
    "query('SELECT * FROM orders')": "table function query() is not allowed",
    "query_table('orders')": "table function query_table() is not allowed",
    "json_execute_serialized_sql('{}')": "table function json_execute_serialized_sql() is not allowed",
    "duckdb_settings()": "table function duckdb_settings() is not allowed",
    "duckdb_databases()": "table function duckdb_databases() is not allowed",
    "duckdb_extensions()": "table function duckdb_extensions() is not allowed",
    "duckdb_secrets()": "table function duckdb_secrets() is not allowed",
    "pragma_database_list()": "table function pragma_database_list() is not allowed",
    "'/etc/passwd'": "'/etc/passwd' is not a table name (file paths are not allowed)",
    "'orders.csv'": "'orders.csv' is not a table name",
    '"data.parquet"': "'data.parquet' is not a table name",
    "'https://example.com/x.csv'": "'https://example.com/x.csv' is not a table name",
    "'s3://bucket/x.parquet'": "'s3://bucket/x.parquet' is not a table name",
    "duckdb_settings": "unknown table 'duckdb_settings'",
    "pragma_database_list": "unknown table 'pragma_database_list'",
    "pg_catalog.pg_settings": "'pg_catalog.pg_settings' is not readable here",
    "system.main.duckdb_databases": "unknown system relation 'system.main.duckdb_databases'",
    "other.main.orders": "only this warehouse can be queried, not database 'other'",
}
#: Scalar functions that read files, settings, variables or the environment (or write the server log).
SCALAR_ESCAPES = {
    "getenv('HOME')": "function getenv() is not allowed",
    "current_setting('temp_directory')": "function current_setting() is not allowed",
    "pg_catalog.current_setting('home_directory')": "function current_setting() is not allowed",
    "getvariable('x')": "function getvariable() is not allowed",
    "read_text('/etc/passwd')": "function read_text() is not allowed",
    "nextval('s')": "function nextval() is not allowed",
    "write_log('x')": "function write_log() is not allowed",
    "sleep_ms(10)": "function sleep_ms() is not allowed",
}
#: Where a relation can hide in a query.
TABLE_POSITIONS = [
    "SELECT * FROM {t}",
    "SELECT * FROM orders o JOIN {t} x ON true",
    "SELECT * FROM orders o JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = o.utm_medium "
    "JOIN {t} x ON true",
    "WITH c AS (SELECT * FROM {t}) SELECT * FROM c",
    "WITH c AS (SELECT 1) SELECT * FROM c, (WITH d AS (SELECT * FROM {t}) SELECT * FROM d) e",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, {t} WHERE n < 3) SELECT * FROM r",
    "SELECT (SELECT count(*) FROM {t})",
    "SELECT * FROM orders WHERE EXISTS (SELECT 1 FROM {t})",
    "SELECT * FROM orders, LATERAL (SELECT * FROM {t})",
    "SELECT 1 UNION ALL SELECT 1 FROM {t}",
    "SELECT * FROM (SELECT * FROM (SELECT * FROM {t}) a) b",
    "SELECT * FROM range((SELECT count(*) FROM {t}))",
    "SELECT list_transform([1], x -> (SELECT count(*) FROM {t}))",
    "DESCRIBE SELECT * FROM {t}",
    "SUMMARIZE SELECT * FROM {t}",
    "EXPLAIN SELECT * FROM {t}",
    "EXPLAIN ANALYZE SELECT * FROM {t}",
]
#: Where a function call can hide in a query.
SCALAR_POSITIONS = [
    "SELECT {f}",
    "SELECT order_id FROM orders WHERE status = {f}",
    "WITH c AS (SELECT {f} AS v) SELECT * FROM c",
    "SELECT * FROM orders o JOIN ad_spend a ON a.utm_source = o.utm_source AND a.utm_medium = {f}",
    "SELECT order_id FROM orders ORDER BY {f}",
    "SELECT status, count(*) FROM orders GROUP BY status HAVING max({f}) IS NOT NULL",
    "SELECT list_transform([1], x -> {f})",
    "SELECT * FROM range(3) QUALIFY {f} IS NOT NULL",
    "SELECT * FROM unnest([{f}])",
]
GENERATED_REFUSED = {
    **{
        f"table{p}-{escape}": (position.format(t=escape), message)
        for (p, position), (escape, message) in itertools.product(
            enumerate(TABLE_POSITIONS), TABLE_ESCAPES.items()
        )
    },
    **{
        f"scalar{p}-{escape}": (position.format(f=escape), message)
        for (p, position), (escape, message) in itertools.product(
            enumerate(SCALAR_POSITIONS), SCALAR_ESCAPES.items()
        )
    },
}

_NOT_A_QUERY = "statements are not allowed; only SELECT/WITH/VALUES/PIVOT queries"
#: Statements that are not read-only queries, with the refusal each one gets.
REFUSED = {
    "copy_to": ("COPY orders TO '/tmp/guard.csv'", f"COPY {_NOT_A_QUERY}"),
    "copy_query_to": ("COPY (SELECT * FROM orders) TO '/tmp/guard.parquet' (FORMAT parquet)", "COPY"),
    "copy_from": ("COPY orders FROM '/tmp/guard.csv'", f"COPY {_NOT_A_QUERY}"),
    "export": ("EXPORT DATABASE '/tmp/guard-dump'", f"EXPORT {_NOT_A_QUERY}"),
    # DuckDB's parser itself reads <dir>/schema.sql: the checking parser has no file access.
    "import": ("IMPORT DATABASE '/tmp/guard-dump'", "reads files (IMPORT DATABASE) and is not allowed"),
    "attach": ("ATTACH '/tmp/guard.duckdb' AS other", f"ATTACH {_NOT_A_QUERY}"),
    "attach_read_only": ("ATTACH '/tmp/guard.duckdb' (READ_ONLY)", f"ATTACH {_NOT_A_QUERY}"),
    "detach": ("DETACH other", f"DETACH {_NOT_A_QUERY}"),
    "use": ("USE other", f"USE {_NOT_A_QUERY}"),
    "install": ("INSTALL httpfs", f"INSTALL {_NOT_A_QUERY}"),
    "force_install": ("FORCE INSTALL httpfs", f"FORCE {_NOT_A_QUERY}"),
    "load": ("LOAD httpfs", f"LOAD {_NOT_A_QUERY}"),
    "pragma": ("PRAGMA enable_profiling", f"PRAGMA {_NOT_A_QUERY}"),
    "pragma_table_info": ("PRAGMA table_info('orders')", "table function pragma_table_info() is not allowed"),
    "set": ("SET threads = 1", f"SET {_NOT_A_QUERY}"),
    "set_external_access": ("SET enable_external_access = true", f"SET {_NOT_A_QUERY}"),
    "set_variable": ("SET VARIABLE x = 1", f"SET {_NOT_A_QUERY}"),
    "reset": ("RESET threads", f"RESET {_NOT_A_QUERY}"),
    "call": ("CALL pragma_version()", f"CALL {_NOT_A_QUERY}"),
    "create": ("CREATE TABLE stolen AS SELECT * FROM orders", f"CREATE {_NOT_A_QUERY}"),
    "create_secret": ("CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')", f"CREATE {_NOT_A_QUERY}"),
    "insert": ("INSERT INTO orders SELECT * FROM orders", f"INSERT {_NOT_A_QUERY}"),
    "update": ("UPDATE orders SET total = 0", f"UPDATE {_NOT_A_QUERY}"),
    "delete": ("DELETE FROM orders", f"DELETE {_NOT_A_QUERY}"),
    "alter": ("ALTER TABLE orders ADD COLUMN x INTEGER", f"ALTER {_NOT_A_QUERY}"),
    "drop": ("DROP TABLE orders", f"DROP {_NOT_A_QUERY}"),
    "prepare": ("PREPARE p AS SELECT 1", f"PREPARE {_NOT_A_QUERY}"),
    "checkpoint": ("CHECKPOINT", f"CHECKPOINT {_NOT_A_QUERY}"),
    "comment_then_drop": ("/* looks harmless */ DROP TABLE orders", f"DROP {_NOT_A_QUERY}"),
    "two_statements": ("SELECT 1; DROP TABLE orders", "exactly one statement is allowed, got 2"),
    "two_selects": ("SELECT 1; SELECT 2", "exactly one statement is allowed, got 2"),
    "explain_write": ("EXPLAIN DELETE FROM orders", "not allowed"),
    "explain_copy": ("EXPLAIN ANALYZE COPY orders TO '/tmp/guard.csv'", "not allowed"),
    "summarize_path": ("SUMMARIZE '/etc/passwd'", "'/etc/passwd' is not a table name"),
    "describe_path": ("DESCRIBE 'server.json'", "'server.json' is not a table name"),
    "show_databases": ("SHOW databases", "SHOW DATABASES is not allowed"),
    "cte_body_reads_system_view": (
        "WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings",
        "unknown table 'duckdb_settings'",
    ),
    "cte_out_of_scope": (
        "SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT * FROM duckdb_settings) x, duckdb_settings",
        "unknown table 'duckdb_settings'",
    ),
    "pivot_without_in": ("PIVOT orders ON status USING sum(total)", "list the pivot values"),
    "parse_error": ("SELEKT * FRUM orders", "could not parse SQL: Parser Error: syntax error"),
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    wh = open_warehouse(Path(tmp_path_factory.mktemp("guard")), TENANT)
    with wh.write() as cur:
        for statement in SEED:
            cur.execute(statement)
    yield wh
    wh.close()


def _direct(warehouse: Warehouse, sql: str) -> list[list[Any]]:
    """DuckDB's own answer, without the guard, through the same JSON rendering."""
    return [[to_json_value(v) for v in row] for row in warehouse.query(sql)]


def _refusal(warehouse: Warehouse, sql: str) -> str:
    with pytest.raises(QueryRefused) as info:
        query_warehouse(warehouse, sql)
    return info.value.message


def test_the_reported_compound_join_runs(warehouse: Warehouse) -> None:
    result = query_warehouse(warehouse, COMPOUND_JOIN)
    assert result.rows == [
        ["o1", "brand", "30.0000"],
        ["o1", "generic", "12.5000"],
        ["o3", "retarget", "8.0000"],
    ]


@pytest.mark.parametrize("sql", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_statements_run_as_duckdb_runs_them(warehouse: Warehouse, sql: str) -> None:
    result = query_warehouse(warehouse, sql, limit=10_000)
    assert result.row_count >= 1
    if not sql.startswith(("DESCRIBE", "SUMMARIZE", "SHOW")):  # those render types and stats as text
        assert result.rows == _direct(warehouse, sql)


@pytest.mark.parametrize("sql", GENERATED_ACCEPTED.values(), ids=GENERATED_ACCEPTED.keys())
def test_generated_joins_run_as_duckdb_runs_them(warehouse: Warehouse, sql: str) -> None:
    assert query_warehouse(warehouse, sql, limit=10_000).rows == _direct(warehouse, sql)


@pytest.mark.parametrize(("sql", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_statements_that_are_not_read_only_queries_are_refused(
    warehouse: Warehouse, sql: str, message: str
) -> None:
    assert message in _refusal(warehouse, sql)
    assert warehouse.query("SELECT count(*) FROM orders")[0][0] == 4
    assert not warehouse.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'stolen'")


@pytest.mark.parametrize(("sql", "message"), GENERATED_REFUSED.values(), ids=GENERATED_REFUSED.keys())
def test_every_escape_is_refused_in_every_position(warehouse: Warehouse, sql: str, message: str) -> None:
    assert message in _refusal(warehouse, sql)


def test_the_generated_sets_are_what_they_claim() -> None:
    """Guard against a generator that silently shrinks: every shape, condition, escape and position."""
    assert len(GENERATED_ACCEPTED) == len(SHAPES) * len(JOIN_CONDITIONS) >= 60
    assert len(GENERATED_REFUSED) == len(TABLE_POSITIONS) * len(TABLE_ESCAPES) + len(SCALAR_POSITIONS) * len(
        SCALAR_ESCAPES
    )


def test_import_database_is_refused_without_reading_its_files(warehouse: Warehouse, tmp_path: Path) -> None:
    """DuckDB's parser reads ``<dir>/schema.sql`` for IMPORT DATABASE; a parse error would quote it."""
    (tmp_path / "schema.sql").write_text("leaked_secret_token here\n")
    message = _refusal(warehouse, f"IMPORT DATABASE '{tmp_path}'")
    assert "not allowed" in message and "leaked_secret_token" not in message
