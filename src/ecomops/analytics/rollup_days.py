# ruff: noqa: S608 -- SQL here is assembled only from module constants and catalogue column names;
# every value (zone, days, labels, currency) is a bound parameter.
"""Day rollups: the hourly rollups folded into local days of the tenant's time zone.

Why: a dashboard asks for days in the tenant's zone (30 days, the 30 before, the same days last
year). From the hourly tables every distinct count (buyers, visitors) re-reads one row per buyer or
visitor and hour; the day tables store, per local day, the sums (per breakdown value and campaign,
so attribution is still decided at query time) and the distinct counts of that single day. A day
bucket is then a handful of rows. Distinct counts over several days (window totals, weeks, months)
cannot be added up from days and still come from the hourly tables.

Exactness: a bucket whose start and end are whole UTC hours and local midnights of ``day_zone`` is
exactly the union of the hours whose local date falls in it, so a day row computed from those hours
equals the hourly computation (tested against the raw facts with the hourly ones).

Maintenance: :func:`build` recomputes all days or the days of ``_ro_hours`` (the hours a rollup
refresh recomputed) from the hourly tables, in the writer's transaction, when ``day_zone`` is set.
Days are recomputed whole, so a refresh of one hour costs about one day of hourly rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from ecomops.analytics.catalogue import BREAKDOWNS, NONE_LABEL

#: Python's str.strip() whitespace, as Ibis compiles ``strip()`` for the raw path.
_WS = "' ' || chr(9) || chr(10) || chr(13) || chr(11) || chr(12)"
#: dim_kind of the rows without a breakdown.
ALL = "all"
_SALES_TABLES = ("rollup_day_sales", "rollup_day_buyers")
TABLES = (*_SALES_TABLES, "rollup_day_visitors")


def dim(column: str) -> str:
    """The breakdown label of ``column``: missing or blank values become ``(none)`` (as FactsSource)."""
    text = f"CAST({column} AS VARCHAR)"
    return f"CASE WHEN {text} IS NULL OR trim({text}, {_WS}) = '' THEN '{NONE_LABEL}' ELSE {text} END"


def _order_kinds() -> list[tuple[str, str]]:
    """(dim_kind, label expression over rollup_sales) for every order-level breakdown and 'all'."""
    kinds = [(ALL, f"'{NONE_LABEL}'")]
    kinds += [(b.id, dim(b.orders)) for b in BREAKDOWNS.values() if b.items is None and b.orders]
    return kinds


def event_kinds() -> list[tuple[str, str]]:
    return [(ALL, f"'{NONE_LABEL}'")] + [(b.id, dim(b.events)) for b in BREAKDOWNS.values() if b.events]


#: The hourly rows being folded, each with its local ``day`` (temp tables, see :func:`build`).
_STAGES = {"_rd_sales": "rollup_sales", "_rd_items": "rollup_item_sales", "_rd_visitors": "rollup_visitors"}


def fanned(table: str, kinds: list[tuple[str, str]]) -> str:
    """``table``'s rows once per breakdown kind, with that kind's label as ``d``."""
    names = ", ".join(f"'{kind}'" for kind, _ in kinds)
    cases = " ".join(f"WHEN '{kind}' THEN {label}" for kind, label in kinds)
    return f"""(SELECT t.*, k.kind, CASE k.kind {cases} END AS d
              FROM {table} t, (SELECT unnest([{names}]) AS kind) k)"""


def _one_kind(table: str, kind: str, label: str) -> str:
    return f"(SELECT t.*, '{kind}' AS kind, {label} AS d FROM {table} t)"


def _sets(table: str, kinds: list[tuple[str, str]], fan_out: bool) -> list[str]:
    """``table``'s rows labelled per breakdown kind: all kinds in one fanned-out set, or one set each.
    A refresh stages a day or two: one statement per day table, all breakdowns fanned out in SQL (each
    statement has a fixed cost of several ms). A full build stages everything: one statement per
    breakdown, as one fanned-out aggregation over millions of rows × breakdowns runs 2-3× longer."""
    if fan_out:
        return [fanned(table, kinds)]
    return [_one_kind(table, kind, label) for kind, label in kinds]


def _sales_inserts(fan_out: bool) -> list[str]:
    """Statements filling the day sales and buyer tables from the staged hourly rows."""
    out = []
    for rows in _sets("_rd_sales", _order_kinds(), fan_out):
        out.append(
            f"""INSERT INTO rollup_day_sales
                SELECT day, currency, kind, d, utm_source, utm_medium, utm_campaign,
                       sum(ordered_value), sum(merchandise_value), sum(order_count)
                FROM {rows} GROUP BY ALL"""
        )
        out.append(_buyers_insert(rows, "kind", "d", "ordered_value"))
    # rollup_item_sales already holds a product row and a category row per line (dim_kind, dim).
    out.append(
        """INSERT INTO rollup_day_sales
            SELECT day, currency, dim_kind, dim, utm_source, utm_medium, utm_campaign,
                   sum(line_value), sum(line_value), sum(order_count)
            FROM _rd_items GROUP BY ALL"""
    )
    out.append(_buyers_insert("_rd_items", "dim_kind", "dim", "line_value"))
    return out


def _visitor_inserts(fan_out: bool) -> list[str]:
    # One row per visitor first (a visitor seen in several hours), then plain counts; a NULL visitor
    # keeps its group (with zero visitors), as count(DISTINCT visitor) does on the hourly path.
    return [
        f"""INSERT INTO rollup_day_visitors
            SELECT day, kind, d, count(visitor) FILTER (WHERE v), count(visitor) FILTER (WHERE v AND c)
            FROM (SELECT day, kind, d, visitor, bool_or(visited) AS v, bool_or(carted) AS c
                  FROM {rows} GROUP BY ALL)
            GROUP BY ALL"""
        for rows in _sets("_rd_visitors", event_kinds(), fan_out)
    ]


def _buyers_insert(rows: str, kind: str, label: str, value: str) -> str:
    """Distinct buyers per day and label, and the value of their orders (buyer_ordered_value)."""
    return f"""INSERT INTO rollup_day_buyers
            (day, currency, dim_kind, dim, buyer_count, repeat_buyer_count, new_buyer_count,
             buyer_ordered_value)
        SELECT day, currency, kind, d, count(*), count(*) FILTER (WHERE n >= 2), count(*) FILTER (WHERE f),
               sum(v)
        FROM (SELECT day, currency, {kind} AS kind, {label} AS d, buyer, sum(order_count) AS n,
                     bool_or(is_first) AS f, sum({value}) AS v
              FROM {rows} WHERE buyer IS NOT NULL GROUP BY ALL)
        GROUP BY ALL"""


_FULL_INSERTS = (_sales_inserts(fan_out=False), _visitor_inserts(fan_out=False))
_REFRESH_INSERTS = (_sales_inserts(fan_out=True), _visitor_inserts(fan_out=True))


def zone_of(cur: duckdb.DuckDBPyConnection) -> str | None:
    """The zone the day tables are kept in (None: not kept, or a warehouse file opened read-only
    before migration 0004 added them, or before analytics migration 0005 gave their buyer and cart
    counts the meaning the metrics now have)."""
    try:
        row = cur.execute("SELECT day_zone FROM rollup_state WHERE id = 1").fetchone()
        cur.execute("SELECT buyer_ordered_value FROM rollup_day_buyers LIMIT 0")
    except (duckdb.BinderException, duckdb.CatalogException):
        return None
    return str(row[0]) if row and row[0] else None


#: Hours that can fall in a requested bucket (periods.MIN_DAY/MAX_DAY, comparisons a year back): hours
#: outside get no day row, and their local dates are never computed (year 1 or 9999 would overflow).
MAPPED_FROM = datetime(1969, 12, 1, tzinfo=UTC)
MAPPED_TO = datetime(9001, 2, 1, tzinfo=UTC)
_PRESENT_HOURS = """SELECT hour FROM rollup_sales WHERE hour >= $lo AND hour < $hi
    UNION SELECT hour FROM rollup_item_sales WHERE hour >= $lo AND hour < $hi
    UNION SELECT hour FROM rollup_visitors WHERE hour >= $lo AND hour < $hi"""


def hour_days(hours: list[datetime], zone: ZoneInfo) -> pa.Table:
    """Each UTC hour with its local date in ``zone``, computed with Python's zoneinfo: the same
    time-zone data the engine's buckets come from (DuckDB's ICU data can differ, e.g. for
    America/Vancouver's rules from 2026), so a day row and a day bucket always hold the same hours."""
    return pa.table(
        {
            "hour": pa.array(hours, pa.timestamp("us", tz="UTC")),
            "day": pa.array([h.astimezone(zone).date() for h in hours], pa.date32()),
        }
    )


