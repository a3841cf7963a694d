"""The staging area: a private in-memory DuckDB where raw chunks land and presets transform them.

Staging is separate from the tenant warehouse so reading and validating a large file never holds
the warehouse write lock, and a failure before the apply step leaves the warehouse untouched.
Presets fill the ``st_*`` tables below (one per warehouse table) and ``rejects``; the apply step
copies them into the warehouse. All SQL is static text with ``$name`` parameters.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ecomops.imports.reader import FileKind

#: The staged shape of every warehouse table an import can write. ``_file``/``_row`` point at the
#: input row a record came from (NULL for records derived from several rows, e.g. an order built
#: from its lines); they drive per-file counts and in-import de-duplication (first row wins).
STAGED_DDL = """
CREATE TABLE st_orders (
    order_id VARCHAR, external_id VARCHAR, source VARCHAR, channel VARCHAR, customer_id VARCHAR,
    status VARCHAR, ordered_at TIMESTAMPTZ, paid_at TIMESTAMPTZ, currency VARCHAR,
    subtotal DECIMAL(18,4), discount DECIMAL(18,4), shipping DECIMAL(18,4), tax DECIMAL(18,4),
    total DECIMAL(18,4), coupon VARCHAR, items_count INTEGER, country VARCHAR, region VARCHAR,
    city VARCHAR, properties JSON, _file INTEGER, _row BIGINT);
CREATE TABLE st_items (
    item_id VARCHAR, order_id VARCHAR, product_id VARCHAR, sku VARCHAR, name VARCHAR, category VARCHAR,
    quantity INTEGER, unit_price DECIMAL(18,4), discount DECIMAL(18,4), line_total DECIMAL(18,4),
    currency VARCHAR, ordered_at TIMESTAMPTZ, seller_id VARCHAR,
    -- Shipping charged for this line (Olist freight); added to the order's shipping, not stored per line.
    shipping DECIMAL(18,4), _file INTEGER, _row BIGINT);
CREATE TABLE st_refunds (
    refund_id VARCHAR, order_id VARCHAR, product_id VARCHAR, sku VARCHAR, quantity INTEGER,
    amount DECIMAL(18,4), currency VARCHAR, reason VARCHAR, source VARCHAR, refunded_at TIMESTAMPTZ,
    -- Who and where, for a refund whose order is not in the warehouse (an unmatched cancellation).
    customer_id VARCHAR, country VARCHAR,
    -- Staging only: the refund was linked to an earlier sale (true), is the part of a cancellation
    -- that no sale covered (false), or the preset does not link returns (NULL). For the summary.
    matched BOOLEAN, _file INTEGER, _row BIGINT);
-- Non-product money lines (postage, discounts, fees, adjustments, samples): ``order_charges``.
CREATE TABLE st_charges (
    charge_id VARCHAR, order_id VARCHAR, kind VARCHAR, code VARCHAR, description VARCHAR, quantity INTEGER,
    amount DECIMAL(18,4), currency VARCHAR, customer_id VARCHAR, country VARCHAR, source VARCHAR,
    charged_at TIMESTAMPTZ, _file INTEGER, _row BIGINT);
CREATE TABLE st_customers (
    customer_id VARCHAR, source VARCHAR, first_seen_at TIMESTAMPTZ, last_seen_at TIMESTAMPTZ,
    channel VARCHAR, country VARCHAR, region VARCHAR, city VARCHAR, attributes JSON,
    _file INTEGER, _row BIGINT);
CREATE TABLE st_products (
    product_id VARCHAR, sku VARCHAR, name VARCHAR, category VARCHAR,
    -- Look the category up in product_category_translations (English) when loading.
    translate_category BOOLEAN, attributes JSON,
    -- Last price sold at (imports that build the catalogue from order lines); NULL otherwise.
    price DECIMAL(18,4), currency VARCHAR, _file INTEGER, _row BIGINT);
CREATE TABLE st_reviews (
    review_id VARCHAR, order_id VARCHAR, product_id VARCHAR, customer_id VARCHAR, channel VARCHAR,
    rating SMALLINT, title VARCHAR, body VARCHAR, language VARCHAR, created_at TIMESTAMPTZ,
    _file INTEGER, _row BIGINT);
CREATE TABLE st_payments (
    payment_id VARCHAR, order_id VARCHAR, sequential INTEGER, payment_type VARCHAR, installments INTEGER,
    amount DECIMAL(18,4), currency VARCHAR, source VARCHAR, _file INTEGER, _row BIGINT);
CREATE TABLE st_sellers (
    seller_id VARCHAR, source VARCHAR, zip_code_prefix VARCHAR, city VARCHAR, region VARCHAR,
    country VARCHAR, _file INTEGER, _row BIGINT);
CREATE TABLE st_translations (
    category VARCHAR, language VARCHAR, translation VARCHAR, _file INTEGER, _row BIGINT);
