"""The live API over a real server: the JSON snapshot, the SSE stream end to end from ``/v1/batch``,
one computation per tenant per tick however many streams are open, and streams that end."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from ecomops.live.hub import LiveHub, hub_of
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, start_server
from tests.timing import DEADLINE, ManualDateTime, wait_until


def sse(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream; comments and retry hints are skipped."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def order_completed(order_id: str, total: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"msg-{order_id}",
        "anonymousId": f"anon-{order_id}",
        "timestamp": at.isoformat(),
        "properties": {
            "order_id": order_id,
            "total": total,
            "currency": "CNY",
            "products": [{"product_id": "p-live", "name": "直播爆款", "price": total, "quantity": 1}],
        },
    }


def _key(engine: Engine, role: str = "viewer") -> str:
    return tenancy.create_api_key(engine, "acme", role, f"live-{role}")[1]


def test_snapshot_json(server: InProcServer, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {_key(engine)}"}
    with httpx.Client(base_url=server.url + "/api/v1/t/acme", headers=headers, timeout=30) as c:
        r = c.get("/live")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["timezone"] == "Asia/Shanghai" and body["currency"] == "CNY"
        assert len(body["minutes"]) == 60 and body["today"]["orders"] == 0
        assert c.get("/live/stream", params={"max_seconds": 0}).status_code == 422
        assert c.get("/live/stream", params={"max_seconds": 3601}).status_code == 422
    assert httpx.get(server.url + "/api/v1/t/acme/live", timeout=10).status_code == 401


def test_an_event_reaches_the_stream(server: InProcServer, engine: Engine) -> None:
    """Ingest → WAL → warehouse load → the feed's next tick → SSE. How fast is bench/live.py's to say."""
    headers = {"Authorization": f"Bearer {_key(engine)}"}
    url = server.url + "/api/v1/t/acme/live/stream"
    # The feed's clock is pinned to the order's time: "today" and "this minute" cannot roll over between
    # the order and the snapshot that shows it.
    placed = datetime.now(UTC)
    hub_of(server.state).clock = ManualDateTime(placed)
    with (
        httpx.Client(headers=headers, timeout=DEADLINE) as c,
        c.stream("GET", url, params={"max_seconds": int(DEADLINE)}) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse(stream.iter_lines())
        name, data = next(events)
        assert name == "snapshot" and json.loads(data)["today"]["orders"] == 0
        with server.client() as ingest:
            r = ingest.post("/v1/batch", json={"batch": [order_completed("live-1", "199.00", placed)]})
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        for name, data in events:
            assert name == "snapshot", f"the stream ended after {DEADLINE:g} s before the order appeared"
            snap = json.loads(data)
            if snap["today"]["orders"] == 1:
                break
        assert snap["as_of"] == placed.isoformat()
        assert snap["today"]["gmv"] == "199.0000" and snap["minutes"][-1]["orders"] == 1
        assert snap["hot_products"][0]["product_id"] == "p-live"
        assert snap["channels"] == [{"channel": "web", "gmv": "199.0000", "orders": 1}]


def test_many_streams_share_one_computation_and_idle_feeds_stop(server: InProcServer, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {_key(engine)}"}
    url = server.url + "/api/v1/t/acme/live/stream"
    # An interval no test outlives: the feed computes when it starts and never again by itself, so the
    # count below depends on how the hub shares its work, not on how long the streams took to open.
    hub = server.state.services["live"] = LiveHub(server.state.warehouses, interval=3600, probe=0.05)
    clients, received = 12, []
    lock = threading.Lock()
    release = threading.Event()

    def watch() -> None:
        with (
            httpx.Client(headers=headers, timeout=DEADLINE) as c,
            c.stream("GET", url, params={"max_seconds": 3600}) as stream,
        ):
            events = sse(stream.iter_lines())  # kept: dropping the iterator would close the response
            name, _ = next(events)
            with lock:
                received.append(name)
            release.wait(DEADLINE)
        # Leaving the block closes the connection: the server drops the subscriber.

    threads = [threading.Thread(target=watch) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(received) == clients, "every stream's first snapshot")
        # Every stream got a snapshot straight away, and all of them together cost one computation.
        assert received == ["snapshot"] * clients
        assert hub.stats(server.tenant.id) == {"subscribers": clients, "running": True, "computations": 1}
        # One more joins while the snapshot is fresh: served from it, and it ends on max_seconds.
        with (
            httpx.Client(headers=headers, timeout=DEADLINE) as c,
            c.stream("GET", url, params={"max_seconds": 1}) as stream,
        ):
            names = [name for name, _ in sse(stream.iter_lines())]
        assert names == ["snapshot", "end"]
        assert hub.stats(server.tenant.id)["computations"] == 1
    finally:
        release.set()
        for t in threads:
            t.join(DEADLINE)
    # Nobody listens: the feed task ends, so no more queries run.
    wait_until(lambda: not hub.stats(server.tenant.id)["running"], "the idle feed to stop")
    assert hub.stats(server.tenant.id) == {"subscribers": 0, "running": False, "computations": 1}


def test_open_streams_do_not_hold_up_a_server_stop(
    settings: Settings, tenant: TenantInfo, engine: Engine
) -> None:
    """Ctrl-C on `ecomops serve` with a live screen open: the stream is cut, the server exits cleanly."""
    key = _key(engine)
    server = start_server(settings.resolved_data_dir)
    got: list[str] = []

    def watch() -> None:
        try:
            with (
                httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as c,
                c.stream("GET", f"{server.url}/api/v1/t/acme/live/stream") as stream,
            ):
                for name, _ in sse(stream.iter_lines()):
                    got.append(name)
        except httpx.HTTPError:
            got.append("cut")

    thread = threading.Thread(target=watch)
    thread.start()
    wait_until(lambda: got, "the stream's first snapshot")
    assert got[:1] == ["snapshot"]
    # The stream would stay open for its default 300 s: a stop held up by it ends in SIGKILL, not 0.
    server.stop()
    thread.join(DEADLINE)
    assert server.proc.returncode == 0, server.proc.returncode
    assert not thread.is_alive() and got[-1] in ("end", "cut"), got
