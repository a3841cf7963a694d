"""Post the demo shop's live traffic (``simulate.trickle``) to a server's ingest API, as a shop's site and
apps would: ``POST /v1/batch`` with a write key, each message once its time has come.

Why over HTTP rather than into the warehouse: the live demo then exercises what a real shop uses (write
key, validation, the write-ahead log, the loader, order derivation, the live feed's change probe), and
a message the API refuses shows up as a dead letter instead of silently not counting.

``catch_up`` first sends the minutes between a start time and now as fast as the API takes them (a gap
since the shop was last served), then ``run`` follows the clock. Messages keep their deterministic ids,
so sending a minute twice (a restart, an overlapping catch-up) is deduplicated by the API.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from ecomops.kernel.clock import utcnow
from ecomops.simulate.trickle import TrickleModel

log = logging.getLogger(__name__)

#: Messages per request and bytes per request, under the API's 500-message / 500 KB batch limits.
BATCH_MESSAGES = 400
BATCH_BYTES = 400_000
#: Seconds the feed keeps retrying an unreachable server before it gives up (the server stopped).
GIVE_UP_AFTER_S = 30.0
TICK_S = 1.0


class FeedStopped(Exception):
    """The server stayed unreachable (or refused the write key) for good."""


@dataclass
class FeedStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    orders: int = 0
    batches: int = 0
    first_rejections: list[dict[str, Any]] = field(default_factory=list)

    def add(self, sent: int, orders: int, answer: dict[str, Any]) -> None:
        self.sent += sent
        self.orders += orders
        self.batches += 1
        self.accepted += int(answer.get("accepted", 0))
        self.duplicates += int(answer.get("duplicates", 0))
        rejected = answer.get("rejected") or []
        self.rejected += len(rejected)
        self.first_rejections.extend(rejected[: max(0, 10 - len(self.first_rejections))])


def _minute(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(second=0, microsecond=0)


def _batches(messages: list[dict[str, Any]]) -> Iterator[tuple[list[dict[str, Any]], bytes]]:
    """Consecutive chunks within both limits, each with its encoded request body."""
    chunk: list[bytes] = []
    items: list[dict[str, Any]] = []
    size = 0
    for message in messages:
        encoded = orjson.dumps(message)
        if chunk and (len(chunk) >= BATCH_MESSAGES or size + len(encoded) > BATCH_BYTES):
            yield items, b'{"batch":[' + b",".join(chunk) + b"]}"
            chunk, items, size = [], [], 0
        chunk.append(encoded)
        items.append(message)
        size += len(encoded) + 1
    if chunk:
        yield items, b'{"batch":[' + b",".join(chunk) + b"]}"


class Feed:
    """Sends the model's messages to ``url`` with ``write_key``; ``clock`` and ``sleep`` are injectable so
    tests can drive time."""

    def __init__(
        self,
        model: TrickleModel,
        url: str,
        write_key: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        client: httpx.Client | None = None,
    ) -> None:
        self.model = model
        self.clock = clock
        self.client = client or httpx.Client(base_url=url.rstrip("/"), timeout=30)
        self.auth = httpx.BasicAuth(write_key, "")
        self.stats = FeedStats()
        #: (time, message id, message), earliest first.
        self._pending: list[tuple[datetime, str, dict[str, Any]]] = []
        self._next_minute: datetime | None = None
        self._started_at: datetime | None = None
        self._down_since: float | None = None

    def close(self) -> None:
        self.client.close()

    def _generate_until(self, now: datetime) -> None:
        """Queue the messages of every minute up to and including ``now``'s."""
        if self._next_minute is None:
            self._next_minute = _minute(now)
        if self._started_at is None:
            self._started_at = self._next_minute
            for m in self.model.show_start(self._next_minute):
                heapq.heappush(self._pending, (datetime.fromisoformat(m["timestamp"]), m["messageId"], m))
        while self._next_minute <= now:
            for m in self.model.minute_messages(self._next_minute):
                when = datetime.fromisoformat(m["timestamp"])
                heapq.heappush(self._pending, (when, m["messageId"], m))
            self._next_minute += timedelta(minutes=1)

    def _due(self, now: datetime) -> list[dict[str, Any]]:
        due = []
        while self._pending and self._pending[0][0] <= now:
            due.append(heapq.heappop(self._pending)[2])
        return due

    def _post(self, messages: list[dict[str, Any]], stop: threading.Event | None) -> None:
        for items, body in _batches(messages):
            orders = sum(1 for m in items if m.get("event") == "Order Completed")
            self.stats.add(len(items), orders, self._send(body, stop))

    def _send(self, body: bytes, stop: threading.Event | None) -> dict[str, Any]:
        """One batch, retried while the server is busy (429/503, honouring Retry-After) or briefly away."""
        backoff = 0.5
        while True:
            try:
                r = self.client.post(
                    "/v1/batch", content=body, auth=self.auth, headers={"content-type": "application/json"}
                )
            except httpx.TransportError as exc:
                wait = self._unreachable(exc)
            else:
                if r.status_code == 200:
                    self._down_since = None
                    answer: dict[str, Any] = r.json()
                    return answer
                if r.status_code in (401, 403):
                    raise FeedStopped(f"the server refused the write key ({r.status_code}): {r.text[:200]}")
                if r.status_code not in (429, 503):
                    raise FeedStopped(f"the server answered {r.status_code}: {r.text[:300]}")
                wait = float(r.headers.get("retry-after") or backoff)
            backoff = min(backoff * 2, 8.0)
            if stop is not None and stop.wait(wait):
                raise FeedStopped("stopped")
            if stop is None:
                threading.Event().wait(wait)

    def _unreachable(self, exc: Exception) -> float:
        now = self.clock().timestamp()
        if self._down_since is None:
            self._down_since = now
            log.warning("server unreachable (%s); retrying", exc)
        elif now - self._down_since > GIVE_UP_AFTER_S:
            raise FeedStopped(f"the server has been unreachable for {GIVE_UP_AFTER_S:.0f} s: {exc}")
        return 1.0

    def catch_up(self, since: datetime, stop: threading.Event | None = None) -> FeedStats:
        """Send every message from ``since`` up to now as fast as the API accepts them."""
        self._next_minute = _minute(since)
        now = self.clock()
        while self._next_minute <= now:
            # A day at a time, so a long gap never holds a month of messages in memory.
            self._generate_until(min(now, self._next_minute + timedelta(hours=24)))
            self._post(self._due(now), stop)
            if stop is not None and stop.is_set():
                break
        return self.stats

    def step(self, stop: threading.Event | None = None) -> int:
        """Generate up to now and send what is due; returns the number of messages sent."""
        now = self.clock()
        self._generate_until(now)
        due = self._due(now)
        self._post(due, stop)
        return len(due)

    def run(self, stop: threading.Event, on_tick: Callable[[FeedStats], None] | None = None) -> FeedStats:
        """Follow the clock until ``stop`` is set (or the server goes away for good)."""
        while not stop.is_set():
            self.step(stop)
            if on_tick is not None:
                on_tick(self.stats)
            stop.wait(TICK_S)
        return self.stats
