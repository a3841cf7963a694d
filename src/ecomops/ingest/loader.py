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
from ecomops.ingest.livestream import apply_live_streams
from ecomops.ingest.sealed import PiiSink, UnloadableLine, WalPii
from ecomops.ingest.wal import TenantWal
from ecomops.kernel.ids import new_id
from ecomops.platform.warehouse import facts
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.tenancy.service import CHANNELS

log = logging.getLogger(__name__)


_STR = pa.string()
_US = pa.int64()
#: What a WAL line carries (see ingest.messages); everything else is extracted by NORMALIZE_SQL.
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
        ("revenue", _STR),
        ("properties", _STR),
        ("context", _STR),
        ("traits", _STR),
        ("pii", _STR),
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
_SALES_CHANNELS = ", ".join(f"'{c}'" for c in CHANNELS)

#: Promoted columns from the raw JSON, for a whole load at once (vectorised in DuckDB, outside the GIL).
#: ``properties.channel`` overrides the source's channel only when it names a known sales channel;
#: page calls take url/path/referrer from their properties first, like Segment's page spec. The context is
#: split by the warehouse's context macros (migration 0002 of the platform): its standard fields go to typed
#: columns and only the rest stays JSON. ``cx`` holds the context's strings at the macros' paths, of which
#: 19-32 are those of the shared columns (campaign, page, device.type, os.name, location, sessionId); the
#: patch removing the moved keys is built once per pattern of moved keys, not per row.
NORMALIZE_SQL = f"""
CREATE TEMP TABLE loaded_events AS
WITH j AS (
    SELECT *, CAST(properties AS JSON) AS pj, CAST(context AS JSON) AS cj FROM new_events
), x AS (
    SELECT *, context_types(cj) AS ct, context_texts(cj) AS cx,
        json_extract_string(pj, ['$.url', '$.path', '$.referrer', '$.product_id', '$.order_id',
            '$.currency', '$.session_id', '$.channel', '$.x', '$.y']) AS p,
        json_type(pj, '$.x') AS x_type, json_type(pj, '$.y') AS y_type
    FROM j
), promoted AS (
    SELECT message_id, type, event, anonymous_id, user_id, ts, received_at, sent_at, source_id,
        CASE WHEN p[8] IN ({_SALES_CHANNELS}) THEN p[8] ELSE channel END AS channel,
        coalesce(cx[32], p[7]) AS session_id,
        cx[19] AS utm_source, cx[20] AS utm_medium, cx[21] AS utm_campaign, cx[22] AS utm_term,
        cx[23] AS utm_content,
        CASE WHEN type = 'page' THEN coalesce(p[1], cx[24]) ELSE cx[24] END AS page_url,
        CASE WHEN type = 'page' THEN coalesce(p[2], cx[25]) ELSE cx[25] END AS page_path,
        CASE WHEN type = 'page' THEN coalesce(p[3], cx[26]) ELSE cx[26] END AS referrer,
        cx[27] AS device, cx[28] AS os, cx[29] AS country, cx[30] AS region, cx[31] AS city,
        CASE WHEN x_type IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(p[9] AS DOUBLE) END AS x,
        CASE WHEN y_type IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(p[10] AS DOUBLE) END AS y,
        p[4] AS product_id, p[5] AS order_id, CAST(revenue AS DECIMAL(18,4)) AS revenue, p[6] AS currency,
        pj AS properties, CAST(traits AS JSON) AS traits, cj, ct, cx
    FROM x
), masked AS (
    SELECT *, context_mask(ct, cx, utm_source, utm_medium, utm_campaign, utm_term, utm_content, page_url,
        page_path, referrer, device, os, country, region, city, session_id) AS cmask
    FROM promoted
), split AS (
    SELECT * EXCLUDE (ct, cx, cmask), context_columns(ct, cx, cmask) AS cc FROM masked
), moved AS (
    SELECT *, context_moved_keys(cc) AS cm FROM split
), patches AS (
    SELECT cm, context_strip_patch(cm) AS patch FROM (SELECT DISTINCT cm FROM moved)
)
SELECT * EXCLUDE (cj, cc, cm, patch), cc.*,
    CASE WHEN cj IS NOT NULL THEN json_merge_patch(cj, patch) END AS context
FROM moved LEFT JOIN patches USING (cm)
"""  # noqa: S608 (only the CHANNELS constant is interpolated)
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


