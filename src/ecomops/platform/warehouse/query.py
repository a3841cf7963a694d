"""Read-only SQL over one tenant's warehouse (the query module: ``ecomops query``, ``POST …/query``).

People explore their data with ad-hoc SQL, but the warehouse file is shared with the ingest
writer and DuckDB can read and write arbitrary files, attach other databases and load code.
So a query passes three independent barriers before rows come back:

1. **An allowlist over DuckDB's own parse of the statement**: DuckDB's parser splits the text into
   statements (exactly one is allowed) and gives each one's type: a query (SELECT/WITH/set
   operations/VALUES/PIVOT with an IN list, and DESCRIBE/SUMMARIZE/SHOW TABLES, which DuckDB parses as
   queries) or EXPLAIN of one. ``json_serialize_sql`` then gives the query's parse tree, and every
   relation it reads must be a table or view of this warehouse (or a CTE in scope); the only table
   functions allowed are ``range``/``generate_series``/``unnest``, and no function may read files,
   settings or the environment. That rules out ``read_csv('/etc/passwd')``, ``FROM 'file.parquet'``
   replacement scans, ``query('…')``, ATTACH/COPY/INSTALL/LOAD/PRAGMA/SET/CALL and every DML/DDL
   statement, wherever they hide (CTE, subquery, join, lateral, function argument).
2. **What runs is the statement DuckDB parsed**, its text as DuckDB's parser cut it out: the same
   library parses it again to run it, so the check and the execution cannot read the text
   differently (an earlier sqlglot-based check did: it refused ``JOIN … ON a = b AND c = d``).
3. **DuckDB enforces it again**: the statement runs in a ``READ ONLY`` transaction that is rolled
   back, with Python replacement scans off; without a server the file is opened read-only with
   external (file system) access disabled (``Warehouse.read_only``). Rows are fetched from a
   streaming result up to a cap and a watchdog interrupts queries that run past the time limit.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

import duckdb
import sqlglot
from pydantic import JsonValue
from sqlglot import TokenType
from sqlglot.errors import SqlglotError

from ecomops.kernel import jsonutil
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.warehouse.connection import Warehouse

#: One node of DuckDB's JSON parse tree.
Node = dict[str, Any]

DEFAULT_LIMIT = 1_000
#: Largest row cap a caller may ask for; bigger extracts belong in an export job, not a JSON response.
MAX_LIMIT = 100_000
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Largest answer in bytes of JSON rows: a row cap alone lets 100,000 wide rows fill gigabytes.
MAX_RESULT_BYTES = 16 * 1024 * 1024
#: Rows fetched and converted at a time: the byte cap and the time limit are checked between chunks.
_FETCH_CHUNK = 1024
MAX_SQL_CHARS = 100_000

#: Table functions that only compute values; every other table function reads files, settings or SQL.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
#: Scalar functions with side effects or access to the process environment or the session's settings
#: and variables (``write_log`` writes to the server's DuckDB log, ``sleep_ms`` holds a worker).
#: Every table function name except the allowed ones is refused as a scalar too.
DENIED_SCALAR_FUNCTIONS = frozenset(
    {
        "getenv",
        "current_setting",
        "getvariable",
        "nextval",
        "currval",
        "setval",
        "write_log",
        "sleep_ms",
        "pg_sleep",
        "read_text",
        "read_blob",
    }
)
#: What ``SHOW`` may list without a table: this warehouse's tables (``SHOW TABLES``, ``SHOW ALL TABLES``);
#: ``SHOW databases`` would list the server's database file paths.
SHOWABLE = frozenset({"tables", "__show_tables_expanded"})
#: Catalog schemas of DuckDB itself: only the relations in ``SYSTEM_RELATIONS`` may be read there.
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog"})
#: DuckDB's catalog views a query may read: plain metadata about this warehouse's schemas, tables,
#: columns, constraints, indexes and types, which a SQL client needs to explore. An allowlist, because
#: the same schemas also hold ``pg_catalog.pg_settings`` (every setting: the data-dir and temp paths,
#: the tenant id in them, ``/root/…`` when the server runs as root) and ``pg_prepared_statements``, and
#: a DuckDB upgrade may add more such views; ``duckdb_*``/``pragma_*`` views and functions (database
#: file paths, extensions, temporary files, secrets) are refused as unknown tables or table functions.
SYSTEM_RELATIONS = frozenset(
    {
        ("information_schema", name)
        for name in (
            "schemata",
            "tables",
            "columns",
            "views",
            "table_constraints",
            "key_column_usage",
            "check_constraints",
            "referential_constraints",
            "constraint_column_usage",
            "constraint_table_usage",
            "character_sets",
        )
    }
    | {
        ("pg_catalog", name)
        for name in (
            "pg_am",
            "pg_attrdef",
            "pg_attribute",
            "pg_class",
            "pg_collation",
            "pg_constraint",
            "pg_database",
            "pg_depend",
            "pg_description",
            "pg_enum",
            "pg_index",
            "pg_indexes",
            "pg_namespace",
            "pg_proc",
            "pg_sequence",
            "pg_sequences",
            "pg_tables",
            "pg_tablespace",
            "pg_type",
            "pg_views",
        )
    }
)
#: Deepest bracket nesting a query may have: real queries stay far below, and the parse tree of a deeper
#: one takes the checker (Python's JSON reader recurses) and DuckDB's parser needless work. Deep
#: expressions without brackets (``NOT NOT …``) are refused by DuckDB's parser or as a RecursionError.
MAX_NESTING = 32
#: Relation names a query may use. Anything with dots, slashes or quotes in it could be a file path that
#: DuckDB's replacement scans would open, so such names are refused even for CTEs.
_RELATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_EXPLAIN = re.compile(r"^\s*EXPLAIN(?P<analyze>\s+ANALYZE)?\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)


class QueryRefused(EcomopsError):
    """The statement is not a read-only query over this warehouse; nothing was executed."""

    status_code = 400
    code = "query_refused"


class QueryFailed(EcomopsError):
    """DuckDB rejected or failed a statement that passed validation (bad column, type error, …)."""

    status_code = 400
    code = "query_failed"


class QueryTimeout(EcomopsError):
    status_code = 400
    code = "query_timeout"


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class QueryResult:
    columns: list[Column]
    rows: list[list[JsonValue]]
    #: True when the statement produced more rows than the cap (or their JSON more bytes than
    #: ``MAX_RESULT_BYTES``); only the rows before the cap are returned.
    truncated: bool
    elapsed_ms: float
    #: Why the rows stop early: "rows" (the row limit) or "bytes" (the size cap); None when complete.
    truncated_by: str | None = None

    @property
    def row_count(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Catalog:
    """What a query may read: this warehouse's relations as (schema, name), lower-cased."""

    database: str
    relations: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class CheckedQuery:
    """A validated statement and the SQL that will actually run (the one statement DuckDB's parser found)."""

    kind: str
    sql: str


