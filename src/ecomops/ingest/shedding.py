"""Load shedding at the door of ``/v1/*``: refuse a request before its body is read when the process is
saturated, so overload turns into a cheap 429 instead of latency for everyone and memory that stays.

Why: under 400 connections posting 400-event batches the server read and validated every body at once:
it never answered 429 (the write queue's bound is checked only after a body is read and validated),
``/healthz`` took 2–3 s behind the validation work in the event loop, and the process grew from 973 to
1,616 MB and stayed there. Two checks now run before a byte of the body is read, both O(1):

- **bodies in flight** (``ingest_max_in_flight``): requests of which the body is being read or validated
  at this moment. Validation runs in the event loop, so more of them at once adds no throughput, only
  latency (every other request, ``/healthz`` included, waits behind them) and memory (each holds its body
  and its decoded messages). A request beyond the cap is answered 429 ``overloaded`` at once. The slot is
  released once the request's lines are handed to the writer: waiting for the group commit costs neither
  CPU nor the body (the write queue has its own bound, ``ingest_queue_max_events``).
- **memory watermark** (``ingest_memory_watermark_mb``): the process's resident memory, read from
  ``/proc/self/statm`` at most every 100 ms (one small read), above which ``/v1/*`` answers 429 until it
  falls back. On a system without ``/proc`` the watermark is not applied (peak RSS from ``getrusage``
  never falls, so it would shed for good after one spike).

Not done: calling glibc's ``malloc_trim`` after a burst. Measured with ``bench/ingest.py --abuse`` it made
no difference beyond the run-to-run noise (1,368 against 1,405 MB five seconds after the flood): what the
process keeps after a burst is DuckDB's buffer pool and the dedupe window, not freed request buffers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ecomops.kernel.errors import Overloaded
from ecomops.platform.settings import Settings

log = logging.getLogger(__name__)

#: How long one RSS reading is trusted: cheap enough per request, fresh enough to stop a burst.
RSS_CACHE_SECONDS = 0.1
_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def read_rss() -> int | None:
    """Resident set size of this process in bytes, or None where ``/proc`` does not exist."""
    try:
        return int(_STATM.read_bytes().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def machine_memory() -> int:
    """Physical memory, or the container's cgroup v2 limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def watermark_bytes(settings: Settings) -> int:
    """``ingest_memory_watermark_mb``, or (0) half of the machine's memory: the warehouses' DuckDB
    limits are a quarter of it each, and the server must still be able to grow for a query."""
    if settings.ingest_memory_watermark_mb:
        return settings.ingest_memory_watermark_mb * 1024 * 1024
    return machine_memory() // 2


@dataclass(frozen=True)
class SheddingFigures:
    in_flight: int
    max_in_flight: int
    rss_bytes: int | None
    watermark_bytes: int
    #: Requests refused since start, by reason: ``in_flight`` or ``memory``.
    shed: dict[str, int]


class LoadShedder:
    """The two checks and the counters ``/metrics`` reports. Used from the event loop only (no locks);
    ``clock`` and ``rss`` are injectable so tests can drive them."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        rss: Callable[[], int | None] = read_rss,
    ) -> None:
        self.max_in_flight = settings.ingest_max_in_flight
        self.watermark = watermark_bytes(settings)
        self.clock = clock
        self._rss = rss
        self.in_flight = 0
        self.shed = {"in_flight": 0, "memory": 0}
        self._rss_at = -1e9
        self._rss_value: int | None = None

    def rss(self) -> int | None:
        """RSS, read again at most every ``RSS_CACHE_SECONDS``."""
        now = self.clock()
        if now - self._rss_at >= RSS_CACHE_SECONDS:
            self._rss_at = now
            self._rss_value = self._rss()
        return self._rss_value

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Hold a body slot while the request's body is read and validated; 429 instead when the process
        is above its memory watermark or every slot is taken."""
        rss = self.rss()
        if rss is not None and rss > self.watermark:
            self.shed["memory"] += 1
            raise _unread(
                Overloaded(
                    "the server is short of memory; retry later",
                    retry_after=2,
                    details={"reason": "memory", "retry_after": 2},
                )
            )
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            self.shed["in_flight"] += 1
            raise _unread(
                Overloaded(
                    "too many ingest requests at once; retry later",
                    retry_after=1,
                    details={"reason": "in_flight", "max_in_flight": self.max_in_flight, "retry_after": 1},
                )
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def figures(self) -> SheddingFigures:
        return SheddingFigures(
            self.in_flight, self.max_in_flight, self._rss_value, self.watermark, dict(self.shed)
        )


def _unread(error: Overloaded) -> Overloaded:
    """A refusal made before the body was read closes the connection (``Connection: close``): reading
    a refused 500 KB body only to discard it is the work shedding exists to avoid."""
    error.close_connection = True
    return error
