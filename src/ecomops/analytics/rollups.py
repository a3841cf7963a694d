# ruff: noqa: S608 -- SQL here is assembled only from module constants and catalogue column names;
# every value (hours, ids, currency, buckets) is a bound parameter or a registered Arrow table.
"""Rollups: hourly aggregates of a tenant's facts, maintained with the facts, read by dashboards.

Why: the metric engine's raw path (:class:`~ecomops.analytics.sources.FactsSource`) builds and
compiles Ibis expressions and scans every event of the window on each request; a dashboard asks for a
dozen metrics every few seconds. The rollup tables (warehouse migration ``0003_rollups.sql``) hold the
same base measures per UTC hour × dimensions, and :class:`RollupSource` answers the engine from them
with plain parameterized DuckDB SQL (no Ibis on this path).

Exactness: every rollup is either additive (sums and counts of facts that belong to exactly one row)
or keeps the id of what is counted distinctly (buyer, visitor) in its grain, so a distinct count over
any set of hours is a ``count(DISTINCT id)`` over those hours' rows: never an approximation. Values
that can change after the fact (a product's cost, whether a campaign has ad spend) are joined at
query time, exactly as the raw computation does.

Maintenance: :func:`refresh` runs inside the writer's transaction (ingest load, import apply; the
simulator rebuilds everything). New events are merged into the visitor rollups (rollup_events: a cost
of the load's size, not of the hour's traffic); the order rollups are recomputed for exactly the
affected UTC hours: those of the touched orders before and after the change (the hour an order *used*
to count in comes from ``rollup_order_index``), of the touched orders' refunds, and of the first
orders of their buyers before and after (new-buyer flags move when an earlier order arrives).
Requests whose buckets do not start on UTC hours (zones with 30/45-minute offsets) are answered from
the raw facts: :func:`source_for` returns None for them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from ecomops.analytics import reasons, rollup_cache, rollup_days, rollup_events
from ecomops.analytics.catalogue import (
    ADD_TO_CART_EVENT,
    BASE_MEASURES,
    EXCLUDED_ORDER_STATUSES,
    NONE_LABEL,
    Breakdown,
    Family,
)
from ecomops.analytics.periods import Bucket, Granularity
from ecomops.analytics.results import RollupStatus
from ecomops.analytics.rollup_days import dim
from ecomops.analytics.sources import Cells
from ecomops.platform.modules import FactsChanged

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
#: Shortest bucket whose distinct counts are kept between requests (rollup_cache): 23 h covers DST days.
_KEEP_FROM = timedelta(hours=23)
#: Above this many touched orders (a bulk import) one rebuild beats tracking their hours.
BULK_ORDERS = 50_000

# --- SQL fragments (module constants only; every value is a parameter) -------------------------------

_EXCLUDED = ", ".join(f"'{s}'" for s in EXCLUDED_ORDER_STATUSES)
COUNTED = f"lower(status) NOT IN ({_EXCLUDED})"
BUYER = "coalesce(customer_id, 'anon:' || anonymous_id)"


def _scope(column: str, full: bool, hours_table: str = "_ro_hours") -> str:
    """Rows to (re)compute: all, or those whose UTC hour is in ``hours_table`` (bounded by $lo/$hi)."""
    if full:
        return "TRUE"
    hours = f"(SELECT hour FROM {hours_table})"
    return f"({column} >= $lo AND {column} < $hi AND date_trunc('hour', {column}) IN {hours})"


def _orders(full: bool) -> str:
    return f"(SELECT *, {BUYER} AS buyer FROM orders WHERE {COUNTED} AND {_scope('ordered_at', full)})"


def _inserts(full: bool) -> list[str]:
    o = _orders(full)
    first = "coalesce(o.ordered_at = f.first_at, false)"
    item_sales = [
        f"""INSERT INTO rollup_item_sales
            SELECT date_trunc('hour', o.ordered_at), o.currency, '{kind}', {dim(f"i.{column}")},
                   o.utm_source, o.utm_medium, o.utm_campaign, o.buyer, {first},
                   sum(i.line_total), count(DISTINCT o.order_id)
            FROM {o} o JOIN order_items i ON i.order_id = o.order_id
            LEFT JOIN rollup_buyer_first f ON f.buyer = o.buyer
            GROUP BY ALL"""
        for kind, column in (("product", "product_id"), ("category", "category"))
    ]
    return [
        f"""INSERT INTO rollup_order_index
            SELECT order_id, date_trunc('hour', ordered_at), buyer FROM {o}""",
        f"""INSERT INTO rollup_sales
            SELECT date_trunc('hour', o.ordered_at), o.currency, o.channel, o.utm_source, o.utm_medium,
                   o.utm_campaign, o.region, o.country, o.device, o.buyer, {first},
                   sum(o.total), sum(o.subtotal - o.discount), count(*)
            FROM {o} o LEFT JOIN rollup_buyer_first f ON f.buyer = o.buyer
            GROUP BY ALL""",
        *item_sales,
        f"""INSERT INTO rollup_lines
            SELECT date_trunc('hour', o.ordered_at), o.currency, i.product_id, i.category, o.channel,
                   o.utm_source, o.utm_medium, o.utm_campaign, o.region, o.country, o.device,
                   sum(i.line_total), sum(i.quantity), count(*)
            FROM {o} o JOIN order_items i ON i.order_id = o.order_id
            GROUP BY ALL""",
        f"""INSERT INTO rollup_refunds
            SELECT date_trunc('hour', r.refunded_at), r.currency, r.product_id, o.channel, o.utm_source,
                   o.utm_campaign, o.region, coalesce(o.country, r.country), o.device, sum(r.amount),
                   coalesce(sum(r.quantity), 0)
            FROM refunds r LEFT JOIN orders o ON o.order_id = r.order_id
            WHERE {_scope("r.refunded_at", full)}
            GROUP BY ALL""",
    ]


def _event_inserts(full: bool) -> list[str]:
    """The visitor rollups of all events, or of the hours in ``_ro_event_hours`` (recomputed after their
    events changed: erasure re-keying; new events are merged instead, see rollup_events)."""
    scope = _scope("ts", full, "_ro_event_hours")
    return [
        f"INSERT INTO rollup_visitors {rollup_events.visitors_select('events', scope)}",
        f"INSERT INTO rollup_funnel {rollup_events.funnel_select('events', scope)}",
    ]


#: The nested funnel over UTC hours [$lo, $hi): visitors reaching each step and every earlier one.
FUNNEL_SQL = """SELECT count(*) FILTER (WHERE a), count(*) FILTER (WHERE a AND b),
       count(*) FILTER (WHERE a AND b AND c), count(*) FILTER (WHERE a AND b AND c AND d),
       count(*) FILTER (WHERE a AND b AND c AND d AND e)