def read_catalog(con: duckdb.DuckDBPyConnection) -> Catalog:
    database_row = con.execute("SELECT current_database()").fetchone()
    database = str(database_row[0]) if database_row else ""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ?", [database]
    ).fetchall()
    return Catalog(database.lower(), frozenset((str(s).lower(), str(n).lower()) for s, n in rows))


@lru_cache(maxsize=1)
def duckdb_table_function_names() -> frozenset[str]:
    """Names DuckDB knows as table functions, table macros or pragmas (the ways SQL reaches files).

    Asked from DuckDB itself so a new reader added by an upgrade is refused without a code change:
    called as a scalar (``SELECT read_text('/etc/passwd')``) such a name is refused too, with the same
    message whether or not DuckDB would have found a scalar overload.
    """
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type IN ('table', 'table_macro', 'pragma')"
        ).fetchall()
    finally:
        con.close()
    return frozenset(str(r[0]) for r in rows)


def _check_relation(table: Node, catalog: Catalog, ctes: frozenset[str]) -> None:
    """A relation read by name (DuckDB's BASE_TABLE): a CTE in scope, or a relation of this warehouse.

    DuckDB opens an unknown name that looks like a file (``'x.csv'``, ``"s3://b/k.parquet"``) with a
    replacement scan, so a name that could be a path is refused before the catalogue is consulted."""
    name = str(table.get("table_name") or "")
    schema = str(table.get("schema_name") or "").lower()
    database = str(table.get("catalog_name") or "").lower()
    shown = ".".join(part for part in (database, schema, name) if part)
    if not _RELATION_NAME.match(name):
        raise QueryRefused(f"refused: {name!r} is not a table name (file paths are not allowed)")
    if database and database not in (catalog.database, "system"):
        raise QueryRefused(f"refused: only this warehouse can be queried, not database {database!r}")
    if not schema and not database and name.lower() in ctes:
        return
    if schema in SYSTEM_SCHEMAS:
        if (schema, name.lower()) in SYSTEM_RELATIONS:
            return
        raise QueryRefused(
            f"refused: {shown!r} is not readable here (it exposes the server's settings or environment); "
            "catalog metadata such as information_schema.tables and information_schema.columns is"
        )
    if database == "system":
        raise QueryRefused(f"refused: unknown system relation {shown!r}")
    if (schema or "main", name.lower()) not in catalog.relations:
        known = ", ".join(sorted(n for s, n in catalog.relations if s == "main" and not n.startswith("_")))
        raise QueryRefused(f"unknown table {shown!r}; tables: {known}")


