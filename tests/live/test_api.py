"""The live API over a real server: the JSON snapshot, the SSE stream end to end from ``/v1/batch``,
one computation per tenant per second however many streams are open, and streams that end."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine

from ecomops.live.hub import hub_of
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer, start_server


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


def order_completed(order_id: str, total: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"msg-{order_id}",
        "anonymousId": f"anon-{order_id}",
        "timestamp": datetime.now(UTC).isoformat(),
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


def test_an_event_reaches_the_stream_within_two_seconds(server: InProcServer, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {_key(engine)}"}
    url = server.url + "/api/v1/t/acme/live/stream"
    with (
        httpx.Client(headers=headers, timeout=30) as c,
        c.stream("GET", url, params={"max_seconds": 10}) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = sse(stream.iter_lines())
        name, data = next(events)
        assert name == "snapshot" and json.loads(data)["today"]["orders"] == 0
        with server.client() as ingest:
            sent = time.monotonic()
            r = ingest.post("/v1/batch", json={"batch": [order_completed("live-1", "199.00")]})
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        for name, data in events:
            assert name == "snapshot", "the stream ended before the order appeared"
            snap = json.loads(data)
            if snap["today"]["orders"] == 1:
                latency = time.monotonic() - sent
                break
        assert latency < 2.0, f"event to screen took {latency:.2f} s"
        print(f"ingest → SSE latency {latency:.3f} s")
        assert snap["today"]["gmv"] == "199.0000" and snap["minutes"][-1]["orders"] == 1
        assert snap["hot_products"][0]["product_id"] == "p-live"
        assert snap["channels"] == [{"channel": "web", "gmv": "199.0000", "orders": 1}]


def test_many_streams_share_one_computation_and_idle_feeds_stop(server: InProcServer, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {_key(engine)}"}
    url = server.url + "/api/v1/t/acme/live/stream"
    clients, received = 12, []
    lock = threading.Lock()

    def watch() -> None:
        with (
            httpx.Client(headers=headers, timeout=30) as c,
            c.stream("GET", url, params={"max_seconds": 4}) as stream,
        ):
            names = [name for name, _ in sse(stream.iter_lines())]
        with lock:
            received.append(names)

    hub = hub_of(server.state)
    before = hub.stats(server.tenant.id)["computations"]
    started = time.monotonic()
    threads = [threading.Thread(target=watch) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(2)
    assert hub.stats(server.tenant.id)["subscribers"] == clients
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - started
    # Every stream got a snapshot straight away and ended on max_seconds with an `end` event.
    assert len(received) == clients and all(n[0] == "snapshot" and n[-1] == "end" for n in received)
    computed = hub.stats(server.tenant.id)["computations"] - before
    # One per second for the tenant, not one per client per second (12 × 4 = 48).
    assert 1 <= computed <= elapsed + 2, (computed, elapsed)
    deadline = time.monotonic() + 3
    while hub.stats(server.tenant.id)["running"] and time.monotonic() < deadline:
        time.sleep(0.1)
    idle = hub.stats(server.tenant.id)
    assert idle["subscribers"] == 0 and not idle["running"]
    assert idle["computations"] <= computed + before + 1  # at most the tick that was in flight
    time.sleep(1.5)
    assert hub.stats(server.tenant.id)["computations"] == idle["computations"]  # nobody listens: no queries


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
    deadline = time.monotonic() + 15
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got[:1] == ["snapshot"]
    started = time.monotonic()
    server.stop()
    stopped = time.monotonic() - started
    thread.join(15)
    assert server.proc.returncode == 0 and stopped < 15, (server.proc.returncode, stopped)
