"""Live-stream events over real HTTP become ``live_sessions`` rows the live dashboard reads."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import InProcServer


def track(mid: str, event: str, ts: str, **props: object) -> dict[str, object]:
    return {
        "type": "track",
        "event": event,
        "anonymousId": "host-app",
        "messageId": mid,
        "timestamp": ts,
        "properties": props,
    }


def test_started_updated_ended_fold_into_one_session_in_any_order(server: InProcServer) -> None:
    ended = track("l3", "Live Stream Ended", "2026-12-01T14:00:00Z", live_session_id="L1", total_viewers=900)
    with server.client() as c:
        # The end arrives first (a mobile app flushing late): the session exists and is over.
        assert c.post("/v1/batch", json={"batch": [ended]}).json()["accepted"] == 1
        first = server.query("SELECT started_at, ended_at, total_viewers FROM live_sessions")
        assert first == [(datetime(2026, 12, 1, 14, tzinfo=UTC), datetime(2026, 12, 1, 14, tzinfo=UTC), 900)]
        batch = [
            track(
                "l1",
                "Live Stream Started",
                "2026-12-01T12:00:00Z",
                live_session_id="L1",
                title="小鹿的直播间 · 新品首发",
                host="小鹿",
                peak_viewers=10,
            ),
            track(
                "l2", "Live Stream Updated", "2026-12-01T13:00:00Z", live_session_id="L1", peak_viewers=120
            ),
            track(
                "l2b", "Live Stream Updated", "2026-12-01T13:30:00Z", live_session_id="L1", peak_viewers=80
            ),
        ]
        r = c.post("/v1/batch", json={"batch": batch})
        assert r.json()["accepted"] == 3, r.text
        # A re-sent start is a duplicate and changes nothing.
        assert c.post("/v1/batch", json={"batch": batch[:1]}).json()["duplicates"] == 1
    rows = server.query(
        "SELECT live_session_id, channel, host, title, started_at, ended_at, peak_viewers, total_viewers "
        "FROM live_sessions"
    )
    assert rows == [
        (
            "L1",
            "web",  # the source's channel: the event named none
            "小鹿",
            "小鹿的直播间 · 新品首发",
            datetime(2026, 12, 1, 12, tzinfo=UTC),
            datetime(2026, 12, 1, 14, tzinfo=UTC),
            120,  # viewer counts never go down
            900,
        )
    ]


def test_a_session_without_an_end_is_on_air_and_takes_its_channel_from_properties(
    server: InProcServer,
) -> None:
    start = track(
        "s1", "Live Stream Started", "2026-12-01T12:00:00Z", live_session_id=7, channel="douyin", title="t"
    )
    with server.client() as c:
        assert c.post("/v1/track", json=start).status_code == 200
    assert server.query("SELECT live_session_id, channel, ended_at FROM live_sessions") == [
        ("7", "douyin", None)
    ]


def test_invalid_live_stream_events_are_refused_with_their_field(server: InProcServer) -> None:
    bad = [
        track("b1", "Live Stream Started", "2026-12-01T12:00:00Z"),  # no session id
        track("b2", "Live Stream Started", "2026-12-01T12:00:00Z", live_session_id=" "),
        track("b3", "Live Stream Updated", "2026-12-01T12:00:00Z", live_session_id="L", peak_viewers=-1),
        track("b4", "Live Stream Ended", "2026-12-01T12:00:00Z", live_session_id="L", total_viewers="many"),
        # msgspec says "Expected `int | null`": the reason's own "|" must not split off the field.
        track("b5", "Order Completed", "2026-12-01T12:00:00Z", order_id="o", total=True),
    ]
    with server.client() as c:
        body = c.post("/v1/batch", json={"batch": bad}).json()
    assert body["accepted"] == 0
    fields = [(r["index"], r["field"]) for r in body["rejected"]]
    assert fields == [
        (0, "$.properties"),
        (1, "$.properties.live_session_id"),
        (2, "$.properties.peak_viewers"),
        (3, "$.properties.total_viewers"),
        (4, "$.properties.total"),
    ], body
    assert body["rejected"][3]["reason"] == "Live Stream Ended: Expected `int | null`, got `str`"
    assert server.query("SELECT count(*) FROM live_sessions") == [(0,)]