def _loaded_schema(schema: pa.Schema) -> pa.Schema:
    """The WAL schema with its epoch-microsecond columns typed as UTC timestamps."""
    return pa.schema([(f.name, pa.timestamp("us", tz="UTC")) if f.name in _TS_COLUMNS else f for f in schema])


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
            return pa.Table.from_pylist([], schema=_loaded_schema(schema))
        table = pajson.read_json(io.BytesIO(b"\n".join(good) + b"\n"), parse_options=opts)
    columns = []
    for field in schema:
        col = table.column(field.name)
        if field.name in _TS_COLUMNS:
            col = col.cast(pa.timestamp("us", tz="UTC"))
        columns.append(col)
    names = [f.name for f in schema]
    return pa.Table.from_arrays(columns, names=names)


_MONEY = pa.decimal128(18, 4)
_TS = pa.timestamp("us", tz="UTC")
_INT = pa.int32()
#: Arrow types of the derived rows (ecommerce.derive), so each table loads in one statement.
_ORDER_TYPES = {
    "ordered_at": _TS,
    "paid_at": _TS,
    "subtotal": _MONEY,
    "discount": _MONEY,
    "shipping": _MONEY,
    "tax": _MONEY,
    "total": _MONEY,
    "items_count": _INT,
}
_ITEM_TYPES = {
    "quantity": _INT,
    "unit_price": _MONEY,
    "discount": _MONEY,
    "line_total": _MONEY,
    "ordered_at": _TS,
}
_REFUND_TYPES = {"quantity": _INT, "amount": _MONEY, "refunded_at": _TS}


def _insert_from(table: str, cols: tuple[str, ...], source: str, conflict: str = "") -> str:
    """Column lists and table names are module constants; the values come from a registered table."""
    names = ", ".join(cols)
    return f"INSERT {conflict} INTO {table} ({names}) SELECT {names} FROM {source}"  # noqa: S608


_INSERT_ORDERS = _insert_from("orders", _ORDER_COLS, "derived_orders", "OR REPLACE")
_INSERT_ITEMS = _insert_from("order_items", _ITEM_COLS, "derived_items")
_INSERT_REFUNDS = _insert_from("refunds", _REFUND_COLS, "derived_refunds", "OR IGNORE")


def _arrow(cols: tuple[str, ...], types: dict[str, pa.DataType], rows: list[dict[str, Any]]) -> pa.Table:
    schema = pa.schema([(c, types.get(c, _STR)) for c in cols])
    return pa.Table.from_pylist(rows, schema=schema)