FROM (SELECT bool_or(visited) AS a, bool_or(viewed) AS b, bool_or(carted) AS c, bool_or(checkout) AS d,
             bool_or(ordered) AS e
      FROM rollup_funnel WHERE hour >= $lo AND hour < $hi GROUP BY visitor)"""


_ORDER_TABLES = ("rollup_order_index", "rollup_sales", "rollup_item_sales", "rollup_lines", "rollup_refunds")
_EVENT_TABLES = ("rollup_visitors", "rollup_funnel")
_HOURLY_TABLES = (*_ORDER_TABLES, *_EVENT_TABLES)
_FULL_INSERTS = _inserts(True) + _event_inserts(True)
_SCOPED_INSERTS = _inserts(False)
_SCOPED_EVENT_INSERTS = _event_inserts(False)
_EVENTS_BEFORE = [
    f"INSERT INTO rollup_visitors {rollup_events.visitors_select('events', 'ts < $hi')}",
    f"INSERT INTO rollup_funnel {rollup_events.funnel_select('events', 'ts < $hi')}",
]
_BUYER_FIRSTS = f"""SELECT buyer, min(ordered_at) AS first_at
    FROM (SELECT {BUYER} AS buyer, ordered_at FROM orders WHERE {COUNTED})
    WHERE buyer IS NOT NULL {{and_buyers}} GROUP BY buyer"""


@dataclass(frozen=True)
class RefreshStats:
    """What one maintenance step did (logged by the bench; ``full`` = everything rebuilt)."""

    hours: int
    full: bool


def is_ready(cur: duckdb.DuckDBPyConnection) -> bool:
    """True when the rollups reflect every fact (a migrated warehouse starts not ready until rebuilt)."""
    try:
        row = cur.execute("SELECT ready FROM rollup_state WHERE id = 1").fetchone()
    except duckdb.CatalogException:  # a read-only warehouse file not migrated to 0003 yet
        return False
    return bool(row and row[0])


_FINGERPRINT = """SELECT (SELECT count(*) FROM orders) || ':' || (SELECT count(*) FROM order_items) || ':'
    || (SELECT count(*) FROM refunds) || ':' || (SELECT count(*) FROM events)"""


def fingerprint(cur: duckdb.DuckDBPyConnection) -> str:
    """Row counts of the fact tables: cheap, and changed by any insert or delete that skipped refresh."""
    row = cur.execute(_FINGERPRINT).fetchone()
    return str(row[0]) if row else ""


def _stamp(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(f"UPDATE rollup_state SET fingerprint = ({_FINGERPRINT}) WHERE id = 1")


def is_current(cur: duckdb.DuckDBPyConnection) -> bool:
    """Ready, and no fact row was added or removed since the last refresh (else read the facts)."""
    try:
        row = cur.execute(
            f"SELECT ready AND fingerprint IS NOT DISTINCT FROM ({_FINGERPRINT}) "
            "FROM rollup_state WHERE id = 1"
        ).fetchone()
    except duckdb.CatalogException:  # a read-only warehouse file not migrated to 0003 yet
        return False
    current = bool(row and row[0])
    if not current and is_ready(cur):
        log.warning(
            "rollups are out of step with the facts (a writer skipped rollups.refresh): metrics read the "
            "raw facts until `ecomops rollups rebuild`"
        )
    return current


def rebuild(cur: duckdb.DuckDBPyConnection) -> RefreshStats:
    """Recompute every rollup from the facts (inside the caller's transaction)."""
    cur.execute("DELETE FROM rollup_buyer_first")
    cur.execute("INSERT INTO rollup_buyer_first " + _BUYER_FIRSTS.format(and_buyers=""))
    for table in _HOURLY_TABLES:
        cur.execute(f"DELETE FROM {table}")
    for sql in _FULL_INSERTS:
        cur.execute(sql)
    rollup_days.build(cur, full=True)
    rollup_cache.record_change(cur, None, None)
    row = cur.execute("SELECT count(DISTINCT hour) FROM rollup_order_index").fetchone()
    cur.execute("UPDATE rollup_state SET ready = true, rebuilt_at = now(), refreshed_at = now() WHERE id = 1")
    _stamp(cur)
    return RefreshStats(hours=int(row[0]) if row else 0, full=True)


def refresh(
    cur: duckdb.DuckDBPyConnection,
    *,
    order_ids: Iterable[str] | pa.Table = (),
    hours: Iterable[datetime] = (),
    new_events: str | None = None,
) -> RefreshStats:
    """Bring the rollups up to date after a write of the given orders/refunds and events.

    ``order_ids``: orders that were inserted, changed, cancelled or refunded (a pyarrow table with an
    ``order_id`` column for large imports): their hours are recomputed. ``hours``: UTC hours whose
    events changed or went away: recomputed whole. ``new_events``: a (module-constant) table holding
    events just inserted: merged into the visitor rollups (rollup_events), at a cost of the load's size
    rather than the hour's and day's traffic. ``hours_refreshed`` counts the recomputed hours.
    Runs in the caller's transaction, so readers see facts and rollups change together.
    """
    if not is_ready(cur):
        return rebuild(cur)
    if isinstance(order_ids, pa.Table):
        ids = order_ids.select(["order_id"])
    else:
        ids = pa.table({"order_id": pa.array(list(order_ids), pa.string())})
    if ids.num_rows > BULK_ORDERS:
        return rebuild(cur)
    explicit = pa.table({"hour": pa.array(list(hours), pa.timestamp("us", tz="UTC"))})
    cur.register("_ro_ids_in", ids)
    cur.register("_ro_hours_in", explicit)
    try:
        cur.execute("CREATE OR REPLACE TEMP TABLE _ro_ids AS SELECT DISTINCT order_id FROM _ro_ids_in")
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE _ro_touched AS
                SELECT hour, buyer FROM rollup_order_index WHERE order_id IN (SELECT order_id FROM _ro_ids)
                UNION ALL
                SELECT date_trunc('hour', ordered_at), {BUYER} FROM orders
                WHERE {COUNTED} AND order_id IN (SELECT order_id FROM _ro_ids)"""
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _ro_buyers AS "
            "SELECT DISTINCT buyer FROM _ro_touched WHERE buyer IS NOT NULL"
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _ro_first AS "
            + _BUYER_FIRSTS.format(and_buyers="AND buyer IN (SELECT buyer FROM _ro_buyers)")
        )
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _ro_event_hours AS "
            "SELECT DISTINCT date_trunc('hour', hour) AS hour FROM _ro_hours_in"
        )
        cur.execute(
            """CREATE OR REPLACE TEMP TABLE _ro_hours AS
                SELECT hour FROM _ro_event_hours
                UNION SELECT hour FROM _ro_touched
                UNION SELECT date_trunc('hour', refunded_at) FROM refunds
                      WHERE order_id IN (SELECT order_id FROM _ro_ids)
                UNION SELECT date_trunc('hour', first_at) FROM rollup_buyer_first
                      WHERE buyer IN (SELECT buyer FROM _ro_buyers)
                UNION SELECT date_trunc('hour', first_at) FROM _ro_first"""
        )
        cur.execute("DELETE FROM rollup_buyer_first WHERE buyer IN (SELECT buyer FROM _ro_buyers)")
        cur.execute("INSERT INTO rollup_buyer_first SELECT buyer, first_at FROM _ro_first")
        row = cur.execute(
            "SELECT count(*), min(hour), max(hour) FROM _ro_hours WHERE hour IS NOT NULL"
        ).fetchone()
        n = int(row[0]) if row else 0
        changed: list[datetime] = []
        if n:
            assert row is not None
            bounds = {"lo": row[1], "hi": row[2] + HOUR}
            recompute_events = explicit.num_rows > 0
            cur.execute("DELETE FROM rollup_order_index WHERE order_id IN (SELECT order_id FROM _ro_ids)")
            for table, hours_table in (
                *((t, "_ro_hours") for t in _ORDER_TABLES),
                *((t, "_ro_event_hours") for t in (_EVENT_TABLES if recompute_events else ())),
            ):
                # The range lets DuckDB skip row groups by their min/max hour before the IN test.
                cur.execute(
                    f"DELETE FROM {table} WHERE hour >= $lo AND hour < $hi "
                    f"AND hour IN (SELECT hour FROM {hours_table})",
                    bounds,
                )
            for sql in (*_SCOPED_INSERTS, *(_SCOPED_EVENT_INSERTS if recompute_events else ())):
                cur.execute(sql, bounds)
            rollup_days.build(cur, full=False, visitors=recompute_events)
            changed += [bounds["lo"], bounds["hi"]]
        if new_events is not None:
            changed += rollup_events.merge(cur, new_events) or ()
        if changed:
            rollup_cache.record_change(cur, min(changed), max(changed))
        cur.execute(
            "UPDATE rollup_state SET refreshed_at = now(), hours_refreshed = hours_refreshed + ? "
            "WHERE id = 1",
            [n],
        )
        _stamp(cur)
        for temp in ("_ro_ids", "_ro_touched", "_ro_buyers", "_ro_first", "_ro_hours", "_ro_event_hours"):
            cur.execute(f"DROP TABLE {temp}")
        return RefreshStats(hours=n, full=False)
    finally:
        cur.unregister("_ro_ids_in")
        cur.unregister("_ro_hours_in")


def refresh_subject(cur: duckdb.DuckDBPyConnection, ids: Sequence[str], order_ids: Sequence[str]) -> None:
    """After a data subject's ids were re-keyed (privacy erasure): recompute every hour the old ids
    appear in, so no rollup keeps them (buyer and visitor ids are in the rollups' grain)."""
    if not is_ready(cur):
        rebuild(cur)
        return
    buyers = [*ids, *(f"anon:{i}" for i in ids)]
    seen = cur.execute(
        "SELECT DISTINCT hour FROM rollup_visitors WHERE list_contains($ids::VARCHAR[], visitor) "
        "UNION SELECT DISTINCT hour FROM rollup_funnel WHERE list_contains($ids::VARCHAR[], visitor)",
        {"ids": list(ids)},
    ).fetchall()
    hours = [r[0] for r in seen]
    more = cur.execute(
        "SELECT order_id FROM rollup_order_index WHERE list_contains(?::VARCHAR[], buyer)", [buyers]
    ).fetchall()
    refresh(cur, order_ids=[*order_ids, *(r[0] for r in more)], hours=hours)


def refresh_events_before(cur: duckdb.DuckDBPyConnection, cutoff: datetime) -> None:
    """After events older than ``cutoff`` were re-keyed or deleted (retention): recompute the visitor
    rollups of every hour up to the one holding ``cutoff`` (orders, lines and refunds are not events)."""
    if not is_ready(cur):
        rebuild(cur)
        return
    row = cur.execute("SELECT date_trunc('hour', ?::TIMESTAMPTZ) + INTERVAL 1 HOUR", [cutoff]).fetchone()
    assert row is not None
    for table in _EVENT_TABLES:
        cur.execute(f"DELETE FROM {table} WHERE hour < ?", [row[0]])
    for sql in _EVENTS_BEFORE:
        cur.execute(sql, {"hi": row[0]})
    rollup_days.build(cur, full=True)  # visitors of every day before the cutoff may have changed
    rollup_cache.record_change(cur, None, row[0])
    _stamp(cur)


def days_supported(zone: str) -> bool:
    """Whether local days of ``zone`` start on UTC hours today (not e.g. Asia/Kolkata, UTC+5:30)."""
    midnight = datetime.now(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp() % 3600 == 0


def keep_days_in(cur: duckdb.DuckDBPyConnection, zone: str) -> bool:
    """Keep the day rollups in the tenant's ``zone`` (building them if they were not); True if built.
    Zones whose days do not start on UTC hours get none: their requests read the raw facts anyway."""
    return rollup_days.set_zone(cur, zone if days_supported(zone) else None)


def mark_stale(cur: duckdb.DuckDBPyConnection) -> None:
    """For writers that change facts wholesale (erasure re-keying, retention): the next refresh rebuilds."""
    cur.execute("UPDATE rollup_state SET ready = false WHERE id = 1")


def status(cur: duckdb.DuckDBPyConnection) -> RollupStatus:
    """Rollup state and row counts, for ``ecomops metrics rollups status`` and the API. A file opened
    read-only before later rollup migrations shows only the tables it has."""
    row = cur.execute(
        "SELECT ready, rebuilt_at, refreshed_at, hours_refreshed FROM rollup_state WHERE id = 1"
    ).fetchone()
    assert row is not None, "rollup_state has no row: warehouse migration 0003 did not run"
    counts = {}
    for table in (*_HOURLY_TABLES, "rollup_buyer_first", *rollup_days.TABLES):
        try:
            c = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
        except duckdb.CatalogException:
            continue
        counts[table] = int(c[0]) if c else 0
    kept = rollup_cache.state(cur)
    return RollupStatus(
        ready=bool(row[0]),
        current=is_current(cur),
        rebuilt_at=row[1],
        refreshed_at=row[2],
        hours_refreshed=int(row[3]),
        day_zone=rollup_days.zone_of(cur),
        version=kept[1] if kept else 0,
        rows=counts,
    )


# --- reading ---------------------------------------------------------------------------------------


def hour_aligned(buckets: Sequence[Bucket]) -> bool:
    """True when every bucket starts and ends on a UTC hour (so it is a union of rollup hours)."""
    return all(b.start.timestamp() % 3600 == 0 and b.end.timestamp() % 3600 == 0 for b in buckets)


def source_for(
    con: duckdb.DuckDBPyConnection,
    buckets: Sequence[Bucket],
    cancelled: threading.Event | None = None,
    timezone: str | None = None,
) -> RollupSource | None:
    """A RollupSource when the rollups are ready and the request's buckets (local periods of
    ``timezone``) are whole UTC hours."""
    if not hour_aligned(buckets) or not is_current(con):
        return None
    return RollupSource(con, cancelled=cancelled or threading.Event(), timezone=timezone)


#: Buckets as (label, hour) rows: a bucket is the union of its UTC hours, so facts join by equality.
_HB = """b AS (SELECT unnest($labels::VARCHAR[]) AS b_label, unnest($starts::TIMESTAMPTZ[]) AS b_start,
                      unnest($ends::TIMESTAMPTZ[]) AS b_end),
hb AS (SELECT b_label, unnest(generate_series(b_start, b_end - INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS hour
       FROM b),
campaigns AS (SELECT DISTINCT utm_source AS c_source, utm_medium AS c_medium, utm_campaign AS c_campaign
              FROM ad_spend)"""
_ATTRIBUTED_JOIN = (
    "LEFT JOIN campaigns c ON r.utm_source = c.c_source AND r.utm_medium = c.c_medium "
    "AND r.utm_campaign = c.c_campaign"
)
_SPAN = "r.hour >= $lo AND r.hour < $hi"

_BUYER_NAMES = ["buyer_count", "repeat_buyer_count", "new_buyer_count", "buyer_ordered_value"]
_BUYER_MEASURES = frozenset(_BUYER_NAMES)
_SUM_MEASURES = ["ordered_value", "merchandise_value", "order_count", "attributed_value"]


def _sales_rows(breakdown: Breakdown | None, columns: str) -> str:
    """The hourly sales rows of the requested hours with their bucket label ``b_label`` and label ``d``."""
    if breakdown is not None and breakdown.items is not None:
        return f"""SELECT hb.b_label, r.dim AS d, {columns}
    FROM rollup_item_sales r JOIN hb ON r.hour = hb.hour
    WHERE r.currency = $currency AND r.dim_kind = $kind AND {_SPAN}"""
    d = dim(f"r.{breakdown.orders}") if breakdown is not None and breakdown.orders else f"'{NONE_LABEL}'"
    return f"""SELECT hb.b_label, {d} AS d, {columns}
    FROM rollup_sales r JOIN hb ON r.hour = hb.hour
    WHERE r.currency = $currency AND {_SPAN}"""


def _sales_sums_sql(breakdown: Breakdown | None, attributed: bool) -> str:
    """Additive sales measures per bucket; the campaign join runs on rows already summed per hour."""
    line = breakdown is not None and breakdown.items is not None
    value = "r.line_value" if line else "r.ordered_value"
    merch = "r.line_value" if line else "r.merchandise_value"
    utm = ", r.utm_source, r.utm_medium, r.utm_campaign" if attributed else ""
    rows = _sales_rows(breakdown, f"sum({value}) AS ov, sum({merch}) AS mv, sum(r.order_count) AS oc{utm}")
    if not attributed:
        return f"""WITH {_HB}, s AS ({rows} GROUP BY ALL)
SELECT b_label, d, sum(ov), sum(mv), sum(oc), NULL FROM s GROUP BY ALL"""
    join = _ATTRIBUTED_JOIN.replace("r.utm", "s.utm")
    return f"""WITH {_HB}, s AS ({rows} GROUP BY ALL)
SELECT s.b_label, s.d, sum(s.ov), sum(s.mv), sum(s.oc), sum(s.ov) FILTER (WHERE c.c_source IS NOT NULL)
FROM s {join} GROUP BY ALL"""


def _sales_buyers_sql(breakdown: Breakdown | None) -> str:
    value = "r.line_value" if breakdown is not None and breakdown.items is not None else "r.ordered_value"
    rows = _sales_rows(
        breakdown, f"r.buyer, sum(r.order_count) AS n, bool_or(r.is_first) AS f, sum({value}) AS v"
    )
    return f"""WITH {_HB}, per_buyer AS ({rows} AND r.buyer IS NOT NULL GROUP BY ALL)
SELECT b_label, d, count(*), count(*) FILTER (WHERE n >= 2), count(*) FILTER (WHERE f), sum(v)
FROM per_buyer GROUP BY ALL"""


def _lines_sql(breakdown: Breakdown | None) -> str:
    if breakdown is not None and breakdown.items is not None:
        d = dim(f"r.{breakdown.items}")
    elif breakdown is not None and breakdown.orders is not None:
        d = dim(f"r.{breakdown.orders}")
    else:
        d = f"'{NONE_LABEL}'"
    # Σ quantity × cost per product equals cost × Σ quantity: both exact decimals.
    return f"""WITH {_HB},
j AS (
    SELECT hb.b_label, {d} AS d, r.line_value, r.lines,
           CAST(r.quantity AS DECIMAL(18, 0)) * p.cost AS cost, p.cost IS NULL AS no_cost,
           c.c_source IS NOT NULL AS attributed
    FROM rollup_lines r JOIN hb ON r.hour = hb.hour {_ATTRIBUTED_JOIN}
    LEFT JOIN products p ON p.product_id = r.product_id
    WHERE r.currency = $currency AND {_SPAN})
SELECT b_label, d, sum(line_value) AS line_value, coalesce(sum(cost), 0) AS line_cost,
       coalesce(sum(lines) FILTER (WHERE no_cost), 0) AS lines_without_cost,
       coalesce(sum(line_value) FILTER (WHERE attributed), 0) AS attributed_line_value,
       coalesce(sum(cost) FILTER (WHERE attributed), 0) AS attributed_line_cost,
       coalesce(sum(lines) FILTER (WHERE attributed AND no_cost), 0) AS attributed_lines_without_cost
FROM j GROUP BY ALL"""


def _refunds_sql(breakdown: Breakdown | None) -> str:
    join = ""
    if breakdown is None:
        d = f"'{NONE_LABEL}'"
    elif breakdown.id == "product":
        d = dim("r.product_id")
    elif breakdown.id == "category":
        d = dim("p.category")
        join = "LEFT JOIN products p ON p.product_id = r.product_id"
    else:
        assert breakdown.orders is not None
        d = dim(f"r.{breakdown.orders}")
    return f"""WITH {_HB}
SELECT hb.b_label, {d} AS d, coalesce(sum(r.refund_value), 0) AS refund_value,
       coalesce(sum(r.units_refunded), 0) AS units_refunded
FROM rollup_refunds r JOIN hb ON r.hour = hb.hour {join}
WHERE r.currency = $currency AND {_SPAN}
GROUP BY ALL"""


def _units_sql(breakdown: Breakdown | None) -> str:
    if breakdown is not None and breakdown.items is not None:
        d = dim(f"r.{breakdown.items}")
    elif breakdown is not None and breakdown.orders is not None:
        d = dim(f"r.{breakdown.orders}")
    else:
        d = f"'{NONE_LABEL}'"
    return f"""WITH {_HB}
SELECT hb.b_label, {d} AS d, coalesce(sum(r.quantity), 0) AS units_sold
FROM rollup_lines r JOIN hb ON r.hour = hb.hour
WHERE r.currency = $currency AND {_SPAN}
GROUP BY ALL"""


def _traffic_sql(breakdown: Breakdown | None) -> str:
    d = dim(f"r.{breakdown.events}") if breakdown is not None and breakdown.events else f"'{NONE_LABEL}'"
    # One row per visitor first (seen in several hours): a cart counts only with a visit in the bucket.
    return f"""WITH {_HB}, per_visitor AS (
    SELECT hb.b_label, {d} AS d, r.visitor, bool_or(r.visited) AS v, bool_or(r.carted) AS c
    FROM rollup_visitors r JOIN hb ON r.hour = hb.hour
    WHERE {_SPAN}
    GROUP BY ALL)
SELECT b_label, d, count(visitor) FILTER (WHERE v) AS visitor_count,
       count(visitor) FILTER (WHERE v AND c) AS cart_visitor_count
FROM per_visitor GROUP BY ALL"""


def _spend_sql(breakdown: Breakdown | None) -> str:
    d = dim(f"a.{breakdown.ad_spend}") if breakdown is not None and breakdown.ad_spend else f"'{NONE_LABEL}'"
    # ad_spend is one row per day × campaign: small enough to read as it is.
    return f"""WITH b AS (SELECT unnest($labels::VARCHAR[]) AS b_label,
                      unnest($first_days::DATE[]) AS b_first, unnest($end_days::DATE[]) AS b_end)
SELECT b.b_label, {d} AS d, sum(a.spend) AS spend_value
FROM ad_spend a JOIN b ON a.date >= b.b_first AND a.date < b.b_end
WHERE a.currency = $currency AND a.date >= $first_day AND a.date < $end_day
GROUP BY ALL"""


@dataclass
class RollupSource:
    """Base measures from the rollup tables, with the same answers as FactsSource (tested)."""

    con: duckdb.DuckDBPyConnection
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: The request's zone: day buckets in it are read from the day tables when they are kept in it.
    timezone: str | None = None
    day_zone: str | None = None
    _checks: dict[str, bool] = field(default_factory=dict)
    #: (epoch, version) of the rollups, read once per request for the kept results.
    _state: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        if self.timezone is not None and self.day_zone is None:
            self.day_zone = rollup_days.zone_of(self.con)

    def _run(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> list[tuple[Any, ...]]:
        if self.cancelled.is_set():
            raise duckdb.InterruptException("metrics request cancelled by its watchdog")
        return self.con.execute(sql, params or []).fetchall()

    def _exists(self, key: str, sql: str, params: list[Any] | None = None) -> bool:
        if key not in self._checks:
            self._checks[key] = bool(self._run(sql, params))
        return self._checks[key]

    def unavailable(
        self, measure: str, breakdown: Breakdown | None, granularity: Granularity, currency: str
    ) -> str | None:
        """Same reasons, in the same order, as FactsSource.unavailable (visits come from rollups)."""
        family = BASE_MEASURES[measure].family
        if family is Family.traffic:
            if breakdown is not None and breakdown.events is None:
                return reasons.NOT_PER_VISITS.format(dimension=breakdown.id)
            if not self._exists("visits", "SELECT 1 FROM rollup_visitors WHERE visited LIMIT 1"):
                return reasons.NO_VISIT_EVENTS
            if measure == "cart_visitor_count" and not self._exists(
                "carts", "SELECT 1 FROM rollup_visitors WHERE carted LIMIT 1"
            ):
                return reasons.NO_EVENTS.format(event=ADD_TO_CART_EVENT)
        elif family is Family.spend:
            if granularity is Granularity.hour:
                return reasons.SPEND_DAILY
            if breakdown is not None and breakdown.ad_spend is None:
                return reasons.NOT_PER_SPEND.format(dimension=breakdown.id)
            if not self._exists(
                f"spend:{currency}", "SELECT 1 FROM ad_spend WHERE currency = ? LIMIT 1", [currency]
            ):
                return reasons.NO_SPEND_IN.format(currency=currency)
        elif family is Family.lines or measure.startswith("attributed_"):
            if family is Family.lines and not self._exists(
                "costs", "SELECT 1 FROM products WHERE cost IS NOT NULL LIMIT 1"
            ):
                return reasons.NO_COSTS
            if measure.startswith("attributed_") and not self._exists(
                "spend:any", "SELECT 1 FROM ad_spend LIMIT 1"
            ):
                return reasons.NO_SPEND
        return None

    def other_currencies(self, window: Bucket, currency: str) -> dict[str, int]:
        rows = self._run(
            "SELECT currency, sum(order_count) FROM rollup_sales "
            "WHERE hour >= ? AND hour < ? AND currency <> ? GROUP BY currency",
            [window.start, window.end, currency],
        )
        return {str(c): int(n) for c, n in rows}

    def converted_currencies(self, window: Bucket, currency: str) -> dict[str, int]:
        """None: the rollups keep each currency apart; a tenant with FX rates is answered from the facts."""
        return {}

    def compute(
        self,
        family: Family,
        buckets: Sequence[Bucket],
        breakdown: Breakdown | None,
        currency: str,
        measures: Collection[str] | None = None,
    ) -> Cells:
        """``measures``: the family's base measures the caller needs (None: all); others may be left out."""
        if family is Family.spend:
            days = rollup_days.day_params(
                [b.label for b in buckets], [b.first_day for b in buckets], [b.end_day for b in buckets]
            )
            return self._cells(
                _spend_sql(breakdown), days | {"currency": currency}, breakdown, ["spend_value"]
            )
        wanted = set(measures) if measures is not None else None
        whole, single = self._day_buckets(buckets)
        if family is Family.sales:
            return self._sales(buckets, whole, single, breakdown, currency, wanted)
        if family is Family.traffic:
            kind = breakdown.id if breakdown is not None else rollup_days.ALL
            cells = self._day_cells(rollup_days.VISITORS_SQL, single, {"kind": kind}, breakdown)
            rest = [b for b in buckets if b.label not in single]
            return self._merge(
                cells,
                self._kept(
                    _traffic_sql(breakdown), rest, {}, breakdown, ["visitor_count", "cart_visitor_count"]
                ),
            )
        if family is Family.lines:
            names = [
                "line_value",
                "line_cost",
                "lines_without_cost",
                "attributed_line_value",
                "attributed_line_cost",
                "attributed_lines_without_cost",
            ]
            return self._hourly(_lines_sql(breakdown), buckets, {"currency": currency}, breakdown, names)
        if family is Family.units:
            return self._hourly(
                _units_sql(breakdown), buckets, {"currency": currency}, breakdown, ["units_sold"]
            )
        return self._hourly(
            _refunds_sql(breakdown),
            buckets,
            {"currency": currency},
            breakdown,
            ["refund_value", "units_refunded"],
        )

    def _sales(
        self,
        buckets: Sequence[Bucket],
        whole: dict[str, Bucket],
        single: dict[str, Bucket],
        breakdown: Breakdown | None,
        currency: str,
        wanted: set[str] | None,
    ) -> Cells:
        kind = breakdown.id if breakdown is not None else rollup_days.ALL
        attributed = wanted is None or "attributed_value" in wanted
        extra = {"currency": currency, "kind": kind}
        cells = self._day_cells(
            rollup_days.sales_sums_sql(attributed), whole, extra, breakdown, _SUM_MEASURES
        )
        hourly_extra = {"currency": currency} | (
            {"kind": kind} if breakdown is not None and breakdown.items is not None else {}
        )
        rest = [b for b in buckets if b.label not in whole]
        self._merge(
            cells,
            self._hourly(
                _sales_sums_sql(breakdown, attributed), rest, hourly_extra, breakdown, _SUM_MEASURES
            ),
        )
        if wanted is None or wanted & _BUYER_MEASURES:
            self._merge(
                cells, self._day_cells(rollup_days.BUYERS_SQL, single, extra, breakdown, _BUYER_NAMES)
            )
            rest = [b for b in buckets if b.label not in single]
            self._merge(
                cells, self._kept(_sales_buyers_sql(breakdown), rest, hourly_extra, breakdown, _BUYER_NAMES)
            )
        return cells

    def _day_buckets(self, buckets: Sequence[Bucket]) -> tuple[dict[str, Bucket], dict[str, Bucket]]:
        """Buckets made of whole local days of the day tables' zone (all, and those of one day)."""
        if self.timezone is None or self.timezone != self.day_zone:
            return {}, {}
        zone = ZoneInfo(self.timezone)
        whole = {
            b.label: b
            for b in buckets
            if rollup_days.whole_days(b.start, b.end, b.first_day, b.end_day, zone)
        }
        single = {label: b for label, b in whole.items() if b.end_day - b.first_day == timedelta(days=1)}
        return whole, single

    def _day_cells(
        self,
        sql: str,
        buckets: dict[str, Bucket],
        extra: dict[str, Any],
        breakdown: Breakdown | None,
        names: list[str] | None = None,
    ) -> Cells:
        if not buckets:
            return {}
        values = list(buckets.values())
        params = rollup_days.day_params(
            [b.label for b in values], [b.first_day for b in values], [b.end_day for b in values]
        )
        params["zone"] = self.day_zone
        return self._cells(sql, params | extra, breakdown, names or ["visitor_count", "cart_visitor_count"])

    def _hourly(
        self,
        sql: str,
        buckets: Sequence[Bucket],
        extra: dict[str, Any],
        breakdown: Breakdown | None,
        names: list[str],
    ) -> Cells:
        if not buckets:
            return {}
        params = {
            "labels": [b.label for b in buckets],
            "starts": [b.start for b in buckets],
            "ends": [b.end for b in buckets],
            "lo": min(b.start for b in buckets),
            "hi": max(b.end for b in buckets),
        }
        return self._cells(sql, params | extra, breakdown, names)

    def _kept(
        self,
        sql: str,
        buckets: Sequence[Bucket],
        extra: dict[str, Any],
        breakdown: Breakdown | None,
        names: list[str],
    ) -> Cells:
        """Like :meth:`_hourly` for queries over the hourly rollup tables alone (distinct buyers and
        visitors): each bucket's result is kept (``rollup_cache``) until a change touches its hours."""
        if not buckets:
            return {}
        if self._state is None:
            self._state = rollup_cache.state(self.con)
        if self._state is None:  # a file opened read-only before migration 0005
            return self._hourly(sql, buckets, extra, breakdown, names)
        epoch, now = self._state
        fixed = (epoch, sql, tuple(sorted(extra.items())), breakdown is not None)
        # Only periods of a day or more: hour buckets are cheap to recompute and would crowd them out.
        keep = {b.label: (fixed, b.start, b.end) for b in buckets if b.end - b.start >= _KEEP_FROM}
        found = rollup_cache.CACHE.get_many(self.con, list(keep.values()), now)
        cells: Cells = {}
        missing = []
        for b in buckets:
            value = found.get(keep[b.label]) if b.label in keep else None
            if value is None:
                missing.append(b)
            else:
                cells |= {(b.label, dim): dict(values) for dim, values in value.items()}
        computed = self._hourly(sql, missing, extra, breakdown, names)
        for b in missing:
            if b.label not in keep:
                continue
            mine = {dim: dict(values) for (label, dim), values in computed.items() if label == b.label}
            if len(mine) <= rollup_cache.MAX_VALUES_KEPT:  # not e.g. buyers of every product
                rollup_cache.CACHE.put(keep[b.label], now, b.start, b.end, mine)
        return cells | computed

    @staticmethod
    def _merge(cells: Cells, more: Cells) -> Cells:
        for key, values in more.items():
            cells.setdefault(key, {}).update(values)
        return cells

    def _cells(
        self, sql: str, params: dict[str, Any], breakdown: Breakdown | None, names: list[str]
    ) -> Cells:
        cells: Cells = {}
        for row in self._run(sql, params):
            key = (row[0], row[1] if breakdown is not None else None)
            values: dict[str, Decimal | int] = {}
            for name, value in zip(names, row[2:], strict=True):
                values[name] = value if value is not None else 0
            cells[key] = values
        return cells


def on_facts_changed(cur: duckdb.DuckDBPyConnection, change: FactsChanged) -> None:
    """The analytics module's facts listener: keep the rollups exact in the writer's transaction."""
    if change.kind == "loaded":
        refresh(cur, order_ids=change.order_ids, new_events=change.events_table)
    elif change.kind == "rebuilt":
        rebuild(cur)
        if change.timezone is not None:
            keep_days_in(cur, change.timezone)
    elif change.kind == "erased":
        refresh_subject(cur, list(change.subject_ids), list(change.order_ids))
    elif change.kind == "events_before":
        if change.cutoff is None:
            raise ValueError("an events_before change needs its cutoff")
        refresh_events_before(cur, change.cutoff)
    else:
        raise ValueError(f"unknown facts change {change.kind!r}")
