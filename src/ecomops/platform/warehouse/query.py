"""Read-only SQL over one tenant's warehouse (the query module: ``ecomops query``, ``POST …/query``).

People explore their data with ad-hoc SQL, but the warehouse file is shared with the ingest
writer and DuckDB can read and write arbitrary files, attach other databases and load code.
So a query passes three independent barriers before rows come back:

1. **An allowlist over the parsed statement** (sqlglot, DuckDB dialect): exactly one statement,
   and it must be a query (SELECT/WITH/set operations/VALUES/PIVOT) or DESCRIBE/SUMMARIZE/EXPLAIN
   of one, or SHOW TABLES. Every relation it reads must be a table or view of this warehouse (or a
   CTE in scope); the only table functions allowed are ``range``/``generate_series``/``unnest``.
   That rules out ``read_csv('/etc/passwd')``, ``FROM 'file.parquet'`` replacement scans,
   ``query('…')``, ATTACH/COPY/INSTALL/LOAD/PRAGMA/SET/CALL and every DML/DDL statement.
2. **What runs is the SQL regenerated from the validated tree** (without comments), never the text
   the user sent, so a parser disagreement between sqlglot and DuckDB cannot smuggle a second
   statement past step 1.
3. **DuckDB enforces it again**: the statement runs in a ``READ ONLY`` transaction that is rolled
   back, with Python replacement scans off; without a server the file is opened read-only with
   external (file system) access disabled (``Warehouse.read_only``). Rows are fetched from a
   streaming result up to a cap and a watchdog interrupts queries that run past the time limit.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
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
from sqlglot import TokenType, exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from ecomops.kernel import jsonutil
from ecomops.kernel.errors import EcomopsError
from ecomops.platform.warehouse.connection import Warehouse

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
#: Scalar functions with side effects or access to the process environment (``write_log`` writes to
#: the server's DuckDB log).
DENIED_SCALAR_FUNCTIONS = frozenset(
    {"getenv", "nextval", "setval", "current_setting", "pg_sleep", "write_log"}
)
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
#: Deepest bracket nesting a query may have. sqlglot's parser recurses ~17 Python frames per level and
#: hits the interpreter's recursion limit past ~55; real queries stay far below. Deep expressions
#: without brackets (``NOT NOT …``) are caught as a RecursionError instead.
MAX_NESTING = 32
#: Relation names a query may use. Anything with dots, slashes or quotes in it could be a file path that
#: DuckDB's replacement scans would open, so such names are refused even for CTEs.
_RELATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_EXPLAIN = re.compile(r"^\s*EXPLAIN(?P<analyze>\s+ANALYZE)?\s+(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)

#: Statement kinds that change data, schema, settings, sessions or touch files: refused anywhere in the
#: tree (sqlglot parses e.g. ``SELECT … INTO t`` as a Select holding an Into node).
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    cls
    for cls in (
        getattr(exp, name, None)
        for name in (
            "Into",
            "Insert",
            "Update",
            "Delete",
            "Merge",
            "Create",
            "Drop",
            "Alter",
            "AlterColumn",
            "TruncateTable",
            "Copy",
            "Command",
            "Set",
            "SetItem",
            "Pragma",
            "Use",
            "Attach",
            "Detach",
            "Transaction",
            "Commit",
            "Rollback",
            "Install",
            "LoadData",
            "Grant",
            "Revoke",
            "Cache",
            "Uncache",
            "Refresh",
            "Analyze",
            "Kill",
            "Declare",
            "Export",
            "Comment",
        )
    )
    if isinstance(cls, type)
)


class _DropCommandFallbackWarning(logging.Filter):
    """sqlglot logs a warning whenever it falls back to an opaque Command (LOAD, CALL, …); we refuse
    those statements with our own message, so the warning would only be noise on the CLI."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Falling back to parsing as a 'Command'" not in record.getMessage()


logging.getLogger("sqlglot").addFilter(_DropCommandFallbackWarning())


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
    """A validated statement and the SQL that will actually run (regenerated from the validated tree)."""

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

    Asked from DuckDB itself so a new reader added by an upgrade is refused without a code change.
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


