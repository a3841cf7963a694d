"""Live figures of one tenant (实时直播 dashboard): the last 60 minutes by minute, today so far, hot
products, channels, live-stream sessions and unpaid orders to chase — one consistent snapshot.

Why a separate module from the KPI engine: the live screen refreshes every second for every open
dashboard, so it must cost milliseconds. It reads only today's facts (the ``ordered_at``/``ts`` ranges
prune DuckDB row groups) with a handful of fixed, parameterised SQL statements inside one read
transaction, instead of planning Ibis expressions per request. The counting rules are the catalogue's
(``docs/metrics.md``) so the figures agree with the metrics API for the same window:

- GMV and orders: every order not ``cancelled``/``canceled``/``voided``, in the tenant's currency
  (orders in other currencies are counted in ``other_currencies``, not converted);
- buyer: ``customer_id`` else ``anonymous_id``; visitor: ``anonymous_id`` else ``user_id`` of a
  ``page``/``screen`` event; conversion = buyers / visitors of the same bucket (null without visitors);
- "today" is the tenant's local calendar day, from local midnight up to ``now`` (facts stamped in the
  future — clock skew, simulated data — are not "live" yet and are left out);
- minutes are whole UTC minutes, labelled in the tenant's zone (every zone in use today has a whole-
  minute offset, so they are also whole local minutes).

``now`` is a parameter so tests can pin the clock.

The snapshot is typed (:class:`LiveSnapshot`: Decimal money with four places, aware datetimes in the
tenant's zone); its JSON form (money as strings, times as ``isoformat()``) is what ``GET …/live``, the
SSE stream, the page's first paint and ``ecomops live show --json`` carry. :func:`snapshot` is the use
case: the server's hub shares it among open screens, the CLI runs it when no server owns the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from ecomops.analytics.service import EXCLUDED_ORDER_STATUSES
from ecomops.kernel.clock import utcnow
from ecomops.kernel.jsonutil import IsoDateTime
from ecomops.platform.context import TenantInfo
from ecomops.platform.web.state import AppState

Cursor = duckdb.DuckDBPyConnection

#: Minutes in the rolling chart.
WINDOW_MINUTES = 60
#: Statuses of orders placed but not paid yet, the ones an operator chases (imports and platform
#: exports use different words for the same state).
UNPAID_STATUSES: tuple[str, ...] = ("pending", "unpaid", "pending_payment", "awaiting_payment", "created")
#: Rows in the hot-product ranking and the unpaid list.
TOP_PRODUCTS = 10
UNPAID_LIMIT = 20
#: Sessions shown: those running now plus those that started today.
SESSION_LIMIT = 10
ZERO = Decimal("0")


@dataclass(frozen=True)
class LiveScope:
    """Whose figures and how to read them: the tenant's zone and reporting currency."""

    timezone: str
    currency: str

    @classmethod
    def of(cls, tenant: TenantInfo) -> LiveScope:
        return cls(tenant.timezone, tenant.currency)


@dataclass(frozen=True)
class Minute:
    #: The whole minute's start, in the tenant's zone.
    minute: IsoDateTime
    gmv: Decimal
    orders: int
    buyers: int
    visitors: int
    #: Buyers / visitors of the minute; None without visitors.
    conversion: float | None


@dataclass(frozen=True)
class Today:
    gmv: Decimal
    orders: int
    buyers: int
    visitors: int
    conversion: float | None
    aov: Decimal | None
    #: Counted orders of today in other currencies (left out of every figure).
    other_currencies: int
    unpaid_orders: int
    unpaid_value: Decimal


@dataclass(frozen=True)
class HotProduct:
    rank: int
    product_id: str
    name: str | None
    #: The catalogue's names in English and Chinese when it has them (the console shows the reader's).
    name_en: str | None
    name_zh: str | None
    category: str | None
    revenue: Decimal
    units: int
    orders: int


@dataclass(frozen=True)
class ChannelToday:
    channel: str
    gmv: Decimal
    orders: int


@dataclass(frozen=True)
class LiveSession:
    live_session_id: str
    channel: str | None
    host: str | None
    title: str | None
    started_at: IsoDateTime | None
    ended_at: IsoDateTime | None
    on_air: bool
    peak_viewers: int | None
    total_viewers: int | None
    gmv: Decimal
    orders: int
    gmv_per_viewer: Decimal | None


