"""One snapshot per tenant per second, shared by every open live screen of that tenant.

Why a hub: a big screen in the office, a phone and ten analysts watching Double 11 must not cost eleven
warehouse queries a second. The first subscriber of a tenant starts a feed task that computes
``live.service.compute`` once per ``interval`` on a worker thread (DuckDB work never blocks the event
loop), serialises it once, and hands the same bytes to every subscriber whose screen needs it. When the
last subscriber leaves, the task ends at its next tick: no listeners, no queries.

Subscribers get a snapshot when its content changed (the timestamp alone does not count), so quiet
shops cost one query per second and no traffic; the stream sends a keep-alive comment instead. Each
subscriber has a one-slot mailbox: a slow client skips intermediate snapshots and always gets the
latest one, and can never make the feed or other clients wait.

The plain JSON endpoint uses the same cache: a snapshot younger than ``interval`` is served as is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ecomops.kernel.clock import utcnow
from ecomops.kernel.jsonutil import json_form
from ecomops.live import service
from ecomops.platform.warehouse.connection import WarehouseRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    result: service.LiveSnapshot
    #: The JSON text sent to clients (the result's JSON form), serialised once for all of them.
    body: bytes
    #: Digest of the content without ``as_of``: equal digests mean nothing on screen would change.
    digest: str
    #: The hub's ``monotonic()`` when it was computed.
    computed_at: float


def make_snapshot(result: service.LiveSnapshot, computed_at: float) -> Snapshot:
    data = json_form(result, service.LiveSnapshot)
    content = {k: v for k, v in data.items() if k != "as_of"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Snapshot(result, body, digest, computed_at)


@dataclass(eq=False)  # identity semantics: each open screen is its own set member
class Subscription:
    """One open screen: a one-slot mailbox of snapshot bodies (``None`` = the hub is closing)."""

    mailbox: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(maxsize=1))
    #: Has had a snapshot: later ones come only when the content changes.
    primed: bool = False

    def offer(self, body: bytes | None) -> None:
        """Replace whatever the client has not read yet: only the newest snapshot matters."""
        if self.mailbox.full():
            self.mailbox.get_nowait()
        self.mailbox.put_nowait(body)
        self.primed = True

    async def next(self, timeout: float) -> bytes | None:
        """The next body; raises ``TimeoutError`` after ``timeout`` seconds without one."""
        return await asyncio.wait_for(self.mailbox.get(), timeout)


@dataclass
class _Feed:
    tenant_id: str
    scope: service.LiveScope
    subscribers: set[Subscription] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    latest: Snapshot | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Snapshots computed (tests and the stats endpoint read it to prove sharing).
    computations: int = 0


class LiveHub:
    def __init__(
        self,
        warehouses: WarehouseRegistry,
        *,
        interval: float = 1.0,
        probe: float = 0.25,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.warehouses = warehouses
        self.interval = interval
        #: Seconds between change probes inside an interval.
        self.probe = probe
        #: The time the figures are computed for.
        self.clock = clock
        #: Ages the cached snapshot (is it younger than ``interval``?); tests move it instead of sleeping.
        self.monotonic = monotonic
        self._feeds: dict[str, _Feed] = {}
        self._closing = False

    def _feed(self, tenant_id: str, scope: service.LiveScope) -> _Feed:
        feed = self._feeds.get(tenant_id)
        if feed is None:
            feed = self._feeds[tenant_id] = _Feed(tenant_id, scope)
        feed.scope = scope  # a changed time zone or currency applies from the next tick
        return feed

    def _compute_sync(self, tenant_id: str, scope: service.LiveScope) -> service.LiveSnapshot:
        cur = self.warehouses.get(tenant_id).cursor()
        try:
            return service.compute(cur, scope, self.clock())
        finally:
            cur.close()

    async def _refresh(self, feed: _Feed, max_age: float) -> Snapshot:
        """The feed's snapshot, recomputed unless one younger than ``max_age`` exists (one at a time)."""
        async with feed.lock:
            latest = feed.latest
            if latest is not None and self.monotonic() - latest.computed_at < max_age:
                return latest
            data = await asyncio.to_thread(self._compute_sync, feed.tenant_id, feed.scope)
            feed.computations += 1
            feed.latest = make_snapshot(data, self.monotonic())
            return feed.latest

    async def snapshot(self, tenant_id: str, scope: service.LiveScope) -> Snapshot:
        """For the JSON endpoint and the page's first paint: shared with the streams when fresh."""
        return await self._refresh(self._feed(tenant_id, scope), self.interval)

    def stats(self, tenant_id: str) -> dict[str, Any]:
        feed = self._feeds.get(tenant_id)
        if feed is None:
            return {"subscribers": 0, "running": False, "computations": 0}
        running = feed.task is not None and not feed.task.done()
        return {"subscribers": len(feed.subscribers), "running": running, "computations": feed.computations}

    @asynccontextmanager
    async def subscribe(self, tenant_id: str, scope: service.LiveScope) -> AsyncIterator[Subscription]:
        """Join the tenant's feed (starting it if idle); the latest snapshot arrives right away."""
        if self._closing:
            raise RuntimeError("the live hub is shutting down")
        feed = self._feed(tenant_id, scope)
        sub = Subscription()
        feed.subscribers.add(sub)
        latest = feed.latest
        if latest is not None and self.monotonic() - latest.computed_at < self.interval:
            sub.offer(latest.body)  # fresh: no need to wait for the next tick
        if feed.task is None or feed.task.done():
            feed.task = asyncio.create_task(self._run(feed), name=f"live-feed-{tenant_id}")
        try:
            yield sub
        finally:
            feed.subscribers.discard(sub)

    def _marker_sync(self, tenant_id: str, scope: service.LiveScope) -> tuple[Any, ...]:
        cur = self.warehouses.get(tenant_id).cursor()
        try:
            return service.change_marker(cur, scope, self.clock())
        finally:
            cur.close()

    async def _wait_for_tick(self, feed: _Feed, started: float, marker: tuple[Any, ...] | None) -> None:
        """Sleep until the next tick, or less when ingest has loaded new facts meanwhile.

        The probe (``service.change_marker``) runs every ``probe`` seconds and costs two pruned
        aggregates; without it an order loaded just after a tick would wait almost a whole interval,
        which with the ingest flush interval came close to the 2-second screen latency under load
        (1.94 s measured once). Early ticks are at least half an interval apart.
        """
        loop = asyncio.get_running_loop()
        next_tick = started + self.interval
        while feed.subscribers and not self._closing:
            remaining = next_tick - loop.time()
            if remaining <= self.probe / 2 or marker is None:
                await asyncio.sleep(max(0.0, remaining))
                return
            await asyncio.sleep(self.probe)
            try:
                now_marker = await asyncio.to_thread(self._marker_sync, feed.tenant_id, feed.scope)
            except Exception:
                log.exception("live change probe of tenant %s failed", feed.tenant_id)
                marker = None
                continue
            if now_marker != marker:
                # At most two snapshots a second while facts keep arriving (one a second otherwise).
                await asyncio.sleep(max(0.0, started + self.interval / 2 - loop.time()))
                return

    async def _run(self, feed: _Feed) -> None:
        """Tick once per interval while anyone listens (sooner when new facts arrived); publish only
        snapshots whose content changed."""
        loop = asyncio.get_running_loop()
        sent = feed.latest.digest if feed.latest is not None else None
        while feed.subscribers and not self._closing:
            started = loop.time()
            marker: tuple[Any, ...] | None = None
            try:
                # The marker first: anything loaded between it and the snapshot triggers one more tick.
                marker = await asyncio.to_thread(self._marker_sync, feed.tenant_id, feed.scope)
                snap = await self._refresh(feed, 0.0)
            except Exception:
                # A failing query (a file being rewritten by erasure, a bug) must not kill the feed; the
                # screens keep the last figures and the next tick tries again.
                log.exception("live snapshot of tenant %s failed", feed.tenant_id)
            else:
                changed = snap.digest != sent
                for sub in list(feed.subscribers):
                    if changed or not sub.primed:
                        sub.offer(snap.body)
                sent = snap.digest
            await self._wait_for_tick(feed, started, marker)

    async def close(self) -> None:
        """Tell every open stream to end and stop the feeds (server shutdown)."""
        self._closing = True
        tasks = []
        for feed in self._feeds.values():
            for sub in list(feed.subscribers):
                sub.offer(None)
            if feed.task is not None:
                feed.task.cancel()
                tasks.append(feed.task)
        await asyncio.gather(*tasks, return_exceptions=True)


async def startup(state: Any) -> None:
    state.services["live"] = LiveHub(state.warehouses)


async def shutdown(state: Any) -> None:
    hub = state.services.pop("live", None)
    if hub is not None:
        await hub.close()


def hub_of(state: Any) -> LiveHub:
    """The running hub; created on first use when the app runs without its lifespan (some tests)."""
    hub = state.services.get("live")
    if hub is None:
        hub = state.services["live"] = LiveHub(state.warehouses)
    assert isinstance(hub, LiveHub)
    return hub
