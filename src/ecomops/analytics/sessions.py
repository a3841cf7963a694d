"""Session conversion: sessions and converted sessions by a session property, from the event stream.

A session is a ``Session Started`` track event (written by the sessions import presets, one per session
row, carrying the session's properties); it converted when a ``Session Converted`` track event has the
same ``session_id``. The rate is converted / sessions of the same breakdown value — the share of
sessions that ended in a purchase, which is what session exports such as the UCI Online Shoppers file
report (its ``Revenue`` column). The window selects sessions by their start, in local days of the
tenant's zone (bounds computed with zoneinfo, applied as UTC instants); without one, every session.

Breakdowns read the session event's properties (month, traffic type, visitor type, weekend, browser) or
its promoted columns (traffic source, device, OS, region, country, channel). Checked against pandas on
the UCI-layout fixture in ``tests/analytics/test_sessions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import duckdb
from pydantic import Field

from ecomops.analytics.catalogue import NONE_LABEL
from ecomops.analytics.periods import local_midnight
from ecomops.kernel.clock import validate_timezone
from ecomops.kernel.errors import ValidationFailed

SESSION_STARTED_EVENT = "Session Started"
SESSION_CONVERTED_EVENT = "Session Converted"

#: Breakdown id → SQL expression over the session event ``s`` (module constants, never user text).
BREAKDOWNS: dict[str, str] = {
    "month": "json_extract_string(s.properties, '$.month')",
    "traffic_type": "json_extract_string(s.properties, '$.traffic_type')",
    "visitor_type": "json_extract_string(s.properties, '$.visitor_type')",
    "weekend": "json_extract_string(s.properties, '$.weekend')",
    "browser": "json_extract_string(s.properties, '$.browser')",
    "traffic_source": "s.utm_source",
    "device": "s.device",
    "os": "s.os",
    "region": "s.region",
    "country": "s.country",
    "channel": "s.channel",
}

QUERY = """
SELECT {dimension} AS value, count(*) AS sessions, count(c.session_id) AS converted
FROM events s
LEFT JOIN (SELECT DISTINCT session_id FROM events WHERE type = 'track' AND event = $converted) c
       ON c.session_id = s.session_id
WHERE s.type = 'track' AND s.event = $started AND s.ts >= $start AND s.ts < $end
GROUP BY ALL
ORDER BY value NULLS LAST
"""


@dataclass(frozen=True)
class SessionRow:
    value: Annotated[str, Field(description="breakdown value ('(none)' when missing; 'all' for the total)")]
    sessions: Annotated[int, Field(description="sessions started in the window")]
    converted: Annotated[int, Field(description="of those, sessions with a purchase")]
    conversion_rate: Annotated[float | None, Field(description="converted / sessions; null without sessions")]


@dataclass(frozen=True)
class SessionConversion:
    breakdown: Annotated[str | None, Field(description="the breakdown asked for, null for the total only")]
    first: Annotated[date | None, Field(description="first local day of the window (null: all sessions)")]
    last: Annotated[date | None, Field(description="last local day, inclusive (null: all sessions)")]
    timezone: str
    total: SessionRow
    rows: Annotated[list[SessionRow], Field(description="one per breakdown value, in value order")]
    breakdowns: Annotated[list[str], Field(description="the breakdowns this query knows")]


def _rate(converted: int, sessions: int) -> float | None:
    return converted / sessions if sessions else None


def parse_breakdown(breakdown: str | None) -> str | None:
    if breakdown is None or not breakdown.strip():
        return None
    if breakdown.strip() not in BREAKDOWNS:
        raise ValidationFailed(
            f"breakdown: unknown session breakdown {breakdown!r}; known: {', '.join(BREAKDOWNS)}",
            {"field": "breakdown", "unknown": breakdown, "known": list(BREAKDOWNS)},
        )
    return breakdown.strip()


def compute(
    cur: duckdb.DuckDBPyConnection,
    breakdown: str | None,
    first: date | None,
    last: date | None,
    timezone: str,
) -> SessionConversion:
    """Sessions, converted sessions and their ratio per breakdown value (validated: 422 on bad input)."""
    chosen = parse_breakdown(breakdown)
    zone_name = validate_timezone(timezone)
    zone = ZoneInfo(zone_name)
    if first is not None and last is not None and first > last:
        raise ValidationFailed("from must not be after to", {"field": "from"})
    start = local_midnight(first, zone) if first else local_midnight(date(1970, 1, 1), zone)
    end = local_midnight(last + timedelta(days=1), zone) if last else local_midnight(date(9999, 1, 1), zone)
    params = {
        "started": SESSION_STARTED_EVENT,
        "converted": SESSION_CONVERTED_EVENT,
        "start": start,
        "end": end,
    }
    # The dimension is one of the module's constant expressions, chosen by a validated key.
    rows = cur.execute(QUERY.format(dimension=BREAKDOWNS[chosen] if chosen else "'all'"), params).fetchall()
    found = [
        SessionRow(NONE_LABEL if v is None else str(v), int(n), int(c), _rate(int(c), int(n)))
        for v, n, c in rows
    ]
    sessions = sum(r.sessions for r in found)
    converted = sum(r.converted for r in found)
    return SessionConversion(
        breakdown=chosen,
        first=first,
        last=last,
        timezone=zone_name,
        total=SessionRow("all", sessions, converted, _rate(converted, sessions)),
        rows=found if chosen else [],
        breakdowns=list(BREAKDOWNS),
    )