def build(cur: duckdb.DuckDBPyConnection, *, full: bool, visitors: bool = True) -> int:
    """Recompute every day, or the local days of the hours in the temp table ``_ro_hours``; returns
    the number of days recomputed (0 when no day zone is set). ``visitors=False`` leaves the day
    visitor counts alone: a refresh whose events were merged (rollup_events) changed no visitor row.

    The hourly rows of those days are copied once, with their local day, into small temp tables that
    every breakdown's insert then reads (instead of each insert scanning the hourly tables again)."""
    zone = zone_of(cur)
    if zone is None:
        return 0
    tz = ZoneInfo(zone)
    tables = TABLES if visitors else _SALES_TABLES
    stages = _STAGES if visitors else {k: v for k, v in _STAGES.items() if k != "_rd_visitors"}
    if full:
        for table in tables:
            cur.execute(f"DELETE FROM {table}")
        lo, hi = MAPPED_FROM, MAPPED_TO
        touched: set[date] | None = None
    else:
        rows = cur.execute(
            "SELECT DISTINCT hour FROM _ro_hours WHERE hour >= $lo AND hour < $hi",
            {"lo": MAPPED_FROM, "hi": MAPPED_TO},
        ).fetchall()
        if not rows:
            return 0
        touched = {r[0].astimezone(tz).date() for r in rows}
        # Whole local days around the refreshed hours: a local day lies within ±2 days of its UTC date.
        lo = max(MAPPED_FROM, min(r[0] for r in rows) - timedelta(days=2))
        hi = min(MAPPED_TO, max(r[0] for r in rows) + timedelta(days=3))
    # Only hours that hold rows are mapped: a shop's history, not every hour of the span.
    present = [r[0] for r in cur.execute(_PRESENT_HOURS, {"lo": lo, "hi": hi}).fetchall()]
    mapping = hour_days(present, tz)
    if touched is not None:
        keep = [d in touched for d in mapping.column("day").to_pylist()]
        mapping = mapping.filter(pa.array(keep, pa.bool_()))
        for table in tables:
            cur.execute(
                f"DELETE FROM {table} WHERE list_contains($days::DATE[], day)", {"days": sorted(touched)}
            )
    if mapping.num_rows == 0:
        return 0
    cur.register("_rd_map_in", mapping)
    try:
        cur.execute("CREATE OR REPLACE TEMP TABLE _rd_map AS SELECT * FROM _rd_map_in")
    finally:
        cur.unregister("_rd_map_in")
    bounds = cur.execute("SELECT min(hour), max(hour) + INTERVAL 1 HOUR FROM _rd_map").fetchone()
    assert bounds is not None
    for stage, source in stages.items():
        # The range lets DuckDB skip row groups before the join.
        cur.execute(
            f"""CREATE OR REPLACE TEMP TABLE {stage} AS
                SELECT m.day, t.* FROM {source} t JOIN _rd_map m ON m.hour = t.hour
                WHERE t.hour >= $lo AND t.hour < $hi""",
            {"lo": bounds[0], "hi": bounds[1]},
        )
    sales, visitor_counts = _FULL_INSERTS if full else _REFRESH_INSERTS
    for sql in (*sales, *visitor_counts) if visitors else sales:
        cur.execute(sql)
    row = cur.execute("SELECT count(DISTINCT day) FROM _rd_sales").fetchone()
    for stage in (*stages, "_rd_map"):
        cur.execute(f"DROP TABLE {stage}")
    return int(row[0]) if row else 0