def _last_per_key(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The last row of each key, in first-seen order: one statement may not write a key twice."""
    return list({row[key]: row for row in rows}.values())


def _apply_orders(cur: duckdb.DuckDBPyConnection, derived: Derived) -> None:
    """Write a load's derived orders, items and refunds set-based: one statement per step for the whole
    load (per-order statements made this 60 % of loading under storefront traffic)."""
    orders = _last_per_key(derived.orders, "order_id")  # derive() orders by ts: the latest completion wins
    # OR IGNORE keeps the refund already there, so among a load's duplicates the first one wins too.
    refunds = list({r["refund_id"]: r for r in reversed(derived.refunds)}.values())[::-1]
    touched = sorted({o["order_id"] for o in orders} | {r["order_id"] for r in refunds})
    tables = {
        "derived_orders": _arrow(_ORDER_COLS, _ORDER_TYPES, orders),
        "derived_items": _arrow(_ITEM_COLS, _ITEM_TYPES, derived.items),
        "derived_refunds": _arrow(_REFUND_COLS, _REFUND_TYPES, refunds),
        "touched_orders": pa.table({"order_id": pa.array(touched, _STR)}),
        "cancelled_orders": pa.table({"order_id": pa.array(sorted(set(derived.cancelled)), _STR)}),
    }
    # Registering costs milliseconds each and most loads hold only completions: skip empty tables.
    tables = {name: table for name, table in tables.items() if table.num_rows}
    for name, table in tables.items():
        cur.register(name, table)
    try:
        if orders:
            # order_items has no key to conflict on: deleting the order's lines first makes reloading
            # idempotent, and derive() keeps only the last completion's lines of an order completed twice.
            cur.execute("DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM derived_orders)")
            cur.execute(_INSERT_ORDERS)
        if derived.items:
            cur.execute(_INSERT_ITEMS)
        if refunds:
            cur.execute(_INSERT_REFUNDS)
        if touched:
            # A whole-order refund (no amount) takes the order's total, now or when the order arrives later.
            cur.execute(
                """UPDATE refunds SET amount = orders.total FROM orders
                   WHERE refunds.amount IS NULL AND refunds.order_id = orders.order_id
                     AND orders.order_id IN (SELECT order_id FROM touched_orders)"""
            )
            # Status follows the refunds whatever order the events came in (a re-sent completion included).
            cur.execute(
                """UPDATE orders SET status = CASE
                       WHEN r.refunded >= orders.total THEN 'refunded'
                       WHEN r.refunded > 0 THEN 'partially_refunded' ELSE 'paid' END
                   FROM (SELECT t.order_id, coalesce(sum(refunds.amount), 0) AS refunded
                         FROM touched_orders t LEFT JOIN refunds ON refunds.order_id = t.order_id
                         GROUP BY t.order_id) r
                   WHERE orders.order_id = r.order_id AND orders.status <> 'cancelled'"""
            )
        if derived.cancelled:
            cur.execute(
                "UPDATE orders SET status = 'cancelled' "
                "WHERE order_id IN (SELECT order_id FROM cancelled_orders)"
            )
    finally:
        for name in tables:
            cur.unregister(name)


def _order_events(cur: duckdb.DuckDBPyConnection) -> list[OrderEvent]:
    fields = list(OrderEvent.__dataclass_fields__)
    placeholders = ", ".join("?" for _ in ORDER_EVENTS)
    rows = cur.execute(
        # Column names come from the OrderEvent dataclass; values are parameters.
        f"SELECT {', '.join(fields)} FROM loaded_events "  # noqa: S608
        f"WHERE type = 'track' AND event IN ({placeholders})",
        list(ORDER_EVENTS),
    ).fetchall()
    return [OrderEvent(*row) for row in rows]


def _upsert_customers(cur: duckdb.DuckDBPyConnection) -> None:
    """Known users (userId) become pseudonymous customers; first/last seen widen with each load."""
    cur.execute(
        """INSERT INTO customers
               (customer_id, source, first_seen_at, last_seen_at, channel, country, region, city)
           SELECT user_id, 'events', min(ts), max(ts), arg_min(channel, ts), arg_max(country, ts),
                  arg_max(region, ts), arg_max(city, ts)
           FROM loaded_events WHERE user_id IS NOT NULL GROUP BY user_id
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
        cur.execute(NORMALIZE_SQL)
        cur.execute("INSERT INTO events BY NAME SELECT * FROM loaded_events")
        _upsert_customers(cur)
        order_events = _order_events(cur)
        touched: list[str] = []
        if order_events:
            derived = derive(order_events, default_currency)
            _apply_orders(cur, derived)
            touched = [o["order_id"] for o in derived.orders] + [r["order_id"] for r in derived.refunds]
            touched += list(derived.cancelled)
        apply_live_streams(cur)
        # Same transaction as the facts: dashboards never see facts without their rollups.
        facts.publish(cur, facts.FactsChanged("loaded", order_ids=touched, events_table="loaded_events"))
        # Only on success: after an error the transaction is aborted and its rollback drops it.
        cur.execute("DROP TABLE loaded_events")
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


def recent_message_ids(warehouse: Warehouse, window_seconds: float) -> dict[str, float]:
    """messageId → receive time (epoch s) of the events received within the dedupe window, oldest first:
    a loader or writer primes its window with them, so a retry after a restart is still a duplicate."""
    rows = warehouse.query(
        "SELECT message_id, epoch(received_at) FROM events "
        "WHERE received_at >= now() - to_seconds(?) ORDER BY received_at",
        [window_seconds],
    )
    return {str(mid): float(ts) for mid, ts in rows}


def forget_before(seen: dict[str, float], horizon: float) -> None:
    """Drop the ids received before ``horizon`` (insertion order is receive order: pop from the front)."""
    while seen:
        oldest = next(iter(seen))
        if seen[oldest] >= horizon:
            break
        del seen[oldest]


def loaded_offsets(warehouse: Warehouse) -> dict[str, int]:
    return {
        name: int(off) for name, off in warehouse.query('SELECT segment, "offset" FROM _ingest_wal_offsets')
    }


def _record_offset(cur: duckdb.DuckDBPyConnection, segment: str, offset: int) -> None:
    cur.execute(
        'INSERT OR REPLACE INTO _ingest_wal_offsets (segment, "offset") VALUES (?, ?)', [segment, offset]
    )


def sealed_pii(events: pa.Table) -> list[WalPii]:
    """The events' sealed PII blobs (column ``pii``), in line order."""
    if "pii" not in events.column_names:
        return []
    pii = events.column("pii")
    if pii.null_count == len(pii):
        return []
    rows = events.select(["message_id", "user_id", "anonymous_id", "pii"]).to_pylist()
    return [WalPii(r["message_id"], r["user_id"], r["anonymous_id"], r["pii"]) for r in rows if r["pii"]]


def store_pii(events: pa.Table, pii_sink: PiiSink | None) -> None:
    """Hand the events' PII to the vault before their load commits (never dropped silently)."""
    items = sealed_pii(events)
    if not items:
        return
    if pii_sink is None:
        raise RuntimeError(f"{len(items)} event(s) carry personal data but no PII vault sink was given")
    pii_sink(items)


def _load_chunk(
    warehouse: Warehouse,
    stream: str,
    schema: pa.Schema,
    data: bytes,
    default_currency: str,
    segment: str,
    start: int,
    pii_sink: PiiSink | None = None,
) -> None:
    table = parse_lines(data, schema)
    if stream == "events":
        store_pii(table, pii_sink)
    with warehouse.write() as cur:
        if stream == "events":
            load_events(cur, table, default_currency)
        else:
            load_dead_letters(cur, table)
        _record_offset(cur, segment, start + len(data))


def _load_lines_or_quarantine(
    warehouse: Warehouse,
    stream: str,
    schema: pa.Schema,
    data: bytes,
    default_currency: str,
    segment: str,
    start: int,
    pii_sink: PiiSink | None = None,
) -> None:
    """A chunk failed: load its lines one by one and turn each line that still fails into a dead letter,
    so one bad line can never stall a tenant's loading (acknowledged data is kept, never dropped)."""
    offset = start
    for line in data.splitlines(keepends=True):
        offset += len(line)
        try:
            _load_chunk(
                warehouse, stream, schema, line, default_currency, segment, offset - len(line), pii_sink
            )
        except (duckdb.Error, UnloadableLine) as exc:
            log.error("quarantining a WAL line of %s at offset %d: %s", segment, offset - len(line), exc)
            with warehouse.write() as cur:
                if stream == "events":
                    cur.execute(
                        "INSERT OR IGNORE INTO ingest_dead_letters "
                        "(dead_letter_id, received_at, source_id, batch_index, reason, payload) "
                        "VALUES (?, now(), NULL, NULL, ?, ?)",
                        [
                            new_id("dl_"),
                            f"accepted but could not be loaded: {exc}",
                            line.decode("utf-8", "replace"),
                        ],
                    )
                _record_offset(cur, segment, offset)


def load_pending(
    wal: TenantWal,
    warehouse: Warehouse,
    default_currency: str,
    max_bytes: int = 32 << 20,
    pii_sink: PiiSink | None = None,
    budget: int | None = None,
) -> int:
    """Load every durable, not yet loaded WAL line, or (``budget``) stop once that many bytes are loaded so
    the caller can turn to another tenant; returns the number of bytes loaded."""
    offsets = loaded_offsets(warehouse)
    if budget is not None:
        max_bytes = min(max_bytes, budget)
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
                try:
                    _load_chunk(warehouse, stream, schema, data, default_currency, name, start, pii_sink)
                except (duckdb.Error, UnloadableLine):
                    log.exception("loading %d bytes of %s failed; loading them line by line", len(data), name)
                    _load_lines_or_quarantine(
                        warehouse, stream, schema, data, default_currency, name, start, pii_sink
                    )
                start += len(data)
                total += len(data)
                if budget is not None and total >= budget:
                    return total
            if not wal.is_current(name) and start >= wal.durable.get(name, 0):
                # File first: a crash in between leaves a harmless offset row, never a reload from 0.
                wal.drop(name)
                with warehouse.write() as cur:
                    cur.execute("DELETE FROM _ingest_wal_offsets WHERE segment = ?", [name])
    return total
