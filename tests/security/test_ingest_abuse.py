"""What one (public) write key can make the server do is bounded, and one bad event never costs its batch.

Each test sends the attack over real HTTP to a running server (issue 10, "Broken" 1 and 3); each fails on
the code before the bounds: there a 480 KB batch of junk produced 240,000 dead letters and a 17 MB answer,
and an event nested 1,000 levels deep or holding invalid UTF-8 answered 500 and lost the good events
beside it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ecomops.platform.web.ratelimit import Limit
from ecomops.tenancy import service as tenancy
from tests.conftest import InProcServer


@pytest.fixture(autouse=True)
def small_budgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Budgets small enough to reach in a test (the server reads them from the environment)."""
    monkeypatch.setenv("ECOMOPS_RATELIMIT_WRITE_KEY_INVALID_BURST", "60")
    monkeypatch.setenv("ECOMOPS_RATELIMIT_WRITE_KEY_INVALID_RATE", "0.001")
    monkeypatch.setenv("ECOMOPS_INGEST_DEAD_LETTER_QUOTA", "50")
    yield


def good(n: int) -> dict[str, object]:
    return {"type": "track", "event": "Product Viewed", "userId": f"u{n}", "messageId": str(uuid.uuid4())}


def good_raw(n: int) -> bytes:
    return b'{"type":"track","event":"Product Viewed","userId":"u%d","messageId":"%s"}' % (
        n,
        str(uuid.uuid4()).encode(),
    )


def count(server: InProcServer, table: str) -> int:
    return int(server.query(f"SELECT count(*) FROM {table}")[0][0])


def test_a_junk_batch_is_refused_whole_with_one_dead_letter_and_a_short_answer(server: InProcServer) -> None:
    body = b'{"batch":[' + b",".join([b"1"] * 240_000) + b"]}"
    assert len(body) > 470_000
    with server.client() as c:
        started = time.monotonic()
        r = c.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
        elapsed = time.monotonic() - started
        assert r.status_code == 400, r.text[:300]
        error = r.json()["error"]
        assert error["code"] == "too_many_invalid_events"
        assert error["details"]["max_invalid"] == 20
        assert len(error["details"]["rejected"]) == 10
        assert len(r.content) < 4096
        assert c.get("/healthz").status_code == 200
    assert count(server, "events") == 0
    letters = server.query("SELECT batch_index, reason, length(payload) FROM ingest_dead_letters")
    assert len(letters) == 1
    index, reason, size = letters[0]
    assert index is None and "more than 20 invalid events" in reason and "first 32 KB" in reason
    assert size <= 32 * 1024
    # Validation stopped at the 21st item: far from the seconds 240,000 items took.
    assert elapsed < 5


def test_a_few_invalid_events_are_still_rejected_one_by_one(server: InProcServer) -> None:
    batch = [good(1), {"type": "track", "userId": "u"}, good(2), 7, good(3)]
    with server.client() as c:
        r = c.post("/v1/batch", json={"batch": batch})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3
    assert [x["index"] for x in r.json()["rejected"]] == [1, 3]
    assert count(server, "events") == 3
    assert count(server, "ingest_dead_letters") == 2


