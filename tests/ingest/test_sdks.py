"""The official Python SDKs, unchanged, against a real ``ecomops serve`` process: Segment's
``segment-analytics-python`` (gzip on and off) and RudderStack's ``rudder-sdk-python`` (gzip, its default).

Each test sends a mix of every call type through the SDK's own queue and consumer thread, flushes, then
waits (polling with a deadline) until every event is in the warehouse, read back through the server's
query API, and checks message ids, types and properties. The SDKs are configured never to retry, so a
refused batch fails the test at once instead of backing off for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import rudderstack.analytics as rudder
import rudderstack.analytics.request as rudder_request
import segment.analytics as segment
import segment.analytics.request as segment_request
from requests import Response, Session
from sqlalchemy import Engine

from ecomops.ingest.messages import MAX_BATCH_BYTES
from ecomops.platform.context import TenantInfo
from ecomops.tenancy import service as tenancy
from tests.conftest import LiveServer

ROUNDS = 25  # x 6 call types = 150 events, several uploads of UPLOAD_SIZE
UPLOAD_SIZE = 40
CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")


@dataclass
class Wire:
    """What the SDK's HTTP session saw: one (Content-Encoding, status) per upload, and reported errors."""

    uploads: list[tuple[str | None, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_response(self, response: Response, *args: Any, **kwargs: Any) -> None:
        self.uploads.append((response.request.headers.get("Content-Encoding"), response.status_code))

    def on_error(self, error: Exception, batch: list[dict[str, Any]]) -> None:
        self.errors.append(f"{type(error).__name__}: {error} ({len(batch)} events)")


@pytest.fixture
def write_key(engine: Engine, tenant: TenantInfo) -> str:
    _, key = tenancy.create_source(engine, tenant.slug, "sdk", "app")
    return key


def watch(session: Session) -> Iterator[Wire]:
    """Observe the SDK module's shared requests session for the duration of a test."""
    wire = Wire()
    session.hooks["response"].append(wire.on_response)
    try:
        yield wire
    finally:
        session.hooks["response"].remove(wire.on_response)


@pytest.fixture
def segment_wire() -> Iterator[Wire]:
    yield from watch(segment_request._session)


@pytest.fixture
def rudder_wire() -> Iterator[Wire]:
    yield from watch(rudder_request._session)


def query(server: LiveServer, tenant: TenantInfo, sql: str) -> list[list[Any]]:
    r = httpx.post(
        f"{server.url}/api/v1/t/{tenant.slug}/query",
        headers={"Authorization": f"Bearer {server.token}"},
        json={"sql": sql, "limit": 10_000},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    rows: list[list[Any]] = r.json()["rows"]
    return rows


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` once the deadline passes."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f} s waiting until {what}")
        time.sleep(0.05)


def send_mix(client: Any, prefix: str) -> dict[str, str]:
    """Every call type, ROUNDS times, with our own message ids; returns message id -> type."""
    sent: dict[str, str] = {}
    for i in range(ROUNDS):
        user, anon = f"{prefix}-u{i}", f"{prefix}-a{i}"
        ids = {kind: f"{prefix}-{kind}-{i}" for kind in CALL_TYPES}
        client.identify(user_id=user, traits={"plan": "gold", "round": i}, message_id=ids["identify"])
        client.track(
            user_id=user,
            event="Product Viewed",
            properties={"product_id": f"p{i}", "price": 9.5, "round": i, "note": "测试"},
            message_id=ids["track"],
        )
        client.page(
            anonymous_id=anon,
            name="Home",
            properties={"url": f"https://shop.example/{i}", "round": i},
            message_id=ids["page"],
        )
        client.screen(user_id=user, name="Cart", properties={"round": i}, message_id=ids["screen"])
        client.group(user_id=user, group_id=f"g{i}", traits={"name": "Acme"}, message_id=ids["group"])
        client.alias(previous_id=anon, user_id=user, message_id=ids["alias"])
        sent.update({message_id: kind for kind, message_id in ids.items()})
    return sent


def landed(server: LiveServer, tenant: TenantInfo, prefix: str) -> int:
    rows = query(server, tenant, f"SELECT count(*) FROM events WHERE message_id LIKE '{prefix}-%'")
    return int(rows[0][0])


def check_events(
    server: LiveServer, tenant: TenantInfo, prefix: str, sent: dict[str, str], traits_at: str
) -> None:
    wait_until(lambda: landed(server, tenant, prefix) >= len(sent), f"all {len(sent)} events loaded")
    rows = query(
        server,
        tenant,
        "SELECT message_id, type, event, user_id, anonymous_id, product_id, page_url, "
        "properties->>'round', properties->>'price', properties->>'note', properties->>'groupId', "
        f"properties->>'previousId', {traits_at}->>'plan', traits->>'name', "
        "context_full(events)->'library'->>'name' "
        f"FROM events WHERE message_id LIKE '{prefix}-%'",
    )
    assert len(rows) == len(sent), "an event was stored twice"
    by_id = {row[0]: row[1:] for row in rows}
    assert {m: r[0] for m, r in by_id.items()} == sent
    for i in range(ROUNDS):
        user, anon = f"{prefix}-u{i}", f"{prefix}-a{i}"
        track = by_id[f"{prefix}-track-{i}"]
        assert track[1:5] == ["Product Viewed", user, None, f"p{i}"]
        assert track[6:9] == [str(i), "9.5", "测试"]
        page = by_id[f"{prefix}-page-{i}"]
        assert (page[1], page[3], page[5], page[6]) == ("Home", anon, f"https://shop.example/{i}", str(i))
        assert by_id[f"{prefix}-screen-{i}"][1] == "Cart"
        assert by_id[f"{prefix}-identify-{i}"][11] == "gold"
        group = by_id[f"{prefix}-group-{i}"]
        assert (group[9], group[12]) == (f"g{i}", "Acme")
        alias = by_id[f"{prefix}-alias-{i}"]
        assert (alias[2], alias[3], alias[10]) == (user, None, anon)
    assert {r[13] for r in by_id.values()} == {"analytics-python"}
    assert query(server, tenant, "SELECT count(*) FROM ingest_dead_letters") == [[0]]


@pytest.mark.parametrize("gzip", [True, False], ids=["gzip", "plain"])
def test_segment_sdk_events_land(
    live_server: LiveServer, tenant: TenantInfo, write_key: str, segment_wire: Wire, gzip: bool
) -> None:
    client = segment.Client(
        write_key,
        host=live_server.url,
        gzip=gzip,
        upload_size=UPLOAD_SIZE,
        upload_interval=0.05,
        max_retries=0,
        timeout=10,
        max_total_backoff_duration=5,
        max_rate_limit_duration=5,
        on_error=segment_wire.on_error,
    )
    prefix = f"segment-{'gzip' if gzip else 'plain'}"
    sent = send_mix(client, prefix)
    client.flush()  # returns once the consumer thread has uploaded (or given up on) every queued event
    client.shutdown()
    assert segment_wire.errors == []
    assert len(segment_wire.uploads) >= len(sent) // UPLOAD_SIZE
    assert set(segment_wire.uploads) == {("gzip" if gzip else None, 200)}
    check_events(live_server, tenant, prefix, sent, traits_at="traits")


def test_rudderstack_sdk_events_land_gzipped(
    live_server: LiveServer, tenant: TenantInfo, write_key: str, rudder_wire: Wire
) -> None:
    client = rudder.Client(
        write_key,
        host=live_server.url,  # the SDK's dataPlaneUrl
        gzip=True,  # the SDK's default; before ingest decompressed bodies every upload answered 400
        upload_size=UPLOAD_SIZE,
        upload_interval=0.05,
        max_retries=0,
        timeout=10,
        on_error=rudder_wire.on_error,
    )
    sent = send_mix(client, "rudder")
    client.flush()
    client.shutdown()
    assert rudder_wire.errors == []
    assert len(rudder_wire.uploads) >= len(sent) // UPLOAD_SIZE
    assert set(rudder_wire.uploads) == {("gzip", 200)}
    # RudderStack's identify puts the traits in context.traits, not at the top level.
    check_events(live_server, tenant, "rudder", sent, traits_at="context->'traits'")


def test_rudderstack_batch_over_the_decompressed_limit_is_refused_and_not_stored(
    live_server: LiveServer, tenant: TenantInfo, write_key: str, rudder_wire: Wire
) -> None:
    """RudderStack's SDK allows 4 MB batches; ours stop at 500 KB once decompressed. The whole
    upload is refused with 413 (it gzips to a few KB) and the SDK reports it; nothing is stored."""
    client = rudder.Client(
        write_key,
        host=live_server.url,
        upload_size=30,  # the 30 events below in one upload
        upload_interval=5,
        max_retries=0,
        timeout=10,
        on_error=rudder_wire.on_error,
    )
    for i in range(30):
        client.track(user_id="u", event="Big", properties={"blob": "x" * 20_000}, message_id=f"big-{i}")
    client.flush()
    client.shutdown()
    assert MAX_BATCH_BYTES < 30 * 20_000
    assert rudder_wire.uploads == [("gzip", 413)]
    assert len(rudder_wire.errors) == 1 and "(30 events)" in rudder_wire.errors[0]
    # Then a normal event goes through on the same server, and only it is stored.
    ok = rudder.Client(write_key, host=live_server.url, max_retries=0, on_error=rudder_wire.on_error)
    ok.track(user_id="u", event="Small", message_id="small-1")
    ok.flush()
    ok.shutdown()
    wait_until(lambda: landed(live_server, tenant, "small") == 1, "the small event is loaded")
    assert query(live_server, tenant, "SELECT message_id FROM events") == [["small-1"]]
    assert query(live_server, tenant, "SELECT count(*) FROM ingest_dead_letters") == [[0]]