def set_zone(cur: duckdb.DuckDBPyConnection, zone: str | None) -> bool:
    """Keep the day tables in ``zone`` (the tenant's), rebuilding them when it changes; True if it did."""
    if zone_of(cur) == zone:
        return False
    cur.execute("UPDATE rollup_state SET day_zone = ? WHERE id = 1", [zone])
    if zone is None:
        for table in TABLES:
            cur.execute(f"DELETE FROM {table}")
    else:
        build(cur, full=True)
    return True


# --- reading ---------------------------------------------------------------------------------------


def whole_days(start: datetime, end: datetime, first_day: date, end_day: date, zone: ZoneInfo) -> bool:
    """True when [start, end) is exactly the local days [first_day, end_day) of ``zone``."""
    return start == _midnight(first_day, zone) and end == _midnight(end_day, zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), zone)


#: In the query's own snapshot, the day tables are still kept in the zone the reader planned for.
_SAME_ZONE = "(SELECT day_zone FROM rollup_state WHERE id = 1) = $zone"
_DAY_BUCKETS = """b AS (SELECT unnest($labels::VARCHAR[]) AS b_label, unnest($first_days::DATE[]) AS b_first,
                      unnest($end_days::DATE[]) AS b_end)"""
_CAMPAIGNS = """campaigns AS (SELECT DISTINCT utm_source AS c_source, utm_medium AS c_medium,
                                     utm_campaign AS c_campaign FROM ad_spend)"""