@dataclass(frozen=True)
class UnpaidOrder:
    order_id: str
    ordered_at: IsoDateTime | None
    status: str
    channel: str | None
    customer_id: str | None
    total: Decimal
    currency: str
    items_count: int


@dataclass(frozen=True)
class LiveSnapshot:
    """The live figures of one tenant at ``as_of`` (UTC); other times are in ``timezone``."""

    as_of: IsoDateTime
    timezone: str
    currency: str
    day_start: IsoDateTime
    minutes: tuple[Minute, ...]
    today: Today
    hot_products: tuple[HotProduct, ...]
    channels: tuple[ChannelToday, ...]
    live_sessions: tuple[LiveSession, ...]
    unpaid: tuple[UnpaidOrder, ...]
    last_order_at: IsoDateTime | None


def snapshot(state: AppState, tenant: TenantInfo, now: datetime | None = None) -> LiveSnapshot:
    """The tenant's live figures now (or at ``now``), on a private cursor of its warehouse."""
    cur = state.warehouses.get(tenant.id).cursor()
    try:
        return compute(cur, LiveScope.of(tenant), now or utcnow())
    finally:
        cur.close()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: live figures need an aware 'now'")
    return value.astimezone(UTC)


def _money(value: Decimal | None) -> Decimal:
    """Four places, as every money value in the API (a missing sum is zero)."""
    return (value or ZERO).quantize(Decimal("0.0001"))


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if value is None else value.astimezone(zone)


def day_start(now: datetime, timezone: str) -> datetime:
    """Local midnight of ``now``'s local day, as an aware UTC datetime (DST-safe via the zone database)."""
    zone = ZoneInfo(timezone)
    local = _utc(now).astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    return midnight.astimezone(UTC)


def compute(cur: Cursor, scope: LiveScope, now: datetime) -> LiveSnapshot:
    """The whole live snapshot at ``now`` in one read transaction (all parts see the same data)."""
    now = _utc(now)
    zone = ZoneInfo(scope.timezone)
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # end of the current minute
    start = end - timedelta(minutes=WINDOW_MINUTES)
    today = day_start(now, scope.timezone)
    # The chart may reach into yesterday; read facts from the earlier of both starts once.
    since = min(start, today)
    cur.execute("BEGIN TRANSACTION")
    try:
        minutes = _minutes(cur, scope, start, end, now, zone)
        totals = _today(cur, scope, today, now)
        hot = _hot_products(cur, scope, today, now)
        channels = _channels(cur, scope, today, now)
        sessions = _sessions(cur, scope, today, now, zone)
        unpaid = _unpaid(cur, zone)
        last_order = cur.execute(
            "SELECT max(ordered_at) FROM orders WHERE ordered_at >= ? AND ordered_at <= ?", [since, now]
        ).fetchone()
    finally:
        cur.execute("ROLLBACK")
    return LiveSnapshot(
        as_of=now,
        timezone=scope.timezone,
        currency=scope.currency,
        day_start=today.astimezone(zone),
        minutes=minutes,
        today=totals,
        hot_products=hot,
        channels=channels,
        live_sessions=sessions,
        unpaid=unpaid,
        last_order_at=_local(last_order[0] if last_order else None, zone),
    )


#: Passed as one list parameter (``list_contains(?, status)``): the SQL text never changes.
_EXCLUDED = list(EXCLUDED_ORDER_STATUSES)
_UNPAID = list(UNPAID_STATUSES)