-- Events made from session rows (the sessions presets): ``_record`` marks the one event per input row
-- (the session's start) that counts the row as loaded; the row's other events carry its _file/_row too.
CREATE TABLE st_events (
    message_id VARCHAR, type VARCHAR, event VARCHAR, anonymous_id VARCHAR, ts TIMESTAMPTZ,
    source_id VARCHAR, channel VARCHAR, session_id VARCHAR, utm_source VARCHAR, page_path VARCHAR,
    device VARCHAR, os VARCHAR, country VARCHAR, region VARCHAR, city VARCHAR, revenue DECIMAL(18,4),
    currency VARCHAR, properties JSON, _record BOOLEAN, _file INTEGER, _row BIGINT);
-- One line per failed check; a row with two problems has two lines. ``col`` is canonical and is
-- translated to the file's own header when the reject file is written; ``chk`` orders the lines.
CREATE TABLE rejects (_file INTEGER, _row BIGINT, col VARCHAR, value VARCHAR, reason VARCHAR, chk INTEGER);
-- The same record twice in one import (overlapping exports): the first file and row win. ``dup_<x>``
-- lists the losing rows by rowid (the apply step flags them in place), ``u_<x>`` is the rest.
CREATE VIEW dup_orders AS SELECT rowid AS rid FROM st_orders
    QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY _file NULLS LAST, _row, rowid) > 1;