def sales_sums_sql(attributed: bool) -> str:
    """Additive sales measures of buckets made of whole local days (any number of days)."""
    join = (
        "LEFT JOIN campaigns c ON r.utm_source = c.c_source AND r.utm_medium = c.c_medium "
        "AND r.utm_campaign = c.c_campaign"
        if attributed
        else ""
    )
    value = "sum(r.ordered_value) FILTER (WHERE c.c_source IS NOT NULL)" if attributed else "NULL"
    return f"""WITH {_DAY_BUCKETS}{", " + _CAMPAIGNS if attributed else ""}
SELECT b.b_label, r.dim, sum(r.ordered_value), sum(r.merchandise_value), sum(r.order_count), {value}
FROM rollup_day_sales r JOIN b ON r.day >= b.b_first AND r.day < b.b_end {join}
WHERE r.currency = $currency AND r.dim_kind = $kind AND r.day >= $first_day AND r.day < $end_day
  AND {_SAME_ZONE}
GROUP BY ALL"""


BUYERS_SQL = f"""WITH {_DAY_BUCKETS}
SELECT b.b_label, r.dim, r.buyer_count, r.repeat_buyer_count, r.new_buyer_count, r.buyer_ordered_value
FROM rollup_day_buyers r JOIN b ON r.day = b.b_first
WHERE r.currency = $currency AND r.dim_kind = $kind AND r.day >= $first_day AND r.day < $end_day
  AND {_SAME_ZONE}"""

VISITORS_SQL = f"""WITH {_DAY_BUCKETS}
SELECT b.b_label, r.dim, r.visitor_count, r.cart_visitor_count
FROM rollup_day_visitors r JOIN b ON r.day = b.b_first
WHERE r.dim_kind = $kind AND r.day >= $first_day AND r.day < $end_day AND {_SAME_ZONE}"""


def day_params(labels: list[str], first_days: list[date], end_days: list[date]) -> dict[str, Any]:
    return {
        "labels": labels,
        "first_days": first_days,
        "end_days": end_days,
        "first_day": min(first_days),
        "end_day": max(end_days),
    }