def _nested(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


@pytest.mark.parametrize("levels", [33, 1000, 5000])
def test_a_deep_event_is_rejected_alone_and_its_neighbours_are_stored(
    server: InProcServer, levels: int
) -> None:
    deep = (
        b'{"type":"track","event":"X","userId":"u","messageId":"deep","properties":' + _nested(levels) + b"}"
    )
    if len(deep) > 32 * 1024:  # keep under the per-event size limit: only the depth is on trial here
        deep = b'{"type":"track","event":"X","userId":"u","messageId":"deep","properties":' + (
            b"[" * levels + b"]" * levels + b"}"
        )
    body = b'{"batch":[' + good_raw(1) + b"," + deep + b"," + good_raw(2) + b"]}"
    with server.client() as c:
        r = c.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["accepted"] == 2
    assert r.json()["rejected"] == [
        {"index": 1, "field": "$", "reason": "event nested deeper than 32 levels"}
    ]
    assert count(server, "events") == 2


def test_an_event_at_the_depth_limit_is_stored(server: InProcServer) -> None:
    # The event object is level 1, properties level 2: 30 more levels make 32.
    event = b'{"type":"track","event":"X","userId":"u","messageId":"ok","properties":' + _nested(30) + b"}"
    with server.client() as c:
        r = c.post("/v1/track", content=event, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1


@pytest.mark.parametrize(
    "bad",
    [
        b'{"type":"track","event":"X\xff\xfe","userId":"u","messageId":"bad"}',
        b'{"type":"track","event":"X","userId":"u","messageId":"bad","properties":{"n":"\xff\xfe"}}',
        b'{"type":"identify","userId":"u","messageId":"bad","traits":{"email":"a@b.c","n":"\xc3\x28"}}',
    ],
    ids=["event-name", "properties", "traits"],
)
def test_invalid_utf8_in_one_event_costs_that_event_only(server: InProcServer, bad: bytes) -> None:
    body = b'{"batch":[' + good_raw(1) + b"," + bad + b"," + good_raw(2) + b"]}"
    with server.client() as c:
        r = c.post("/v1/batch", content=body, headers={"Content-Type": "application/json"})
        single = c.post("/v1/track", content=bad, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    [rejection] = r.json()["rejected"]
    assert rejection["index"] == 1 and "invalid UTF-8" in rejection["reason"]
    assert single.status_code == 200 and single.json()["accepted"] == 0
    assert count(server, "events") == 2


def test_a_key_that_spent_its_invalid_budget_is_refused_and_others_are_not(server: InProcServer) -> None:
    _, other_key = tenancy.create_source(server.state.engine, server.tenant.slug, "app", "app")
    junk = {"batch": [{"type": "track", "userId": "u"}] * 20 + [good(0)]}
    with server.client() as c:
        answers = [c.post("/v1/batch", json=junk).status_code for _ in range(4)]
        # 60 invalid events spend the budget (burst 60, refill ~0): the fourth request is refused whole.
        assert answers == [200, 200, 200, 429]
        refused = c.post("/v1/batch", json={"batch": [good(1)]})
        assert refused.status_code == 429
        assert refused.json()["error"]["details"]["limit"] == "write_key_invalid"
        assert int(refused.headers["Retry-After"]) >= 1
        # Refused before its body was read: the connection is closed rather than read to discard the body.
        assert refused.headers["Connection"] == "close"
    with server.client(other_key) as other:
        assert other.post("/v1/batch", json={"batch": [good(2)]}).status_code == 200


def test_events_per_write_key_are_limited_in_events_not_requests(
    server: InProcServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = server.state.services["ratelimit"]
    monkeypatch.setattr(limiter, "write_key_events", Limit("write_key_events", 0.001, 250))
    with server.client() as c:
        first = c.post("/v1/batch", json={"batch": [good(i) for i in range(200)]})
        second = c.post("/v1/batch", json={"batch": [good(i) for i in range(100)]})
    assert first.status_code == 200, first.text
    assert second.status_code == 429
    assert second.json()["error"]["details"]["limit"] == "write_key_events"
    assert count(server, "events") == 200


def test_dead_letters_stop_at_the_tenant_quota_and_are_counted(server: InProcServer) -> None:
    limiter = server.state.services["ratelimit"]
    limiter.enabled = False  # the quota, not the invalid-event budget, is on trial here
    invalid = {"batch": [{"type": "track", "userId": "u"}] * 15}
    with server.client() as c:
        for _ in range(5):
            assert c.post("/v1/batch", json=invalid).status_code == 200
        metrics = httpx.get(server.url + "/metrics").text
    assert count(server, "ingest_dead_letters") == 50
    dropped = {
        s.labels["tenant"]: s.value
        for f in text_string_to_metric_families(metrics)
        for s in f.samples
        if s.name == "ecomops_ingest_dead_letters_dropped_total"
    }
    assert dropped == {server.tenant.slug: 25}