-- Items are the big table: sort only the few repeated ids instead of every row.
CREATE VIEW dup_items AS SELECT rowid AS rid FROM st_items
    WHERE item_id IN (SELECT item_id FROM st_items GROUP BY item_id HAVING count(*) > 1)
    QUALIFY row_number() OVER (PARTITION BY item_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_refunds AS SELECT rowid AS rid FROM st_refunds
    QUALIFY row_number() OVER (PARTITION BY refund_id ORDER BY _file NULLS LAST, _row, rowid) > 1;
CREATE VIEW dup_charges AS SELECT rowid AS rid FROM st_charges
    QUALIFY row_number() OVER (PARTITION BY charge_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_customers AS SELECT rowid AS rid FROM st_customers
    QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY _file NULLS LAST, _row, rowid) > 1;
CREATE VIEW dup_products AS SELECT rowid AS rid FROM st_products
    QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_reviews AS SELECT rowid AS rid FROM st_reviews
    QUALIFY row_number() OVER (PARTITION BY review_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_payments AS SELECT rowid AS rid FROM st_payments
    QUALIFY row_number() OVER (PARTITION BY payment_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_sellers AS SELECT rowid AS rid FROM st_sellers
    QUALIFY row_number() OVER (PARTITION BY seller_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_translations AS SELECT rowid AS rid FROM st_translations
    QUALIFY row_number() OVER (PARTITION BY category, language ORDER BY _file, _row, rowid) > 1;
CREATE VIEW dup_events AS SELECT rowid AS rid FROM st_events
    QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY _file, _row, rowid) > 1;
CREATE VIEW u_orders AS SELECT s.* FROM st_orders s ANTI JOIN dup_orders d ON d.rid = s.rowid;
CREATE VIEW u_items AS SELECT s.* FROM st_items s ANTI JOIN dup_items d ON d.rid = s.rowid;
CREATE VIEW u_refunds AS SELECT s.* FROM st_refunds s ANTI JOIN dup_refunds d ON d.rid = s.rowid;
CREATE VIEW u_charges AS SELECT s.* FROM st_charges s ANTI JOIN dup_charges d ON d.rid = s.rowid;
CREATE VIEW u_customers AS SELECT s.* FROM st_customers s ANTI JOIN dup_customers d ON d.rid = s.rowid;
CREATE VIEW u_products AS SELECT s.* FROM st_products s ANTI JOIN dup_products d ON d.rid = s.rowid;
CREATE VIEW u_reviews AS SELECT s.* FROM st_reviews s ANTI JOIN dup_reviews d ON d.rid = s.rowid;
CREATE VIEW u_payments AS SELECT s.* FROM st_payments s ANTI JOIN dup_payments d ON d.rid = s.rowid;
CREATE VIEW u_sellers AS SELECT s.* FROM st_sellers s ANTI JOIN dup_sellers d ON d.rid = s.rowid;
CREATE VIEW u_translations AS SELECT s.* FROM st_translations s
    ANTI JOIN dup_translations d ON d.rid = s.rowid;
"""

#: Rows per bulk-insert chunk: eight DuckDB row groups, about 150 MB of typical order lines in Arrow.
CHUNK_ROWS = 8 * 122_880

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


#: Import row ids: the first 96 bits of the MD5 of the natural-key parts joined with ``\x1f``, as 24 hex
#: digits. DuckDB computes it natively (``md5`` of the UTF-8 bytes is the same on every version, machine
#: and run, unlike ``hash()``), so ids are stable across runs and files and a Python reference
#: (``stable_ids``) gives the same value. Not a security function: the parts are not secret.
ID_MACRO = "CREATE MACRO stable_id_of(key) AS left(md5(key), 24)"


def stable_ids(keys: list[str | None]) -> list[str | None]:
    """What ``stable_id_of`` computes in SQL, in Python, for keys already joined with ``\x1f``."""
    md5 = hashlib.md5
    return [None if k is None else md5(k.encode(), usedforsecurity=False).hexdigest()[:24] for k in keys]


def arrow_table(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """A query's result as an Arrow table, through the relation API (DB-API results cost a copy)."""
    table = con.sql(sql, params=params or None).to_arrow_table()
    if table is None:
        raise RuntimeError(f"query returned no result set: {sql[:60]}")
    return table


def _bound(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    wanted = set(_PARAM.findall(sql))
    bound = {k: v for k, v in (params or {}).items() if k in wanted}
    missing = wanted - bound.keys()
    if missing:
        raise KeyError(f"staging SQL needs parameters {sorted(missing)}")
    return bound


class Staging:
    """One import's staging database. Close it to free memory and the temp files."""

    def __init__(self, work_dir: Path, threads: int = 2) -> None:
        self.work_dir = work_dir / "staging"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        spill = self.work_dir / "spill"
        spill.mkdir(exist_ok=True)
        self._raw: dict[str, tuple[Path, pa.NativeFile, pa.ipc.RecordBatchFileWriter]] = {}
        self._maps: list[pa.MemoryMappedFile] = []
        self.con = duckdb.connect(":memory:", config={"threads": threads, "temp_directory": str(spill)})
        self.con.execute("SET TimeZone = 'UTC'")
        # Row order is carried explicitly (_file, _row); not preserving it lets DuckDB parallelise more.
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute(ID_MACRO)
        self.con.execute(STAGED_DDL)
        self._closed = False

    def create_raw(self, kind: FileKind) -> None:
        """Prepare the raw store of a kind: its canonical columns as text, plus ``_file`` and ``_row``.

        Raw chunks are appended to an Arrow IPC file in the work dir and later memory-mapped as
        ``raw_<kind>``: appending costs a buffer copy (DuckDB inserts cost several times more), and
        the page cache, not the Python heap, holds files larger than memory.
        """
        fields = [pa.field(name, pa.string()) for name in (*(c.name for c in kind.columns), *kind.absent)]
        schema = pa.schema([*fields, pa.field("_file", pa.int32()), pa.field("_row", pa.int64())])
        path = self.work_dir / f"{kind.table}.arrow"
        sink = pa.OSFile(str(path), "wb")
        self._raw[kind.table] = (path, sink, pa.ipc.new_file(sink, schema))

    def append(self, kind: FileKind, table: pa.Table) -> None:
        self._raw[kind.table][2].write_table(table)

    def seal(self) -> None:
        """Finish the raw files and expose each as the view ``raw_<kind>`` for the preset's SQL."""
        for table_name, (path, sink, writer) in self._raw.items():
            writer.close()
            sink.close()
            source = pa.memory_map(str(path), "r")
            self._maps.append(source)
            self.con.register(table_name, pa.ipc.open_file(source).read_all())

    def run(self, sql: str, params: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        """Execute static SQL, binding only the ``$params`` it mentions (DuckDB rejects extras)."""
        bound = _bound(sql, params)
        return self.con.execute(sql, bound) if bound else self.con.execute(sql)

    def script(self, statements: list[str], params: dict[str, Any] | None = None) -> None:
        for statement in statements:
            self.run(statement, params)

    def register(self, name: str, data: pa.Table) -> None:
        self.con.register(name, data)

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        return arrow_table(self.con, sql, _bound(sql, params))

    def reader(self, sql: str) -> pa.RecordBatchReader:
        """Stream a query's result (e.g. staged keys to the warehouse) without a full copy."""
        reader = self.con.sql(sql).to_arrow_reader(100_000)
        if reader is None:
            raise RuntimeError(f"staging query returned no result set: {sql[:60]}")
        return reader

    def chunks(self, table: str, where: str) -> Iterator[pa.Table]:
        """Rows of a staged table matching ``where``, as Arrow tables of at most ``CHUNK_ROWS`` rows.

        For bulk inserts into the warehouse. A query result fetched whole comes out of DuckDB in
        parallel and in row-group-sized batches, which the warehouse scans in parallel and writes
        without merging: inserting from a stream instead ran at half the speed. Fetching one range
        of row ids at a time keeps that speed and bounds the memory to one chunk.
        """
        end = int(self.scalar(f"SELECT coalesce(max(rowid) + 1, 0) FROM {table}"))  # noqa: S608
        for start in range(0, end, CHUNK_ROWS):
            # Table and condition are the caller's constants. The bounds are literal ints: given as
            # parameters, DuckDB doesn't prune the scan to the range (40 times slower).
            sql = f"SELECT * FROM {table} WHERE ({where}) AND rowid >= {start:d} AND rowid < {start + CHUNK_ROWS:d}"  # noqa: S608, E501
            yield self.arrow(sql)

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.run(sql, params).fetchall()
        return rows[0][0] if rows else None

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.con.close()
        for _, sink, writer in self._raw.values():
            if not sink.closed:
                writer.close()
                sink.close()
        for source in self._maps:
            source.close()
        shutil.rmtree(self.work_dir, ignore_errors=True)
