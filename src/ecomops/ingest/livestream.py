"""Live-commerce broadcast events → ``live_sessions`` rows, so a shop's own player or its Douyin/Taobao
Live integration can open a session on the live dashboard through the ingest API (before, only the demo
seeder wrote that table).

Events (``track``), all keyed by ``properties.live_session_id``:

- ``Live Stream Started``: the session begins at the event's time; ``title``, ``host`` and ``channel``
  (else the source's channel, else ``douyin``) describe it;
- ``Live Stream Updated``: the platform's viewer counts so far (``peak_viewers``, ``total_viewers``);
- ``Live Stream Ended``: the session ends at the event's time (viewer counts may come along).

Any of them creates the session if it is unknown (started at that event's time); later events only fill
or raise what they carry (viewer counts never go down, a known start never moves later), so the order
events arrive in does not matter and a re-sent event changes nothing. Orders link to a session through
their own ``live_session_id`` property, as before.
"""

from __future__ import annotations

import duckdb
import msgspec

LIVE_STREAM_EVENTS = ("Live Stream Started", "Live Stream Updated", "Live Stream Ended")
MAX_VIEWERS = 2_147_483_647  # live_sessions viewer columns are INTEGER
MAX_TEXT = 500


class LiveStreamProperties(msgspec.Struct, kw_only=True):
    live_session_id: str | int
    title: str | None = None
    host: str | None = None
    channel: str | None = None
    peak_viewers: int | None = None
    total_viewers: int | None = None


_decoder = msgspec.json.Decoder(LiveStreamProperties)


def validate_live_stream_properties(event: str, raw: bytes) -> str | None:
    """``None`` when the loader can store the event, else ``"reason|$.path"`` (refused at the edge, like
    an order: an event acknowledged and then not loadable would be lost)."""
    try:
        props = _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        reason, _, loc = str(exc).partition(" - at `")
        path = loc.rstrip("`")
        return f"{event}: {reason}|$.properties{path[1:] if path.startswith('$') else ''}"
    if str(props.live_session_id).strip() == "":
        return f"{event}: live_session_id must not be empty|$.properties.live_session_id"
    for name in ("peak_viewers", "total_viewers"):
        value = getattr(props, name)
        if value is not None and not 0 <= value <= MAX_VIEWERS:
            return f"{event}: {name} must be between 0 and {MAX_VIEWERS}|$.properties.{name}"
    for name in ("title", "host", "channel"):
        value = getattr(props, name)
        if value is not None and len(value) > MAX_TEXT:
            return f"{event}: {name} is longer than {MAX_TEXT} characters|$.properties.{name}"
    return None


#: One row per session touched by the load (several events of one session in a load are folded first).
_UPSERT_SQL = """
INSERT INTO live_sessions
    (live_session_id, channel, host, title, started_at, ended_at, peak_viewers, total_viewers)
SELECT sid,
       coalesce(arg_max(pchannel, ts) FILTER (WHERE pchannel IS NOT NULL),
                arg_max(channel, ts) FILTER (WHERE channel IS NOT NULL), 'douyin'),
       arg_max(host, ts) FILTER (WHERE host IS NOT NULL),
       arg_max(title, ts) FILTER (WHERE title IS NOT NULL),
       coalesce(min(ts) FILTER (WHERE event = 'Live Stream Started'), min(ts)),
       max(ts) FILTER (WHERE event = 'Live Stream Ended'),
       max(peak), max(total)
FROM (
    SELECT event, ts, channel,
           json_extract_string(properties, '$.live_session_id') AS sid,
           json_extract_string(properties, '$.channel') AS pchannel,
           json_extract_string(properties, '$.host') AS host,
           json_extract_string(properties, '$.title') AS title,
           CAST(json_extract(properties, '$.peak_viewers') AS INTEGER) AS peak,
           CAST(json_extract(properties, '$.total_viewers') AS INTEGER) AS total
    FROM loaded_events
    WHERE type = 'track' AND list_contains(?, event)
)
GROUP BY sid
ON CONFLICT (live_session_id) DO UPDATE SET
    channel = excluded.channel,
    host = coalesce(excluded.host, live_sessions.host),
    title = coalesce(excluded.title, live_sessions.title),
    started_at = least(live_sessions.started_at, excluded.started_at),
    ended_at = coalesce(excluded.ended_at, live_sessions.ended_at),
    peak_viewers = greatest(live_sessions.peak_viewers, excluded.peak_viewers),
    total_viewers = greatest(live_sessions.total_viewers, excluded.total_viewers)
"""


def apply_live_streams(cur: duckdb.DuckDBPyConnection) -> None:
    """Upsert the sessions named by this load's live-stream events (inside the load's transaction)."""
    cur.execute(_UPSERT_SQL, [list(LIVE_STREAM_EVENTS)])
