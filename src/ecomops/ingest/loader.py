"""Move durable WAL lines into the tenant warehouse, exactly once.

Each load is one DuckDB transaction holding the new events, their derived order rows and
the new WAL offset, so a crash between loads neither loses nor doubles anything.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.json as pajson

from ecomops.ingest.ecommerce import ORDER_EVENTS, Derived, OrderEvent, derive
from ecomops.ingest.wal import TenantWal
from ecomops.warehouse.connection import Warehouse

log = logging.getLogger(__name__)

_STR = pa.string()
_US = pa.int64()
EVENT_SCHEMA = pa.schema(
    [
        ("message_id", _STR),
        ("type", _STR),
        ("event", _STR),
        ("anonymous_id", _STR),
        ("user_id", _STR),
        ("ts", _US),
        ("received_at", _US),
        ("sent_at", _US),
        ("source_id", _STR),
        ("channel", _STR),
        ("session_id", _STR),
        ("utm_source", _STR),
        ("utm_medium", _STR),
        ("utm_campaign", _STR),
        ("utm_term", _STR),
        ("utm_content", _STR),
        ("page_url", _STR),
        ("page_path", _STR),
        ("referrer", _STR),
        ("device", _STR),
        ("os", _STR),
        ("country", _STR),
        ("region", _STR),
        ("city", _STR),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("product_id", _STR),
        ("order_id", _STR),
        ("revenue", _STR),
        ("currency", _STR),
        ("properties", _STR),
        ("context", _STR),
        ("traits", _STR),
    ]
)
DEAD_SCHEMA = pa.schema(
    [
        ("dead_letter_id", _STR),
        ("received_at", _US),
        ("source_id", _STR),
        ("batch_index", pa.int32()),
        ("reason", _STR),
        ("payload", _STR),
    ]
)
_TS_COLUMNS = ("ts", "received_at", "sent_at")
_EVENT_COLS = ", ".join(f'"{f.name}"' for f in EVENT_SCHEMA)
_SELECT_EVENTS = ", ".join(
    f'CAST("{f.name}" AS DECIMAL(18,4))'
    if f.name == "revenue"
    else f'CAST("{f.name}" AS JSON)'
    if f.name in ("properties", "context", "traits")
    else f'"{f.name}"'
    for f in EVENT_SCHEMA
)
_ORDER_COLS = (
    "order_id",
    "external_id",
    "source",
    "channel",
    "customer_id",
    "anonymous_id",
    "status",
    "ordered_at",
    "paid_at",
    "currency",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "total",
    "coupon",
    "items_count",
    "country",
    "region",
    "city",
    "device",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "live_session_id",
    "properties",
)
_ITEM_COLS = (
    "item_id",
    "order_id",
    "product_id",
    "sku",
    "name",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "line_total",
    "currency",
    "ordered_at",
)
_REFUND_COLS = (
    "refund_id",
    "order_id",
    "product_id",
    "sku",
    "quantity",
    "amount",
    "currency",
    "reason",
    "source",
    "refunded_at",
)


def parse_lines(data: bytes, schema: pa.Schema) -> pa.Table:
    """Parse NDJSON in C++; fall back to line by line if a line is corrupt (never acknowledged)."""
    opts = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        table = pajson.read_json(
            io.BytesIO(data), parse_options=opts, read_options=pajson.ReadOptions(block_size=8 << 20)
        )
    except pa.ArrowInvalid:
        good = []
        for line in data.splitlines():
            try:
                orjson.loads(line)
                good.append(line)
            except orjson.JSONDecodeError:
                log.warning("skipping corrupt WAL line of %d bytes", len(line))
        if not good:
            return schema.empty_table()
        table = pajson.read_json(io.BytesIO(b"\n".join(good) + b"\n"), parse_options=opts)
    columns = []
    for field in schema:
        col = table.column(field.name)
        if field.name in _TS_COLUMNS:
            col = col.cast(pa.timestamp("us", tz="UTC"))
        columns.append(col)
    names = [f.name for f in schema]
    return pa.Table.from_arrays(columns, names=names)


def _insert_rows(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    cols: tuple[str, ...],
    rows: list[dict[str, Any]],
    conflict: str = "",
) -> None:
    if not rows:
        return
    placeholders = ", ".join("?" for _ in cols)
    # Table and column names are module constants; values are parameters.
    cur.executemany(
        f"INSERT {conflict} INTO {table} ({', '.join(cols)}) VALUES ({placeholders})",  # noqa: S608
        [[r[c] for c in cols] for r in rows],
    )


def _apply_orders(cur: duckdb.DuckDBPyConnection, derived: Derived) -> None:
    if derived.orders:
        order_ids = [[o["order_id"]] for o in derived.orders]
        cur.executemany("DELETE FROM order_items WHERE order_id = ?", order_ids)
        _insert_rows(cur, "orders", _ORDER_COLS, derived.orders, "OR REPLACE")
        _insert_rows(cur, "order_items", _ITEM_COLS, derived.items, "OR REPLACE")
    for refund in derived.refunds:
        if refund["amount"] is None:
            row = cur.execute("SELECT total FROM orders WHERE order_id = ?", [refund["order_id"]]).fetchone()
            refund["amount"] = row[0] if row else 0
    _insert_rows(cur, "refunds", _REFUND_COLS, derived.refunds, "OR IGNORE")
    touched = sorted({r["order_id"] for r in derived.refunds})
    if touched:
        cur.executemany(
            """UPDATE orders SET status = CASE
                   WHEN (SELECT sum(amount) FROM refunds r WHERE r.order_id = orders.order_id) >= total
                   THEN 'refunded' ELSE 'partially_refunded' END
               WHERE order_id = ? AND status <> 'cancelled'""",
            [[o] for o in touched],
        )
    if derived.cancelled:
        cur.executemany(
            "UPDATE orders SET status = 'cancelled' WHERE order_id = ?", [[o] for o in derived.cancelled]
        )


def _order_events(events: pa.Table) -> list[OrderEvent]:
    mask = pa.compute.is_in(events.column("event"), value_set=pa.array(ORDER_EVENTS))
    mask = pa.compute.and_(mask, pa.compute.equal(events.column("type"), "track"))
    picked = events.filter(pa.compute.fill_null(mask, False))
    if picked.num_rows == 0:
        return []
    fields = OrderEvent.__dataclass_fields__
    return [OrderEvent(**{k: row[k] for k in fields}) for row in picked.to_pylist()]


def _upsert_customers(cur: duckdb.DuckDBPyConnection) -> None:
    """Known users (userId) become pseudonymous customers; first/last seen widen with each load."""
    cur.execute(
        """INSERT INTO customers
               (customer_id, source, first_seen_at, last_seen_at, channel, country, region, city)
           SELECT user_id, 'events', min(ts), max(ts), arg_min(channel, ts), arg_max(country, ts),
                  arg_max(region, ts), arg_max(city, ts)
           FROM new_events WHERE user_id IS NOT NULL GROUP BY user_id
           ON CONFLICT (customer_id) DO UPDATE SET
               first_seen_at = least(customers.first_seen_at, excluded.first_seen_at),
               last_seen_at = greatest(customers.last_seen_at, excluded.last_seen_at),
               country = coalesce(excluded.country, customers.country),
               region = coalesce(excluded.region, customers.region),
               city = coalesce(excluded.city, customers.city)"""
    )


def load_events(cur: duckdb.DuckDBPyConnection, events: pa.Table, default_currency: str) -> None:
    """Insert parsed events and everything derived from them (inside the caller's transaction)."""
    cur.register("new_events", events)
    try:
        # Column lists are module constants built from EVENT_SCHEMA.
        cur.execute(f"INSERT INTO events ({_EVENT_COLS}) SELECT {_SELECT_EVENTS} FROM new_events")  # noqa: S608
        _upsert_customers(cur)
        order_events = _order_events(events)
        if order_events:
            _apply_orders(cur, derive(order_events, default_currency))
    finally:
        cur.unregister("new_events")


def load_dead_letters(cur: duckdb.DuckDBPyConnection, dead: pa.Table) -> None:
    cur.register("new_dead", dead)
    try:
        cur.execute(
            """INSERT OR IGNORE INTO ingest_dead_letters
                   (dead_letter_id, received_at, source_id, batch_index, reason, payload)
               SELECT dead_letter_id, received_at, source_id, batch_index, reason, payload FROM new_dead"""
        )
    finally:
        cur.unregister("new_dead")


def loaded_offsets(warehouse: Warehouse) -> dict[str, int]:
    return {
        name: int(off) for name, off in warehouse.query('SELECT segment, "offset" FROM _ingest_wal_offsets')
    }


def load_pending(
    wal: TenantWal, warehouse: Warehouse, default_currency: str, max_bytes: int = 32 << 20
) -> int:
    """Load every durable, not yet loaded WAL line; returns the number of bytes loaded."""
    offsets = loaded_offsets(warehouse)
    total = 0
    for stream, schema in (("events", EVENT_SCHEMA), ("dead", DEAD_SCHEMA)):
        for name in wal.segments(stream):
            start = offsets.get(name, 0)
            while True:
                data = wal.read(name, start)
                if not data:
                    break
                if len(data) > max_bytes:
                    cut = data.rfind(b"\n", 0, max_bytes)
                    data = data[: cut + 1] if cut >= 0 else data
                table = parse_lines(data, schema)
                with warehouse.write() as cur:
                    if stream == "events":
                        load_events(cur, table, default_currency)
                    else:
                        load_dead_letters(cur, table)
                    cur.execute(
                        'INSERT OR REPLACE INTO _ingest_wal_offsets (segment, "offset") VALUES (?, ?)',
                        [name, start + len(data)],
                    )
                start += len(data)
                total += len(data)
            if not wal.is_current(name) and start >= wal.durable.get(name, 0):
                # File first: a crash in between leaves a harmless offset row, never a reload from 0.
                wal.drop(name)
                with warehouse.write() as cur:
                    cur.execute("DELETE FROM _ingest_wal_offsets WHERE segment = ?", [name])
    return total