def _cte_scopes(node: Node, outer: frozenset[str]) -> tuple[list[tuple[Any, frozenset[str]]], frozenset[str]]:
    """The CTE bodies of a query node with the names each one sees, and the names its own body sees.

    A CTE sees the CTEs defined before it (and itself when it is recursive), the query after
    ``WITH`` sees them all. A name seen as a CTE is not looked up in the catalogue, so the scope is
    kept as narrow as DuckDB's: ``WITH duckdb_settings AS (SELECT * FROM duckdb_settings)`` reads the
    system view in its body and is refused there."""
    entries = (node.get("cte_map") or {}).get("map") or []
    names = [str(entry["key"]).lower() for entry in entries]
    bodies: list[tuple[Any, frozenset[str]]] = []
    for index, entry in enumerate(entries):
        query = entry["value"]["query"]
        visible = set(outer) | set(names[:index])
        body = query.get("node") or {}
        if body.get("type") == "RECURSIVE_CTE_NODE" and str(body.get("cte_name")).lower() == names[index]:
            visible.add(names[index])
        bodies.append((query, frozenset(visible)))
    return bodies, outer | frozenset(names)


def _check_tree(tree: Node, catalog: Catalog) -> None:
    """Walk DuckDB's own parse tree of one statement (``json_serialize_sql``) and refuse every way out.

    Iterative, so a deep tree cannot exhaust Python's stack. Checked: every relation read by name
    (:func:`_check_relation`), every table function (only ``ALLOWED_TABLE_FUNCTIONS``), every scalar or
    window function call (none that reads files, settings or the environment) and every SHOW."""
    blocked = (duckdb_table_function_names() - ALLOWED_TABLE_FUNCTIONS) | DENIED_SCALAR_FUNCTIONS
    stack: list[tuple[Any, frozenset[str]]] = [(tree, frozenset())]
    while stack:
        node, ctes = stack.pop()
        if isinstance(node, list):
            stack.extend((child, ctes) for child in node)
            continue
        if not isinstance(node, dict):
            continue
        if node.get("cte_map"):
            bodies, ctes = _cte_scopes(node, ctes)
            stack.extend(bodies)
            node = {key: value for key, value in node.items() if key != "cte_map"}
        kind = node.get("type")
        if kind == "BASE_TABLE":
            _check_relation(node, catalog, ctes)
        elif kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name") or "").lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryRefused(
                    f"refused: table function {name}() is not allowed "
                    f"(allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})"
                )
        elif kind == "SHOW_REF" and node.get("query") is None:
            shown = str(node.get("table_name") or "").strip('"').lower()
            if shown not in SHOWABLE:
                raise QueryRefused(
                    f"refused: SHOW {shown.upper()} is not allowed (it lists the server's databases or "
                    "settings); SHOW TABLES and DESCRIBE <table> are"
                )
        elif "function_name" in node:
            name = str(node["function_name"]).lower()
            if name in blocked:
                raise QueryRefused(f"refused: function {name}() is not allowed")
        stack.extend((value, ctes) for value in node.values() if isinstance(value, dict | list))


_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


def _check_nesting(sql: str) -> None:
    """Refuse bracket nesting deeper than ``MAX_NESTING`` before the parser sees it.

    Counted on sqlglot's tokens (iterative), so brackets inside strings, quoted names and comments
    do not count; text that does not tokenize is left to DuckDB's parser to report."""
    try:
        tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(sql)
    except SqlglotError:
        return
    depth = 0
    for token in tokens:
        if token.token_type in _OPENING:
            depth += 1
            if depth > MAX_NESTING:
                raise QueryRefused(
                    f"refused: brackets nested more than {MAX_NESTING} deep "
                    f"(line {token.line}, column {token.col})"
                )
        elif token.token_type in _CLOSING:
            depth = max(0, depth - 1)


#: DuckDB's parser, for checking only: an empty in-memory database, so parsing can never touch data, and
#: without file system access, because DuckDB's parser reads files itself for ``IMPORT DATABASE '<dir>'``
#: (its schema.sql, whose text a parse error would then quote back). The statement then runs on the
#: tenant's cursor, parsed again by the same DuckDB library.
_PARSER = duckdb.connect(":memory:", config={"enable_external_access": False})
_PARSER_LOCK = threading.Lock()


