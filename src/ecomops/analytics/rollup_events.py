# ruff: noqa: S608 -- SQL here is assembled only from module constants and catalogue names; table names
# are module constants or the writer's (module-constant) staging table; every value is a bound parameter.
"""The visitor rollups (``rollup_visitors``, ``rollup_funnel``, ``rollup_day_visitors``): what they hold,
and how a load's new events are merged into them instead of recomputing their hours.

Why merge: a refresh used to recompute every hour holding a new event from all of that hour's events, and
every local day holding such an hour from all of the day's hourly rows, so each load cost grew with the
traffic already received that hour and day. Measured with 200-event loads on a 2-core machine under load:
0.2 s into an empty hour, 1.2 s with 300k events in the last hour, 3-5 s with 1.5M; at 5k events/s an hour
holds 18M events and freshness would have been minutes. These rollups are flags per (hour, dimensions,
visitor) and distinct visitor counts per local day and breakdown label; new events can only set flags and
add visitors, never unset or remove them. So the load's own rows decide the change:

- hourly rows: a new row's flags are OR-ed into the existing row of the same key, or the row is inserted;
- day counts: a visitor counts once per day and label; the load adds those of its visitors who did not
  count yet from the earlier rows of the same day and label (read from the hourly rows of the load's
  visitors only, never from the whole day).

The result equals a recomputation: the hypothesis test in tests/analytics/test_rollups.py compares every
table with a rebuild after random interleavings of loads. Writers that change or remove events (erasure,
retention) still recompute their hours (``rollups.refresh(hours=…)``), as merging can only add.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from ecomops.analytics import rollup_days
from ecomops.analytics.catalogue import (
    ADD_TO_CART_EVENT,
    CHECKOUT_EVENT,
    ORDER_EVENT,
    PRODUCT_VIEWED_EVENT,
    VISIT_EVENT_TYPES,
)

_VISITS = ", ".join(f"'{t}'" for t in VISIT_EVENT_TYPES)
#: Track events the visitor and funnel rollups read (with page/screen visits).
_TRACKED = ", ".join(f"'{e}'" for e in (ADD_TO_CART_EVENT, PRODUCT_VIEWED_EVENT, CHECKOUT_EVENT, ORDER_EVENT))
ROLLED_EVENTS = f"(type IN ({_VISITS}) OR (type = 'track' AND event IN ({_TRACKED})))"

#: The key of a rollup_visitors row (its dimensions are raw values and may be NULL).
_VISITOR_KEY = ("hour", "channel", "utm_source", "utm_campaign", "region", "country", "device", "visitor")


def visitors_select(source: str, scope: str) -> str:
    """rollup_visitors rows of the events of ``source`` within ``scope``."""
    return f"""SELECT date_trunc('hour', ts) AS hour, channel, utm_source, utm_campaign, region, country,
                   device, coalesce(anonymous_id, user_id) AS visitor,
                   coalesce(bool_or(type IN ({_VISITS})), false) AS visited,
                   coalesce(bool_or(type = 'track' AND event = '{ADD_TO_CART_EVENT}'), false) AS carted
            FROM {source}
            WHERE (type IN ({_VISITS}) OR (type = 'track' AND event = '{ADD_TO_CART_EVENT}'))
              AND {scope}
            GROUP BY ALL"""


def funnel_select(source: str, scope: str) -> str:
    """rollup_funnel rows (one per hour and visitor: which steps they reached) of ``source``'s events."""

    def step(event: str) -> str:
        return f"coalesce(bool_or(type = 'track' AND event = '{event}'), false)"

    return f"""SELECT date_trunc('hour', ts) AS hour, coalesce(anonymous_id, user_id) AS visitor,
                   coalesce(bool_or(type IN ({_VISITS})), false) AS visited,
                   {step(PRODUCT_VIEWED_EVENT)} AS viewed, {step(ADD_TO_CART_EVENT)} AS carted,
                   {step(CHECKOUT_EVENT)} AS checkout, {step(ORDER_EVENT)} AS ordered
            FROM {source}
            WHERE {ROLLED_EVENTS} AND coalesce(anonymous_id, user_id) IS NOT NULL AND {scope}
            GROUP BY 1, 2"""


def _same_key(a: str, b: str, key: tuple[str, ...]) -> str:
    return " AND ".join(f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in key)


def _merge_sql(table: str, staged: str, key: tuple[str, ...], flags: tuple[str, ...]) -> tuple[str, str]:
    """OR the staged rows' flags into ``table``'s rows of the same key, then insert the new keys. The hour
    range lets DuckDB skip row groups before the join."""
    in_range = "r.hour >= $lo AND r.hour < $hi"
    sets = ", ".join(f"{f} = r.{f} OR n.{f}" for f in flags)
    gains = " OR ".join(f"(n.{f} AND NOT r.{f})" for f in flags)
    update = f"""UPDATE {table} AS r SET {sets} FROM {staged} n
                 WHERE {in_range} AND {_same_key("r", "n", key)} AND ({gains})"""
    insert = f"""INSERT INTO {table} SELECT n.* FROM {staged} n
                 WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE {in_range} AND {_same_key("r", "n", key)})"""
    return update, insert


_MERGE_VISITORS = _merge_sql("rollup_visitors", "_re_visitors", _VISITOR_KEY, ("visited", "carted"))
_MERGE_FUNNEL = _merge_sql(
    "rollup_funnel", "_re_funnel", ("hour", "visitor"), ("visited", "viewed", "carted", "checkout", "ordered")
)