def _minutes(
    cur: Cursor,
    scope: LiveScope,
    start: datetime,
    end: datetime,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[Minute, ...]:
    """60 rows, oldest first, zeros for quiet minutes (a chart needs every minute on its axis)."""
    orders = cur.execute(
        """SELECT time_bucket(INTERVAL 1 MINUTE, ordered_at) AS m, sum(total), count(*),
                   count(DISTINCT coalesce(customer_id, anonymous_id))
            FROM orders
            WHERE ordered_at >= ? AND ordered_at <= ? AND currency = ? AND NOT list_contains(?, status)
            GROUP BY m""",
        [start, now, scope.currency, _EXCLUDED],
    ).fetchall()
    visitors = cur.execute(
        """SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS m, count(DISTINCT coalesce(anonymous_id, user_id))
           FROM events
           WHERE ts >= ? AND ts <= ? AND type IN ('page', 'screen')
             AND coalesce(anonymous_id, user_id) IS NOT NULL
           GROUP BY m""",
        [start, now],
    ).fetchall()
    by_minute: dict[datetime, list[Any]] = {}
    for minute, gmv, count, buyers in orders:
        by_minute[_utc(minute)] = [gmv, count, buyers, 0]
    for minute, visitor_count in visitors:
        by_minute.setdefault(_utc(minute), [ZERO, 0, 0, 0])[3] = visitor_count
    rows = []
    minute = start
    while minute < end:
        gmv, count, buyers, visitor_count = by_minute.get(minute, [ZERO, 0, 0, 0])
        rows.append(
            Minute(
                minute=minute.astimezone(zone),
                gmv=_money(gmv),
                orders=int(count),
                buyers=int(buyers),
                visitors=int(visitor_count),
                conversion=_ratio(int(buyers), int(visitor_count)),
            )
        )
        minute += timedelta(minutes=1)
    return tuple(rows)


def _today(cur: Cursor, scope: LiveScope, today: datetime, now: datetime) -> Today:
    gmv, count, buyers = cur.execute(
        """SELECT sum(total), count(*), count(DISTINCT coalesce(customer_id, anonymous_id))
            FROM orders
            WHERE ordered_at >= ? AND ordered_at <= ? AND currency = ? AND NOT list_contains(?, status)""",
        [today, now, scope.currency, _EXCLUDED],
    ).fetchone() or (None, 0, 0)
    other = cur.execute(
        """SELECT count(*) FROM orders
            WHERE ordered_at >= ? AND ordered_at <= ? AND currency <> ? AND NOT list_contains(?, status)""",
        [today, now, scope.currency, _EXCLUDED],
    ).fetchone()
    visitors = cur.execute(
        """SELECT count(DISTINCT coalesce(anonymous_id, user_id)) FROM events
           WHERE ts >= ? AND ts <= ? AND type IN ('page', 'screen')""",
        [today, now],
    ).fetchone()
    unpaid = cur.execute(
        "SELECT count(*), sum(total) FROM orders WHERE list_contains(?, status)", [_UNPAID]
    ).fetchone() or (0, None)
    visitor_count = int(visitors[0]) if visitors else 0
    count = int(count or 0)
    buyers = int(buyers or 0)
    return Today(
        gmv=_money(gmv),
        orders=count,
        buyers=buyers,
        visitors=visitor_count,
        conversion=_ratio(buyers, visitor_count),
        aov=None if count == 0 else _money((gmv or ZERO) / count),
        other_currencies=int(other[0]) if other else 0,
        unpaid_orders=int(unpaid[0] or 0),
        unpaid_value=_money(unpaid[1]),
    )


def _hot_products(cur: Cursor, scope: LiveScope, today: datetime, now: datetime) -> tuple[HotProduct, ...]:
    """Today's best sellers by line revenue (lines of counted orders in the tenant's currency)."""
    rows = cur.execute(
        """SELECT i.product_id, any_value(coalesce(p.name, i.name)),
                   any_value(json_extract_string(p.attributes, '$.name_en')),
                   any_value(json_extract_string(p.attributes, '$.name_zh')),
                   any_value(coalesce(p.category, i.category)),
                   sum(i.line_total) AS revenue, sum(i.quantity), count(DISTINCT i.order_id)
            FROM order_items i
            JOIN orders o ON o.order_id = i.order_id
            LEFT JOIN products p ON p.product_id = i.product_id
            WHERE i.ordered_at >= ? AND i.ordered_at <= ? AND i.currency = ? AND i.product_id IS NOT NULL
              AND NOT list_contains(?, o.status)
            GROUP BY i.product_id
            ORDER BY revenue DESC, i.product_id
            LIMIT ?""",
        [today, now, scope.currency, _EXCLUDED, TOP_PRODUCTS],
    ).fetchall()
    return tuple(
        HotProduct(rank, pid, name, name_en, name_zh, category, _money(revenue), int(units or 0), int(orders))
        for rank, (pid, name, name_en, name_zh, category, revenue, units, orders) in enumerate(rows, start=1)
    )


def _channels(cur: Cursor, scope: LiveScope, today: datetime, now: datetime) -> tuple[ChannelToday, ...]:
    rows = cur.execute(
        """SELECT coalesce(channel, '(none)') AS ch, sum(total) AS gmv, count(*)
            FROM orders
            WHERE ordered_at >= ? AND ordered_at <= ? AND currency = ? AND NOT list_contains(?, status)
            GROUP BY ch ORDER BY gmv DESC, ch""",
        [today, now, scope.currency, _EXCLUDED],
    ).fetchall()
    return tuple(ChannelToday(ch, _money(gmv), int(n)) for ch, gmv, n in rows)


def _sessions(
    cur: Cursor, scope: LiveScope, today: datetime, now: datetime, zone: ZoneInfo
) -> tuple[LiveSession, ...]:
    """Broadcasts running now or started today, with the GMV and orders attributed to each.

    Viewer counts are the platform's (``live_sessions``); GMV is the sum of the counted orders that carry
    the session id, up to ``now``.
    """
    rows = cur.execute(
        """SELECT s.live_session_id, s.channel, s.host, s.title, s.started_at, s.ended_at,
                   s.peak_viewers, s.total_viewers,
                   (SELECT sum(o.total) FROM orders o WHERE o.live_session_id = s.live_session_id
                      AND o.ordered_at <= ? AND o.currency = ? AND NOT list_contains(?, o.status)),
                   (SELECT count(*) FROM orders o WHERE o.live_session_id = s.live_session_id
                      AND o.ordered_at <= ? AND o.currency = ? AND NOT list_contains(?, o.status))
            FROM live_sessions s
            WHERE s.started_at <= ? AND (s.started_at >= ? OR s.ended_at IS NULL OR s.ended_at > ?)
            ORDER BY s.started_at DESC, s.live_session_id
            LIMIT ?""",
        [
            now,
            scope.currency,
            _EXCLUDED,
            now,
            scope.currency,
            _EXCLUDED,
            now,
            today,
            now,
            SESSION_LIMIT,
        ],
    ).fetchall()
    out = []
    for sid, channel, host, title, started, ended, peak, total_viewers, gmv, count in rows:
        live = ended is None or _utc(ended) > now
        out.append(
            LiveSession(
                live_session_id=sid,
                channel=channel,
                host=host,
                title=title,
                started_at=_local(started, zone),
                ended_at=_local(ended, zone),
                on_air=live,
                peak_viewers=peak,
                total_viewers=total_viewers,
                gmv=_money(gmv),
                orders=int(count or 0),
                gmv_per_viewer=None if not total_viewers else _money((gmv or ZERO) / Decimal(total_viewers)),
            )
        )
    return tuple(out)


def _unpaid(cur: Cursor, zone: ZoneInfo) -> tuple[UnpaidOrder, ...]:
    """Unpaid orders, newest first: the ones to remind before they lapse."""
    rows = cur.execute(
        """SELECT order_id, ordered_at, status, channel, customer_id, total, currency, items_count
            FROM orders WHERE list_contains(?, status)
            ORDER BY ordered_at DESC, order_id DESC
            LIMIT ?""",
        [_UNPAID, UNPAID_LIMIT],
    ).fetchall()
    return tuple(
        UnpaidOrder(
            oid, _local(ordered, zone), status, channel, customer, _money(total), currency, int(items or 0)
        )
        for oid, ordered, status, channel, customer, total, currency, items in rows
    )


def change_marker(cur: Cursor, scope: LiveScope, now: datetime) -> tuple[Any, ...]:
    """A cheap fingerprint of the facts the snapshot reads, to recompute as soon as ingest loaded more.

    Two pruned aggregates (today's events and orders by their time columns), milliseconds even on a
    shop with millions of events. Changes it cannot see (an old order paid, a session's viewer count)
    still show at the next regular tick.
    """
    now = _utc(now)
    since = min(day_start(now, scope.timezone), now - timedelta(minutes=WINDOW_MINUTES + 1))
    events = cur.execute("SELECT count(*), max(received_at) FROM events WHERE ts >= ?", [since]).fetchone()
    orders = cur.execute(
        "SELECT count(*), max(loaded_at), max(ordered_at) FROM orders WHERE ordered_at >= ?", [since]
    ).fetchone()
    return (*(events or ()), *(orders or ()))
