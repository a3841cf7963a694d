"""``GET /api/v1/t/{tenant}/live`` (one JSON snapshot) and ``/live/stream`` (Server-Sent Events).

Both need ``orders:read`` and read the tenant's shared feed (``live.hub``): opening a hundred streams
costs the warehouse one snapshot per second, not a hundred.

The stream is ``text/event-stream``: a ``retry`` hint, then ``event: snapshot`` messages whose ``data`` is
the same JSON as ``GET /live``, sent when the figures change (at most once per second), and a
``: keep-alive`` comment after ``keepalive`` quiet seconds so proxies do not close an idle connection.
It ends after ``max_seconds`` with ``event: end``; browsers' ``EventSource`` reconnects by itself (after
the ``retry`` delay), so a bounded stream costs nothing on screen while guaranteeing that no connection —
a forgotten tab, a client that never reads — lives forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from ecomops.live import service
from ecomops.live.hub import hub_of
from ecomops.platform.permissions import require
from ecomops.platform.web.deps import StateDep, TenantDep

router = APIRouter(prefix="/api/v1/t/{tenant}/live", tags=["live"])

#: Seconds a stream stays open unless the client asks for less.
DEFAULT_STREAM_SECONDS = 300
MAX_STREAM_SECONDS = 3600
KEEPALIVE_SECONDS = 15.0
#: Milliseconds the browser waits before reconnecting a stream that ended.
RETRY_MS = 1000

SNAPSHOT_EXAMPLE = {
    "as_of": "2026-11-11T12:00:05+00:00",
    "timezone": "Asia/Shanghai",
    "currency": "CNY",
    "day_start": "2026-11-11T00:00:00+08:00",
    "minutes": [
        {
            "minute": "2026-11-11T19:59:00+08:00",
            "gmv": "1299.0000",
            "orders": 3,
            "buyers": 3,
            "visitors": 41,
            "conversion": 0.0732,
        }
    ],
    "today": {
        "gmv": "812345.5000",
        "orders": 2210,
        "buyers": 2011,
        "visitors": 30544,
        "conversion": 0.0658,
        "aov": "367.5771",
        "other_currencies": 0,
        "unpaid_orders": 4,
        "unpaid_value": "1023.0000",
    },
    "hot_products": [],
    "channels": [{"channel": "douyin", "gmv": "402311.0000", "orders": 1033}],
    "live_sessions": [],
    "unpaid": [],
    "last_order_at": "2026-11-11T20:00:03+08:00",
}


@router.get(
    "",
    response_model=service.LiveSnapshot,
    summary="Live figures now: last 60 minutes by minute, today so far, hot products, channels, "
    "live sessions, unpaid orders",
    responses={200: {"content": {"application/json": {"example": SNAPSHOT_EXAMPLE}}}},
)
async def live_snapshot(ctx: TenantDep, state: StateDep) -> Response:
    """``live.service.snapshot`` as the hub shares it: computed at most once per interval for every
    open screen, and sent as the bytes it was serialised to once (its JSON form)."""
    require(ctx, "orders:read")
    snap = await hub_of(state).snapshot(ctx.tenant.id, service.LiveScope.of(ctx.tenant))
    return Response(snap.body, media_type="application/json", headers={"Cache-Control": "no-store"})


async def sse_events(
    state: Any, tenant_id: str, scope: service.LiveScope, max_seconds: float, keepalive: float
) -> AsyncIterator[bytes]:
    """The stream body: snapshots from the shared feed until ``max_seconds`` or the hub closes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    yield f"retry: {RETRY_MS}\n\n".encode()
    async with hub_of(state).subscribe(tenant_id, scope) as sub:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                body = await sub.next(min(keepalive, remaining))
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if body is None:  # the server is shutting down
                break
            yield b"event: snapshot\ndata: " + body + b"\n\n"
    yield b'event: end\ndata: {"reason": "max_seconds"}\n\n'


@router.get(
    "/stream",
    summary="Live figures as Server-Sent Events (one snapshot per change, at most one per second)",
    responses={200: {"content": {"text/event-stream": {"example": "event: snapshot\ndata: {…}\n\n"}}}},
    response_class=StreamingResponse,
)
async def live_stream(
    ctx: TenantDep,
    state: StateDep,
    max_seconds: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_STREAM_SECONDS,
            description="Close the stream after this many seconds (EventSource reconnects on its own)",
        ),
    ] = DEFAULT_STREAM_SECONDS,
) -> StreamingResponse:
    require(ctx, "orders:read")
    return StreamingResponse(
        sse_events(state, ctx.tenant.id, service.LiveScope.of(ctx.tenant), max_seconds, KEEPALIVE_SECONDS),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