#: Per day and label, the load's visitors who count now and did not before: visitors once visited, cart
#: visitors once they both visited and carted (a cart without a visit is not counted, see metrics.md).
_DAY_GAINS = f"""CREATE OR REPLACE TEMP TABLE _re_gains AS
    WITH n AS (SELECT day, kind, d, visitor, bool_or(visited) AS v, bool_or(carted) AS c
               FROM {rollup_days.fanned("_re_new", rollup_days.event_kinds())} GROUP BY ALL),
         o AS (SELECT day, kind, d, visitor, bool_or(visited) AS v, bool_or(carted) AS c
               FROM {rollup_days.fanned("_re_old", rollup_days.event_kinds())} GROUP BY ALL)
    SELECT n.day, n.kind, n.d,
           count(n.visitor) FILTER (WHERE n.v AND NOT coalesce(o.v, false)) AS visitors,
           count(n.visitor) FILTER (
               WHERE (n.v OR coalesce(o.v, false)) AND (n.c OR coalesce(o.c, false))
                 AND NOT coalesce(o.v AND o.c, false)) AS carted
    FROM n LEFT JOIN o ON o.day = n.day AND o.kind = n.kind AND o.d = n.d AND o.visitor = n.visitor
    GROUP BY ALL"""
_ADD_DAY_GAINS = """UPDATE rollup_day_visitors AS t
    SET visitor_count = t.visitor_count + g.visitors, cart_visitor_count = t.cart_visitor_count + g.carted
    FROM _re_gains g
    WHERE t.day = g.day AND t.dim_kind = g.kind AND t.dim = g.d AND (g.visitors > 0 OR g.carted > 0)"""
# A label seen only with a NULL visitor still gets its (zero) row, as the recomputation groups it.
_NEW_DAY_ROWS = """INSERT INTO rollup_day_visitors SELECT day, kind, d, visitors, carted FROM _re_gains g
    WHERE NOT EXISTS (SELECT 1 FROM rollup_day_visitors t
                      WHERE t.day = g.day AND t.dim_kind = g.kind AND t.dim = g.d)"""


def _merge_days(cur: duckdb.DuckDBPyConnection, zone: str, hours: list[datetime]) -> None:
    """Add the staged rows' new visitors to the day counts (before the hourly rows are merged)."""
    tz = ZoneInfo(zone)
    mapped = [h for h in hours if rollup_days.MAPPED_FROM <= h < rollup_days.MAPPED_TO]
    if not mapped:
        return
    days = {h.astimezone(tz).date() for h in mapped}
    # A local day lies within ±2 days of its UTC date: the earlier hours of the touched days are in here.
    lo = max(rollup_days.MAPPED_FROM, min(mapped) - timedelta(days=2))
    hi = min(rollup_days.MAPPED_TO, max(mapped) + timedelta(days=3))
    present = cur.execute(
        "SELECT DISTINCT hour FROM rollup_visitors WHERE hour >= $lo AND hour < $hi", {"lo": lo, "hi": hi}
    ).fetchall()
    mapping = rollup_days.hour_days(sorted({*mapped, *(r[0] for r in present)}), tz)
    keep = [d in days for d in mapping.column("day").to_pylist()]
    cur.register("_re_map", mapping.filter(pa.array(keep, pa.bool_())))
    try:
        cur.execute(
            """CREATE OR REPLACE TEMP TABLE _re_new AS
               SELECT m.day, n.* FROM _re_visitors n JOIN _re_map m ON m.hour = n.hour"""
        )
        cur.execute(
            """CREATE OR REPLACE TEMP TABLE _re_old AS
               SELECT m.day, r.* FROM rollup_visitors r JOIN _re_map m ON m.hour = r.hour
               WHERE r.hour >= $lo AND r.hour < $hi
                 AND r.visitor IN (SELECT visitor FROM _re_visitors WHERE visitor IS NOT NULL)""",
            {"lo": lo, "hi": hi},
        )
    finally:
        cur.unregister("_re_map")
    cur.execute(_DAY_GAINS)
    cur.execute(_ADD_DAY_GAINS)
    cur.execute(_NEW_DAY_ROWS)
    for temp in ("_re_new", "_re_old", "_re_gains"):
        cur.execute(f"DROP TABLE {temp}")


def merge(cur: duckdb.DuckDBPyConnection, source: str) -> tuple[datetime, datetime] | None:
    """Merge the events of ``source`` (already inserted into ``events``) into the visitor rollups;
    returns the UTC hours [lo, hi) that changed, or None when no event is one the rollups count."""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _re_visitors AS {visitors_select(source, 'TRUE')}")
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _re_funnel AS {funnel_select(source, 'TRUE')}")
    staged = cur.execute("SELECT hour FROM _re_visitors UNION SELECT hour FROM _re_funnel").fetchall()
    hours = sorted(r[0] for r in staged)
    changed = None
    if hours:
        bounds = {"lo": hours[0], "hi": hours[-1] + timedelta(hours=1)}
        zone = rollup_days.zone_of(cur)
        if zone is not None:
            _merge_days(cur, zone, hours)
        for sql in (*_MERGE_VISITORS, *_MERGE_FUNNEL):
            cur.execute(sql, bounds)
        changed = (bounds["lo"], bounds["hi"])
    # Only on success: after an error the writer's transaction is aborted and its rollback drops them.
    cur.execute("DROP TABLE _re_visitors")
    cur.execute("DROP TABLE _re_funnel")
    return changed