def _duckdb_message(exc: duckdb.Error) -> str:
    """DuckDB's message with the line it points at, without the caret drawing."""
    paragraphs = [p.strip() for p in str(exc).split("\n\n") if p.strip()]
    message = paragraphs[0] if paragraphs else type(exc).__name__
    line = next((p.splitlines()[0] for p in paragraphs[1:] if p.startswith("LINE ")), "")
    return f"{message} ({line[:120]})" if line else message


def _statements(sql: str) -> list[duckdb.Statement]:
    with _PARSER_LOCK:
        try:
            return list(_PARSER.extract_statements(sql))
        except duckdb.PermissionException:
            raise QueryRefused(
                "refused: the statement reads files (IMPORT DATABASE) and is not allowed; only read-only "
                "queries can run here"
            ) from None
        except duckdb.Error as exc:
            raise QueryRefused(f"could not parse SQL: {_duckdb_message(exc)}") from None


def _serialized(sql: str) -> Node:
    """DuckDB's parse tree of one SELECT statement, as ``json_serialize_sql`` gives it."""
    with _PARSER_LOCK:
        row = _PARSER.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    parsed = json.loads(str(row[0])) if row else {}
    if parsed.get("error"):
        raise QueryRefused(f"refused: {parsed.get('error_message', 'the statement cannot be checked')}")
    statements = parsed.get("statements") or []
    if len(statements) != 1:
        raise QueryRefused(f"refused: exactly one statement is allowed, got {len(statements)}")
    tree: Node = statements[0]
    return tree


def _label(sql: str, statement: duckdb.Statement) -> str:
    word = re.match(r"\s*([A-Za-z]+)", sql)
    return word.group(1).upper() if word else statement.type.name


def _kind(tree: Node) -> str:
    source = (tree.get("node") or {}).get("from_table") or {}
    if source.get("type") != "SHOW_REF":
        return "query"
    if source.get("query") is None:
        return "show"
    return "summarize" if source.get("show_type") == "SUMMARY" else "describe"


def check_read_only(sql: str, catalog: Catalog) -> CheckedQuery:
    """Validate ``sql`` against the allowlist; return the statement that will run, or raise QueryRefused.

    DuckDB's own parser decides what the text is: how many statements, of which type, and (through
    ``json_serialize_sql``) which relations and functions the query reads. So the decision is about
    exactly what DuckDB would execute: ``JOIN ad_spend a ON a.x = o.x AND a.y = o.y`` is a join, never a
    misread table function. Bracket depth is refused up front, and a tree too deep for Python's JSON
    reader gets the same short refusal, without a traceback (``from None``)."""
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"query longer than {MAX_SQL_CHARS} characters")
    _check_nesting(sql)
    try:
        return _check_read_only(sql, catalog)
    except RecursionError:
        raise QueryRefused("refused: the query is nested too deeply to be checked") from None


def _check_read_only(sql: str, catalog: Catalog) -> CheckedQuery:
    statements = _statements(sql)
    if not statements:
        raise QueryRefused("empty query")
    if any(not s.query.strip() for s in statements):
        # DuckDB expands a PIVOT without an IN list into CREATE TYPE … + SELECT, with no text of its own.
        raise QueryRefused(
            f"refused: this statement expands to {len(statements)} statements (a PIVOT without IN (…) "
            "creates a type first); list the pivot values, e.g. PIVOT orders ON status IN ('paid', "
            "'refunded') USING sum(total)"
        )
    if len(statements) > 1:
        raise QueryRefused(f"refused: exactly one statement is allowed, got {len(statements)}")
    statement = statements[0]
    text = statement.query
    if statement.type == duckdb.StatementType.EXPLAIN:
        explain = _EXPLAIN.match(text)
        if not explain:
            raise QueryRefused("refused: EXPLAIN [ANALYZE] must be followed directly by a query")
        inner = _check_read_only(explain.group("rest"), catalog)
        if inner.kind != "query":
            raise QueryRefused("refused: EXPLAIN is only allowed for queries")
        return CheckedQuery("explain", text)
    if statement.type != duckdb.StatementType.SELECT:
        raise QueryRefused(
            f"refused: {_label(text, statement)} statements are not allowed; only SELECT/WITH/VALUES/PIVOT "
            "queries, DESCRIBE, SUMMARIZE, EXPLAIN and SHOW TABLES can run here"
        )
    tree = _serialized(text)
    _check_tree(tree, catalog)
    return CheckedQuery(_kind(tree), text)