def _function_names(node: exp.Func) -> list[str]:
    """Every name a function node may go by, the one the user sees first.

    sqlglot maps some DuckDB functions onto its own classes (``range`` becomes GenerateSeries,
    ``read_csv`` ReadCSV), so both the name as DuckDB will receive it and sqlglot's canonical
    name are checked.
    """
    names: list[str] = []
    if isinstance(node, exp.Anonymous):
        names.append(str(node.name).lower())
    rendered = node.sql(dialect="duckdb", comments=False)
    head = rendered.split("(", 1)[0].strip().strip('"').lower()
    if head and head not in names:
        names.append(head)
    if not isinstance(node, exp.Anonymous) and node.sql_name().lower() not in names:
        names.append(node.sql_name().lower())
    return names


def _in_table_position(node: exp.Expr) -> bool:
    return isinstance(node.parent, exp.Table | exp.From | exp.Join | exp.Lateral)


def _cte_references(tree: exp.Expr) -> set[int]:
    """ids of Table nodes that refer to a CTE visible in their scope (sqlglot's scope analysis).

    If scope analysis fails, nothing counts as a CTE reference, so such names are then looked up as
    real tables and refused if unknown: failing closed rather than open.
    """
    refs: set[int] = set()
    try:
        scopes = traverse_scope(tree)
    except (OptimizeError, SqlglotError, RecursionError):
        return refs
    for scope in scopes:
        for table in scope.tables:
            if not table.args.get("db") and not table.args.get("catalog") and table.name in scope.cte_sources:
                refs.add(id(table))
    return refs


def _check_relation(table: exp.Table, catalog: Catalog, cte_refs: set[int]) -> None:
    name = table.name
    if not _RELATION_NAME.match(name):
        raise QueryRefused(f"refused: {name!r} is not a table name (file paths are not allowed)")
    schema = (table.db or "").lower()
    database = (table.catalog or "").lower()
    if database and database not in (catalog.database, "system"):
        raise QueryRefused(f"refused: only this warehouse can be queried, not database {table.catalog!r}")
    if id(table) in cte_refs:
        return
    if schema in SYSTEM_SCHEMAS:
        if (schema, name.lower()) in SYSTEM_RELATIONS:
            return
        raise QueryRefused(
            f"refused: {table.sql(dialect='duckdb')!r} is not readable here (it exposes the server's "
            "settings or environment); catalog metadata such as information_schema.tables and "
            "information_schema.columns is"
        )
    if database == "system":
        raise QueryRefused(f"refused: unknown system relation {table.sql(dialect='duckdb')!r}")
    if (schema or "main", name.lower()) not in catalog.relations:
        known = ", ".join(sorted(n for s, n in catalog.relations if s == "main" and not n.startswith("_")))
        raise QueryRefused(f"unknown table {table.sql(dialect='duckdb')!r}; tables: {known}")


def _check_tree(tree: exp.Expr, catalog: Catalog) -> None:
    cte_refs = _cte_references(tree)
    blocked_functions = (duckdb_table_function_names() - ALLOWED_TABLE_FUNCTIONS) | DENIED_SCALAR_FUNCTIONS
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise QueryRefused(
                f"refused: {node.key.upper()} is not allowed; only read-only queries can run here"
            )
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Identifier):
                _check_relation(node, catalog, cte_refs)
            elif not isinstance(node.this, exp.Func):
                raise QueryRefused(f"refused: unsupported table source {node.sql(dialect='duckdb')!r}")
        elif isinstance(node, exp.Unnest):
            continue
        elif isinstance(node, exp.Func):
            names = _function_names(node)
            if _in_table_position(node):
                if not ALLOWED_TABLE_FUNCTIONS.intersection(names):
                    raise QueryRefused(
                        f"refused: table function {names[0]}() is not allowed "
                        f"(allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})"
                    )
            elif blocked := [n for n in names if n in blocked_functions]:
                raise QueryRefused(f"refused: function {blocked[0]}() is not allowed")


_OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
_CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})


def _check_nesting(sql: str) -> None:
    """Refuse bracket nesting deeper than ``MAX_NESTING`` before the recursive parser sees it.

    Counted on sqlglot's tokens (iterative), so brackets inside strings, quoted names and comments
    do not count; text that does not tokenize is left to the parser to report."""
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


def _parse_single(sql: str) -> exp.Expr:
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        description = first.get("description", str(exc)) if first else str(exc)
        raise QueryRefused(f"could not parse SQL{where}: {description}") from exc
    except SqlglotError as exc:
        raise QueryRefused(f"could not parse SQL: {exc}") from exc
    if not statements:
        raise QueryRefused("empty query")
    if len(statements) > 1:
        raise QueryRefused(f"refused: exactly one statement is allowed, got {len(statements)}")
    return statements[0]


def _statement_kind(tree: exp.Expr, sql: str) -> str:
    """The allowlisted statement kinds, or refuse."""
    if isinstance(tree, exp.Query | exp.Values | exp.Pivot):
        return "query"
    if isinstance(tree, exp.Describe | exp.Summarize):
        # Only a table or a query may follow: a quoted string here is a file path DuckDB would read.
        target = tree.this
        if not isinstance(target, exp.Query) and not (
            isinstance(target, exp.Table)
            and isinstance(target.this, exp.Identifier)
            and not target.this.quoted
        ):
            raise QueryRefused(
                f"refused: {tree.key.upper()} takes a warehouse table or a query, "
                f"not {target.sql(dialect='duckdb') if target is not None else 'nothing'}"
            )
        return "describe" if isinstance(tree, exp.Describe) else "summarize"
    if isinstance(tree, exp.Show) and str(tree.name).upper() in ("TABLES", "ALL TABLES"):
        return "show"
    words = sql.split(None, 1)
    label = words[0].upper() if words else tree.key.upper()
    raise QueryRefused(
        f"refused: {label} statements are not allowed; only SELECT/WITH/VALUES/PIVOT queries, "
        "DESCRIBE, SUMMARIZE, EXPLAIN and SHOW TABLES can run here"
    )


def check_read_only(sql: str, catalog: Catalog) -> CheckedQuery:
    """Validate ``sql`` against the allowlist; return the statement that will run, or raise QueryRefused.

    sqlglot parses, walks and regenerates by recursion, so a deeply nested expression (``NOT NOT …``,
    ``((((…))))``) used to raise RecursionError: a 500 and a 77 KB traceback in the log per request.
    Bracket depth is refused up front; any other RecursionError becomes the same short refusal, without
    its traceback (``from None``)."""
    if len(sql) > MAX_SQL_CHARS:
        raise QueryRefused(f"query longer than {MAX_SQL_CHARS} characters")
    _check_nesting(sql)
    try:
        return _check_read_only(sql, catalog)
    except RecursionError:
        raise QueryRefused("refused: the query is nested too deeply to be checked") from None


def _check_read_only(sql: str, catalog: Catalog) -> CheckedQuery:
    explain = _EXPLAIN.match(sql)
    if explain:
        inner = _check_read_only(explain.group("rest"), catalog)
        if inner.kind != "query":
            raise QueryRefused("refused: EXPLAIN is only allowed for queries")
        prefix = "EXPLAIN ANALYZE " if explain.group("analyze") else "EXPLAIN "
        return CheckedQuery("explain", prefix + inner.sql)
    tree = _parse_single(sql)
    kind = _statement_kind(tree, sql)
    _check_tree(tree, catalog)
    regenerated = tree.sql(dialect="duckdb", comments=False)
    # Defence in depth: what runs must itself be one allowed statement of the same kind.
    again = _parse_single(regenerated)
    if _statement_kind(again, regenerated) != kind:
        raise QueryRefused("refused: the statement changes meaning when normalised")
    _check_tree(again, catalog)
    return CheckedQuery(kind, regenerated)


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
