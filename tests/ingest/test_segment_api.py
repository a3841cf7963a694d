"""The Segment-compatible endpoints over real HTTP: storage, validation, auth, limits, dedupe, skew."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from tests.conftest import InProcServer
from tests.timing import DEADLINE


def mid() -> str:
    return str(uuid.uuid4())


def test_every_call_type_is_stored_with_promoted_columns(server: InProcServer) -> None:
    ts = "2026-11-20T08:00:00Z"
    ctx = {
        "campaign": {"source": "wechat", "medium": "social", "name": "d11"},
        "page": {"url": "https://shop.example/p/1", "path": "/p/1", "referrer": "https://t.cn"},
        "device": {"type": "mobile"},
        "os": {"name": "iOS"},
        "location": {"country": "CN", "region": "Zhejiang", "city": "杭州"},
    }
    calls = {
        "track": {
            "event": "Product Clicked",
            "userId": "u1",
            "properties": {"x": 120.5, "y": 80, "product_id": "p1"},
        },
        "identify": {"userId": "u1", "traits": {"plan": "gold"}},
        "page": {"anonymousId": "a1", "name": "Product", "properties": {"url": "https://shop.example/p/2"}},
        "screen": {"anonymousId": "a1", "name": "Cart"},
        "group": {"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}},
        "alias": {"userId": "u1", "previousId": "a1"},
    }
    with server.client() as c:
        for kind, body in calls.items():
            r = c.post(
                f"/v1/{kind}", json={**body, "messageId": f"m-{kind}", "timestamp": ts, "context": ctx}
            )
            assert r.status_code == 200, r.text
            assert r.json() == {"success": True, "accepted": 1, "duplicates": 0, "rejected": []}
    rows = server.query(
        "SELECT type, event, user_id, anonymous_id, utm_source, utm_campaign, page_url, page_path, device, "
        "os, city, x, y, product_id, channel, ts FROM events ORDER BY type"
    )
    by_type = {r[0]: r for r in rows}
    assert set(by_type) == set(calls)
    track = by_type["track"]
    assert track[1:4] == ("Product Clicked", "u1", None)
    assert track[4:11] == ("wechat", "d11", "https://shop.example/p/1", "/p/1", "mobile", "iOS", "杭州")
    assert (track[11], track[12], track[13], track[14]) == (120.5, 80.0, "p1", "web")
    assert track[15] == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert by_type["page"][1] == "Product" and by_type["page"][6] == "https://shop.example/p/2"
    assert by_type["screen"][1] == "Cart"
    props = server.query("SELECT properties->>'groupId', traits->>'name' FROM events WHERE type = 'group'")
    assert props == [("g1", "Acme")]
    assert server.query("SELECT customer_id, city FROM customers") == [("u1", "杭州")]


def test_batch_keeps_valid_events_and_reports_invalid_ones_by_index(server: InProcServer) -> None:
    batch = [
        {"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": mid()},
        {"type": "track", "userId": "u1", "messageId": mid()},  # no event name
        {"type": "track", "event": "X", "messageId": mid()},  # no user
        {"type": "track", "event": "X", "userId": True, "messageId": mid()},  # wrong type
        {"type": "page", "anonymousId": "a", "messageId": mid(), "properties": []},  # wrong type
        {"type": "bogus", "userId": "u", "messageId": mid()},
        {"event": "X", "userId": "u", "messageId": mid()},  # no type in a batch
        {"type": "track", "event": "X", "userId": "u"},  # no messageId
        {"type": "track", "event": "X", "userId": "u", "messageId": mid(), "timestamp": "yesterday"},
        "not an object",
        {"type": "identify", "anonymousId": 42, "messageId": mid()},  # numeric ids are fine
    ]
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": batch})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    rejected = {e["index"]: (e["field"], e["reason"]) for e in body["rejected"]}
    assert rejected == {
        1: ("$.event", "track events need a non-empty event name"),
        2: ("$.userId", "userId or anonymousId is required"),
        3: ("$.userId", "Expected `int | str | null`, got `bool`"),
        4: ("$.properties", "Expected `object`, got `array`"),
        5: ("$.type", "unknown type 'bogus'; expected one of track, identify, page, screen, group, alias"),
        6: ("$.type", "type is required in a batch (track, identify, page, screen, group, alias)"),
        7: ("$.messageId", "messageId is required (it makes retries idempotent)"),
        8: ("$.timestamp", "Invalid RFC3339 encoded datetime"),
        9: ("$", "each event must be a JSON object"),
    }
    assert server.query("SELECT count(*) FROM events") == [(2,)]
    dead = server.query("SELECT batch_index, reason, payload FROM ingest_dead_letters ORDER BY batch_index")
    assert [d[0] for d in dead] == list(range(1, 10))
    assert dead[0][1] == "$.event: track events need a non-empty event name"
    assert json.loads(dead[1][2])["event"] == "X"
    assert json.loads(dead[8][2]) == "not an object"


def test_strict_mode_rejects_the_whole_batch_and_stores_nothing(server: InProcServer) -> None:
    batch = [
        {"type": "track", "event": "A", "userId": "u", "messageId": mid()},
        {"type": "track", "userId": "u", "messageId": mid()},
    ]
    with server.client() as c:
        r = c.post("/v1/batch?strict=true", json={"batch": batch})
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["code"] == "invalid_events"
        assert err["details"]["rejected"] == [
            {"index": 1, "field": "$.event", "reason": "track events need a non-empty event name"}
        ]
        ok = c.post("/v1/batch?strict=true", json={"batch": batch[:1]})
        assert ok.status_code == 200 and ok.json()["accepted"] == 1
    assert server.query("SELECT count(*) FROM events") == [(1,)]
    assert server.query("SELECT count(*) FROM ingest_dead_letters") == [(0,)]


def test_malformed_and_misshapen_bodies(server: InProcServer) -> None:
    with server.client() as c:
        r = c.post("/v1/batch", content=b'{"batch": [', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"
        r = c.post("/v1/batch", json={"batch": {"type": "track"}})
        assert r.status_code == 400 and r.json()["error"]["details"] == {"field": "$.batch"}
        r = c.post("/v1/batch", json=[1, 2])
        assert r.status_code == 400 and r.json()["error"]["message"] == "request body must be a JSON object"
        r = c.post("/v1/batch", json={"batch": [], "sentAt": "noon"})
        assert r.status_code == 400 and r.json()["error"]["details"] == {"field": "$.sentAt"}
        r = c.post("/v1/track", json={"type": "page", "userId": "u", "messageId": "x", "event": "E"})
        assert r.json()["rejected"][0]["reason"] == "type 'page' sent to the /v1/track endpoint"
    # The unparseable body is kept as a dead letter, nothing is lost.
    assert server.query("SELECT payload FROM ingest_dead_letters WHERE batch_index IS NULL") == [
        ('{"batch": [',)
    ]
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        assert c.get("/healthz").json() == {"status": "ok"}


def test_write_key_auth(server: InProcServer) -> None:
    event = {"event": "A", "userId": "u", "messageId": mid()}
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:
        r = c.post("/v1/track", json=event)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.post("/v1/track", json=event, auth=("wk_wrong", "")).status_code == 401
        assert c.post("/v1/track", json=event, headers={"Authorization": "Basic !!!"}).status_code == 401
        bearer = c.post("/v1/track", json=event, headers={"Authorization": f"Bearer {server.write_key}"})
        assert bearer.status_code == 200
        basic = base64.b64encode(f"{server.write_key}:".encode()).decode()
        r = c.post(
            "/v1/track", json={**event, "messageId": mid()}, headers={"Authorization": f"Basic {basic}"}
        )
        assert r.json()["accepted"] == 1
        r = c.post(
            "/v1/batch",
            json={"writeKey": server.write_key, "batch": [{**event, "type": "track", "messageId": mid()}]},
        )
        assert r.json()["accepted"] == 1
        # An ingest write key is not a management credential, and unknown tenants stay unknown.
        r = c.get(
            f"/api/v1/t/{server.tenant.slug}/ingest/dead-letters",
            headers={"Authorization": f"Bearer {server.write_key}"},
        )
        assert r.status_code == 401
        r = c.get(
            "/api/v1/t/nope/ingest/dead-letters",
            headers={"Authorization": f"Bearer {server.state.control_token}"},
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert server.query("SELECT count(*) FROM events") == [(3,)]


def test_size_limits(server: InProcServer) -> None:
    big_props = {"blob": "x" * (33 * 1024)}
    with server.client() as c:
        r = c.post(
            "/v1/track", json={"event": "A", "userId": "u", "messageId": mid(), "properties": big_props}
        )
        assert r.status_code == 413
        assert "32 KB" in r.json()["error"]["message"]
        batch = [
            {"type": "track", "event": "A", "userId": "u", "messageId": mid(), "properties": big_props},
            {"type": "track", "event": "B", "userId": "u", "messageId": mid()},
        ]
        r = c.post("/v1/batch", json={"batch": batch})
        assert r.status_code == 200
        assert r.json()["accepted"] == 1
        assert r.json()["rejected"][0]["index"] == 0 and "limit is 32 KB" in r.json()["rejected"][0]["reason"]
        huge = [
            {
                "type": "track",
                "event": "A",
                "userId": "u",
                "messageId": mid(),
                "properties": {"blob": "y" * 30_000},
            }
            for _ in range(20)
        ]
        r = c.post("/v1/batch", json={"batch": huge})
        assert r.status_code == 413 and "500 KB" in r.json()["error"]["message"]

        def chunks() -> object:
            for _ in range(20):
                yield b" " * 30_000

        r = c.post("/v1/batch", content=chunks())  # chunked upload without Content-Length
        assert r.status_code == 413
    assert server.query("SELECT event FROM events") == [("B",)]


def test_message_id_dedupe_within_and_across_requests(server: InProcServer) -> None:
    batch = [{"type": "track", "event": "A", "userId": "u", "messageId": f"dup-{i}"} for i in range(50)]
    with server.client() as c:
        first = c.post("/v1/batch", json={"batch": batch + batch[:5]}).json()
        assert (first["accepted"], first["duplicates"]) == (50, 5)
        again = c.post("/v1/batch", json={"batch": batch}).json()
        assert (again["accepted"], again["duplicates"]) == (0, 50)
    assert server.query("SELECT count(*), count(DISTINCT message_id) FROM events") == [(50, 50)]


def test_clock_skew_is_corrected_from_sent_at(server: InProcServer) -> None:
    now = datetime.now(UTC)
    device_clock = now + timedelta(hours=3)  # the phone's clock runs three hours fast
    event_time = device_clock - timedelta(minutes=10)
    batch = {
        "sentAt": device_clock.isoformat(),
        "batch": [
            {
                "type": "track",
                "event": "A",
                "userId": "u",
                "messageId": "skew",
                "timestamp": event_time.isoformat(),
            },
            {
                "type": "track",
                "event": "B",
                "userId": "u",
                "messageId": "noskew",
                "timestamp": "2026-01-01T00:00:00+08:00",
            },
        ],
    }
    with server.client() as c:
        assert c.post("/v1/batch", json={**batch, "batch": batch["batch"][:1]}).json()["accepted"] == 1
        r = c.post("/v1/track", json=batch["batch"][1])
        assert r.json()["accepted"] == 1
    after = datetime.now(UTC)
    ((ts, received),) = server.query("SELECT ts, received_at FROM events WHERE message_id = 'skew'")
    assert abs((received - ts) - timedelta(minutes=10)) < timedelta(seconds=1)
    # Ten minutes before it reached the server, whenever that was between `now` and `after` (was: within
    # 5 s of `now`, a bound on how fast the request went through).
    slack = timedelta(milliseconds=1)
    assert now - timedelta(minutes=10) - slack <= ts <= after - timedelta(minutes=10) + slack
    assert server.query("SELECT ts FROM events WHERE message_id = 'noskew'") == [
        (datetime(2025, 12, 31, 16, tzinfo=UTC),)
    ]


def test_ecommerce_events_populate_orders_items_and_refunds(server: InProcServer) -> None:
    products = [
        {
            "product_id": "p1",
            "sku": "SKU-1",
            "name": "茶杯",
            "category": "Kitchen",
            "price": "19.90",
            "quantity": 2,
        },
        {"product_id": "p2", "name": "Tea", "price": 0.1, "quantity": 3},
    ]
    events = [
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "c1",
            "messageId": "oc1",
            "timestamp": "2026-06-18T12:00:00Z",
            "properties": {
                "order_id": "A100",
                "subtotal": 40.1,
                "discount": "5",
                "shipping": 8,
                "tax": 0,
                "coupon": "618OFF",
                "currency": "cny",
                "products": products,
            },
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "c2",
            "messageId": "oc2",
            "properties": {"order_id": "A101", "revenue": 10, "shipping": 2},
        },
        {
            "type": "track",
            "event": "Order Refunded",
            "userId": "c1",
            "messageId": "or1",
            "properties": {
                "order_id": "A100",
                "products": [{"product_id": "p1", "price": "19.90", "quantity": 1}],
            },
        },
        {
            "type": "track",
            "event": "Order Refunded",
            "userId": "c2",
            "messageId": "or2",
            "properties": {"order_id": "A101"},
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "c3",
            "messageId": "bad1",
            "properties": {"order_id": "A102", "products": [{"price": 3, "quantity": -1}]},
        },
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "c3",
            "messageId": "bad2",
            "properties": {"total": 5},
        },
    ]
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": events}).json()
    assert r["accepted"] == 4
    assert {e["index"]: e["field"] for e in r["rejected"]} == {
        4: "$.properties.products[0].quantity",
        5: "$.properties",
    }
    assert "Object missing required field `order_id`" in r["rejected"][1]["reason"]
    orders = server.query(
        "SELECT order_id, customer_id, status, currency, subtotal, discount, shipping, total, "
        "coupon, items_count FROM orders ORDER BY order_id"
    )
    assert orders == [
        (
            "A100",
            "c1",
            "partially_refunded",
            "CNY",
            Decimal("40.1000"),
            Decimal("5.0000"),
            Decimal("8.0000"),
            Decimal("43.1000"),
            "618OFF",
            5,
        ),
        (
            "A101",
            "c2",
            "refunded",
            "CNY",
            Decimal("12.0000"),
            Decimal("0.0000"),
            Decimal("2.0000"),
            Decimal("12.0000"),
            None,
            0,
        ),
    ]
    items = server.query(
        "SELECT product_id, sku, name, quantity, unit_price, line_total FROM order_items ORDER BY product_id"
    )
    assert items == [
        ("p1", "SKU-1", "茶杯", 2, Decimal("19.9000"), Decimal("39.8000")),
        ("p2", None, "Tea", 3, Decimal("0.1000"), Decimal("0.3000")),
    ]
    refunds = server.query("SELECT order_id, amount, quantity FROM refunds ORDER BY order_id")
    assert refunds == [("A100", Decimal("19.9000"), 1), ("A101", Decimal("12.0000"), None)]
    assert server.query("SELECT revenue FROM events WHERE message_id = 'oc2'") == [(Decimal("10.0000"),)]


def test_repeated_order_completed_does_not_duplicate_items(server: InProcServer) -> None:
    """order_items has no primary key: a repeated order replaces its lines, in one load or across loads."""

    def completed(message_id: str, quantities: list[int]) -> dict[str, object]:
        products = [{"product_id": f"p{i}", "price": "2.50", "quantity": q} for i, q in enumerate(quantities)]
        return {
            "type": "track",
            "event": "Order Completed",
            "userId": "c1",
            "messageId": message_id,
            "properties": {"order_id": "R1", "currency": "EUR", "products": products},
        }

    items = "SELECT product_id, quantity FROM order_items WHERE order_id = 'R1' ORDER BY product_id"
    with server.client() as c:
        # Twice in one batch (one load): the later event's lines win.
        batch = [completed("r1-a", [1, 1]), completed("r1-b", [2, 3])]
        assert c.post("/v1/batch", json={"batch": batch}).json()["accepted"] == 2
        assert server.query(items) == [("p0", 2), ("p1", 3)]
        # Again in a later load, with one line fewer.
        assert c.post("/v1/track", json=completed("r1-c", [4])).status_code == 200
        assert server.query(items) == [("p0", 4)]
        assert c.post("/v1/track", json=completed("r1-d", [5, 6])).status_code == 200
        assert server.query(items) == [("p0", 5), ("p1", 6)]
        # In one load, a later completion with fewer lines drops the earlier extra line too.
        batch = [completed("r1-e", [7, 7]), completed("r1-f", [8])]
        assert c.post("/v1/batch", json={"batch": batch}).json()["accepted"] == 2
        assert server.query(items) == [("p0", 8)]
        assert c.post("/v1/track", json=completed("r1-g", [5, 6])).status_code == 200
    assert server.query(items) == [("p0", 5), ("p1", 6)]
    assert server.query("SELECT count(*), count(DISTINCT item_id) FROM order_items") == [(2, 2)]
    assert server.query("SELECT total, items_count FROM orders WHERE order_id = 'R1'") == [
        (Decimal("27.5000"), 11)
    ]


def test_dead_letters_can_be_listed_and_replayed(server: InProcServer) -> None:
    with server.client() as c:
        c.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "messageId": "needs-name"}]})
    api = httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.state.control_token}"},
        timeout=DEADLINE,
    )
    base = f"/api/v1/t/{server.tenant.slug}/ingest/dead-letters"
    letters = api.get(base).json()
    assert len(letters) == 1 and letters[0]["reason"].startswith("$.event")
    dl = letters[0]["dead_letter_id"]
    r = api.post(f"{base}/{dl}/replay")
    assert r.status_code == 422 and "still invalid" in r.json()["error"]["message"]
    fixed = json.loads(letters[0]["payload"]) | {"event": "Signed Up"}
    r = api.post(f"{base}/{dl}/replay", json={"payload": fixed})
    assert r.status_code == 200, r.text
    assert r.json() == {"dead_letter_id": dl, "message_id": "needs-name", "accepted": 1, "duplicates": 0}
    assert api.get(base).json() == []
    assert api.get(base, params={"include_replayed": True}).json()[0]["replay_message_id"] == "needs-name"
    assert api.post(f"{base}/{dl}/replay", json={"payload": fixed}).status_code == 422
    assert api.post(f"{base}/nope/replay").status_code == 404
    assert server.query("SELECT event FROM events") == [("Signed Up",)]


@pytest.mark.parametrize("threads", [16])
def test_concurrent_clients_lose_and_double_nothing(server: InProcServer, threads: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def send(worker: int) -> int:
        accepted = 0
        with server.client() as c:
            for b in range(10):
                batch = [
                    {"type": "track", "event": "E", "userId": f"u{worker}", "messageId": f"{worker}-{b}-{i}"}
                    for i in range(100)
                ]
                # every batch is sent twice, as a retrying SDK would
                accepted += c.post("/v1/batch", json={"batch": batch}).json()["accepted"]
                accepted += c.post("/v1/batch", json={"batch": batch}).json()["accepted"]
        return accepted

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(send, range(threads)))
    assert total == threads * 1000
    assert server.query("SELECT count(*), count(DISTINCT message_id) FROM events") == [(16000, 16000)]


def test_values_the_loader_could_not_store_are_rejected_at_the_edge(server: InProcServer) -> None:
    """Found in review: these were acknowledged, then failed every load of the tenant."""

    def order(i: int, products: list[dict[str, object]], **extra: object) -> dict[str, object]:
        return {
            "type": "track",
            "event": "Order Completed",
            "userId": "u",
            "messageId": f"edge-{i}",
            "properties": {"order_id": f"E{i}", "products": products, **extra},
        }

    batch = [
        order(0, [{"price": 10, "quantity": 3_000_000_000}]),
        order(1, [{"price": "90000000000000", "quantity": 2}]),
        order(2, [{"price": "60000000000000", "quantity": 1}, {"price": "60000000000000", "quantity": 1}]),
        order(3, [], total="12345678901234.5678"),
    ]
    # A JSON number with more digits than a float holds (written by hand: Python's json would round it).
    number_order = (
        b'{"batch": [{"type": "track", "event": "Order Completed", "userId": "u", "messageId": "edge-4",'
        b' "properties": {"order_id": "E4", "total": 12345678901234.5678}}]}'
    )
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": batch}).json()
        assert c.post("/v1/batch", content=number_order).json()["accepted"] == 1
        bad_utf8 = (
            b'{"batch": [{"type": "track", "event": "A", "userId": "u", "messageId": "utf",'
            b' "properties": {"name": "\xff\xfe"}}]}'
        )
        r2 = c.post("/v1/batch", content=bad_utf8, headers={"content-type": "application/json"})
    assert {e["index"]: e["field"] for e in r["rejected"]} == {
        0: "$.properties.products[0].quantity",
        1: "$.properties.products[0]",
        2: "$.properties",
    }
    assert r["accepted"] == 1
    # Money arrives exact whether sent as a string or as a JSON number (never through a float).
    assert server.query(
        "SELECT order_id, total, revenue FROM orders JOIN events USING (order_id) ORDER BY order_id"
    ) == [
        ("E3", Decimal("12345678901234.5678"), Decimal("12345678901234.5678")),
        ("E4", Decimal("12345678901234.5678"), Decimal("12345678901234.5678")),
    ]
    assert r2.status_code in (200, 400)
    if r2.status_code == 200:
        assert r2.json()["accepted"] == 0 and r2.json()["rejected"][0]["index"] == 0


def test_dead_letter_routes_check_the_role(server: InProcServer) -> None:
    from ecomops.tenancy import service as tenancy

    base = f"/api/v1/t/{server.tenant.slug}/ingest/dead-letters"
    with server.client() as c:
        c.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "messageId": "x"}]})
    keys = {
        role: tenancy.create_api_key(server.state.engine, server.tenant.slug, role)[1]
        for role in ("viewer", "marketer", "analyst", "operator")
    }
    with httpx.Client(base_url=server.url, timeout=DEADLINE) as c:

        def call(role: str, method: str, path: str) -> int:
            return c.request(method, path, headers={"Authorization": f"Bearer {keys[role]}"}).status_code

        assert call("viewer", "GET", base) == 403
        assert call("marketer", "GET", base) == 403
        assert call("analyst", "GET", base) == 200
        dl = c.get(base, headers={"Authorization": f"Bearer {keys['analyst']}"}).json()[0]["dead_letter_id"]
        assert call("analyst", "POST", f"{base}/{dl}/replay") == 403
        assert call("operator", "POST", f"{base}/{dl}/replay") == 422  # allowed, but still invalid
        # A stray non-ASCII token is a 401, not a server error.
        r = c.get(base, headers={"Authorization": "Bearer tök".encode()})
        assert r.status_code == 401


def test_a_refund_that_arrives_before_its_order_gets_the_order_total(server: InProcServer) -> None:
    refund = {
        "type": "track",
        "event": "Order Refunded",
        "userId": "c",
        "messageId": "early-refund",
        "properties": {"order_id": "LATE"},
    }
    completed = {
        "type": "track",
        "event": "Order Completed",
        "userId": "c",
        "messageId": "late-order",
        "properties": {"order_id": "LATE", "total": "88.80", "currency": "CNY"},
    }
    with server.client() as c:
        assert c.post("/v1/track", json=refund).json()["accepted"] == 1
        assert server.query("SELECT amount FROM refunds") == [(None,)]
        assert c.post("/v1/track", json=completed).json()["accepted"] == 1
    assert server.query("SELECT amount FROM refunds") == [(Decimal("88.8000"),)]
    assert server.query("SELECT status FROM orders") == [("refunded",)]


def test_timestamps_too_far_apart_are_an_event_error(server: InProcServer) -> None:
    """Found by schemathesis: a sentAt in year 6045 made the skew correction overflow (a 500)."""
    event = {
        "type": "identify",
        "userId": "u",
        "messageId": "far",
        "timestamp": "3176-01-22T20:41:17Z",
        "sentAt": "6045-04-15T13:12:28-10:06",
    }
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": [event]})
    assert r.status_code == 200
    assert r.json()["rejected"] == [
        {
            "index": 0,
            "field": "$.sentAt",
            "reason": "timestamp and sentAt are too far apart to correct the clock skew",
        }
    ]


def test_json_that_orjson_cannot_encode_is_still_handled(server: InProcServer) -> None:
    """Found by schemathesis: an integer beyond 64 bits in a batch context crashed the dead-letter path."""
    body = (
        b'{"batch": [{}, {"type": "track", "event": "E", "userId": "u", "messageId": "big"}],'
        b' "context": {"n": -45491758131456638976}}'
    )
    with server.client() as c:
        r = c.post("/v1/batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["rejected"][0]["index"] == 0
    assert server.query("SELECT context->>'n' FROM events") == [("-45491758131456638976",)]