def _iso_duration(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    seconds = value.seconds + value.microseconds / 1_000_000
    return f"{sign}P{value.days}DT{seconds:g}S"


def to_json_value(value: Any) -> JsonValue:
    """Render one DuckDB value for JSON without losing meaning.

    Decimals become strings so money keeps its exact digits (a JSON number is a float to most
    readers); times become ISO 8601; blobs base64; non-finite floats the strings JavaScript uses.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | dt_time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return str(value)


def _parse_json(value: Any) -> JsonValue:
    """DuckDB hands JSON columns over as text; answer them as JSON values, not as escaped strings."""
    if not isinstance(value, str):
        return to_json_value(value)
    try:
        parsed: JsonValue = json.loads(value, parse_constant=_reject_constant)
    except ValueError:
        return value
    return parsed


def _reject_constant(name: str) -> None:
    """NaN/Infinity inside a JSON column are not JSON; keep such a value as its text."""
    raise ValueError(f"non-standard JSON constant {name}")


def run_query(
    cursor: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = MAX_RESULT_BYTES,
) -> QueryResult:
    """Validate and run one read-only statement on ``cursor`` (owned by the caller, used by one thread).

    Rows are fetched from the streaming result a chunk at a time and converted as they come, so memory
    holds at most the answer (capped at ``max_bytes`` of JSON) and one chunk; the watchdog interrupts
    DuckDB at the time limit, and the loop checks it between chunks for the Python-side conversion."""
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryRefused(f"limit must be between 1 and {MAX_LIMIT}")
    started = time.perf_counter()
    cursor.execute("SET python_enable_replacements = false")
    cursor.execute("BEGIN TRANSACTION READ ONLY")
    timed_out = threading.Event()

    def _interrupt() -> None:
        timed_out.set()
        cursor.interrupt()

    watchdog = threading.Timer(timeout_seconds, _interrupt)
    watchdog.daemon = True
    try:
        checked = check_read_only(sql, read_catalog(cursor))
        watchdog.start()
        try:
            cursor.execute(checked.sql)
            description = cursor.description or []
            columns = [Column(str(d[0]), str(d[1])) for d in description]
            rows, truncated_by = _fetch(cursor, columns, limit, max_bytes, timed_out)
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise QueryTimeout(f"query cancelled after {timeout_seconds:g} s") from exc
            raise QueryFailed(str(exc).split("\n\nLINE", 1)[0], {"sql": checked.sql}) from exc
    finally:
        watchdog.cancel()
        # The transaction may already be aborted by the failure being reported.
        with contextlib.suppress(duckdb.Error):
            cursor.execute("ROLLBACK")
    if timed_out.is_set():
        raise QueryTimeout(f"query cancelled after {timeout_seconds:g} s")
    elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return QueryResult(columns, rows, truncated_by is not None, elapsed_ms, truncated_by)


def _fetch(
    cursor: duckdb.DuckDBPyConnection,
    columns: list[Column],
    limit: int,
    max_bytes: int,
    timed_out: threading.Event,
) -> tuple[list[list[JsonValue]], str | None]:
    """Up to ``limit`` rows whose JSON stays under ``max_bytes``, and what cut them short (if anything)."""
    json_columns = {i for i, c in enumerate(columns) if c.type == "JSON"}
    rows: list[list[JsonValue]] = []
    size = 0
    while not timed_out.is_set():
        chunk = cursor.fetchmany(min(_FETCH_CHUNK, limit + 1 - len(rows)))
        if not chunk:
            return rows, None
        for raw in chunk:
            if len(rows) == limit:
                return rows, "rows"
            row = [_parse_json(v) if i in json_columns else to_json_value(v) for i, v in enumerate(raw)]
            size += len(jsonutil.dumps(row)) + 1
            if size > max_bytes:
                return rows, "bytes"
            rows.append(row)
    return rows, None


def query_warehouse(
    warehouse: Warehouse,
    sql: str,
    *,
    limit: int = DEFAULT_LIMIT,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> QueryResult:
    """Run a read-only query on a warehouse this process has open, on a private cursor.

    A file a command opened read-only (no server owns it) also gets file system access switched off:
    that can only be switched off, never back on, for the database instance, so it is done only where
    the instance lives as long as the command (the server's keeps its access for imports)."""
    cursor = warehouse.cursor()
    try:
        if warehouse.read_only:
            cursor.execute("SET enable_external_access = false")
        return run_query(cursor, sql, limit=limit, timeout_seconds=timeout_seconds)
    finally:
        cursor.close()
