"""The loader stores the standard context fields in typed columns and only the rest as JSON, and
``context_full`` gives back exactly the context each event was sent with (none lost, none altered)."""

from __future__ import annotations

import json
from typing import Any

from ecomops.platform.warehouse.eventcontext import full_context
from tests.conftest import InProcServer
from tests.warehouse.test_event_context import CONTEXTS


def _events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for n, ctx in enumerate(CONTEXTS):
        event: dict[str, Any] = {
            "type": "page" if n == 0 else "track",
            "messageId": f"ctx-{n}",
            "anonymousId": "anon-1",
            "timestamp": "2026-11-11T12:00:00Z",
        }
        if n == 0:  # a page call whose properties url differs from its context's
            event["properties"] = {"url": "https://s.example/p/1", "path": "/p/1"}
        else:
            event["event"] = "Product Viewed"
        if ctx is not None:
            event["context"] = ctx
        events.append(event)
    return events


def test_every_event_keeps_its_exact_context(server: InProcServer) -> None:
    sent = _events()
    with server.client() as client:
        r = client.post("/v1/batch", json={"batch": sent})
    assert r.status_code == 200 and r.json()["accepted"] == len(sent), r.text
    rows = server.query(
        f"SELECT message_id, {full_context('e')}, context, ip, user_agent, screen_width, os_version, "
        "page_url, context_page_url FROM events e ORDER BY message_id"
    )
    assert [r[0] for r in rows] == [e["messageId"] for e in sent]
    for event, row in zip(sent, rows, strict=True):
        expected = event.get("context") or None  # the edge stores an empty context as none (messages.py)
        assert (json.loads(row[1]) if row[1] is not None else None) == expected, row[0]
    first = rows[0]
    assert json.loads(first[2]) == {
        k: {} for k in ("library", "page", "campaign", "device", "os", "screen", "location")
    }
    assert first[3:] == (
        "203.0.113.7",
        CONTEXTS[0]["userAgent"],  # type: ignore[index]
        390,
        "17.5",
        "https://s.example/p/1",
        "https://s.example/p/1?utm_source=x",
    )
