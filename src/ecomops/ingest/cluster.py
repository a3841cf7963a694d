"""Cluster mode's write path: validated lines go to the shared event log, not to a local WAL.

Requests are validated exactly as in the embedded mode (same ``api``/``service``/``messages`` code,
same PII sealing, same dead-letter lines); only the hand-off differs. One writer task takes every
submission waiting at that moment and appends one log entry per tenant in one round trip; the
requests are answered only once the log has made the group durable (``EventLog.append``).

This process opens no warehouse for it: deduplication by messageId, the dead-letter quota and the
loading belong to the loader that owns the tenant (``stream_loader``), which may run in this process
(``ECOMOPS_INGEST_LOADER_SHARD``) or anywhere else. So an acknowledgement reports as duplicates only
the repeats inside its own request; a messageId already stored is dropped by the loader, later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ecomops.ingest.eventlog import EventLog, LogBacklog
from ecomops.ingest.messages import Accepted
from ecomops.ingest.pipeline import IngestFigures, SubmitResult, TenantFigures
from ecomops.ingest.redis_log import RedisStreamLog
from ecomops.ingest.stream_loader import StreamLoader
from ecomops.kernel.errors import Overloaded
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings

log = logging.getLogger(__name__)
#: Seconds a tenant's log length seen at its last append stays good enough for the backlog bound.
_BACKLOG_FRESH_SECONDS = 1.0


def open_log(settings: Settings) -> EventLog:
    """The event log ``ECOMOPS_INGEST_LOG`` names (the scheme picks the engine)."""
    url = settings.ingest_log
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStreamLog.open(url, settings.ingest_log_prefix, settings.ingest_log_require_fsync)
    raise ValueError(f"ECOMOPS_INGEST_LOG={url!r}: only redis://, rediss:// and unix:// logs are supported")


@dataclass
class _Submission:
    tenant_id: str
    events: list[bytes]
    dead: list[bytes]
    future: asyncio.Future[None]


@dataclass
class _Counts:
    slug: str
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


class ClusterIngest:
    """What ``api`` submits to in cluster mode (the embedded mode's ``IngestPipeline`` counterpart)."""

    def __init__(
        self,
        settings: Settings,
        event_log: EventLog,
        tenant_of: Callable[[str], TenantInfo],
        loader: StreamLoader | None = None,
    ) -> None:
        self.settings = settings
        self.log = event_log
        self.tenant_of = tenant_of
        #: The loader of this process's shard, when it runs one (``ECOMOPS_INGEST_LOADER_SHARD``).
        self.loader = loader
        self.max_queued = settings.ingest_queue_max_events
        self.running = False
        self._tenants: dict[str, _Counts] = {}
        #: Slugs of the tenants in the log, for the backlog figures (looked up once each).
        self._slugs: dict[str, str] = {}
        #: tenant → (log entries seen at its last append, monotonic time): the backlog bound's input.
        self._lengths: dict[str, tuple[int, float]] = {}
        self._queue: asyncio.Queue[_Submission] | None = None
        self._queued_events = 0
        self._writer: asyncio.Task[None] | None = None
        self._io = ThreadPoolExecutor(1, thread_name_prefix="ingest-log")

    async def prepare_tenant(self, tenant_id: str) -> str:
        if not self.running:
            raise Overloaded("ingest is not running", retry_after=5)
        counts = self._tenants.get(tenant_id)
        if counts is None:
            info = await asyncio.get_running_loop().run_in_executor(None, self.tenant_of, tenant_id)
            counts = self._tenants.setdefault(tenant_id, _Counts(info.slug))
        return counts.slug

    async def submit(self, tenant_id: str, items: list[Accepted], dead_lines: list[bytes]) -> SubmitResult:
        if not self.running or self._queue is None:
            raise Overloaded("ingest is not running", retry_after=5)
        await self.prepare_tenant(tenant_id)
        if self._queued_events + len(items) > self.max_queued:
            raise Overloaded("ingest write queue is full; retry later", retry_after=1)
        await self._check_backlog(tenant_id)
        events, seen = [], set()
        for item in items:
            if item.message_id not in seen:
                seen.add(item.message_id)
                events.append(item.line)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued_events += len(items)
        self._queue.put_nowait(_Submission(tenant_id, events, dead_lines, future))
        try:
            await future
        finally:
            self._queued_events -= len(items)
        counts = self._tenants[tenant_id]
        counts.accepted += len(events)
        counts.duplicates += len(items) - len(events)
        counts.rejected += len(dead_lines)
        return SubmitResult(len(events), len(items) - len(events))

    async def _check_backlog(self, tenant_id: str) -> None:
        """429 while the tenant's loader is too far behind (the log is memory in Redis)."""
        length, at = self._lengths.get(tenant_id, (0, -1e9))
        if time.monotonic() - at > _BACKLOG_FRESH_SECONDS:
            backlog = await asyncio.get_running_loop().run_in_executor(self._io, self.log.backlog, tenant_id)
            length = backlog.entries
            self._lengths[tenant_id] = (length, time.monotonic())
        if length >= self.settings.ingest_log_max_backlog_entries:
            raise Overloaded("warehouse loading is behind; retry later", retry_after=2)

    async def _write_loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._queue.get()]
            while not self._queue.empty():
                group.append(self._queue.get_nowait())
            batches: dict[str, tuple[list[bytes], list[bytes]]] = {}
            for sub in group:
                events, dead = batches.setdefault(sub.tenant_id, ([], []))
                events.extend(sub.events)
                dead.extend(sub.dead)
            payload = {t: (b"".join(events), b"".join(dead)) for t, (events, dead) in batches.items()}
            try:
                await loop.run_in_executor(self._io, self.log.append, payload)
            except Exception as exc:
                # Some entries of the group may have been appended: a retry then appends them again, and
                # the loader's messageId dedupe drops the repeats (dead letters may be kept twice).
                log.exception("appending to the ingest log failed")
                for sub in group:
                    if not sub.future.done():
                        sub.future.set_exception(Overloaded(f"event storage failed: {exc}", retry_after=5))
                continue
            for sub in group:
                if not sub.future.done():
                    sub.future.set_result(None)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="ingest-log-writer")
        if self.loader is not None:
            self.loader.start()
        self.running = True

    async def stop(self) -> None:
        self.running = False
        if self._queue is not None:
            while self._queue.qsize() or self._queued_events:
                await asyncio.sleep(0.01)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self.loader is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.loader.stop)
        self._io.shutdown(wait=True)
        self.log.close()

    def flush(self) -> None:
        """Load what the log holds for this process's tenants now (dead-letter listing, tests)."""
        if self.loader is not None:
            self.loader.load_available()

    def seal_tenant(self, tenant_id: str) -> int:
        """Load and trim everything the log holds for a tenant (erasure: no raw line may stay behind).

        Only the tenant's loader can; an erasure must run in the process that loads the tenant."""
        if self.loader is None or not self.loader.owns(tenant_id):
            raise RuntimeError(
                f"tenant {tenant_id} is loaded by another process: run this where its loader runs"
            )
        return self.loader.drain(tenant_id)

    def refused(self, tenant_id: str, events: int) -> None:
        self._tenants[tenant_id].rejected += events

    def figures(self) -> IngestFigures:
        """This process's counts; duplicates dropped and dead letters refused by a loader are the loader's."""
        loaded = self.loader.figures() if self.loader is not None else {}
        tenants = []
        for tenant_id, counts in list(self._tenants.items()):
            at_loader = loaded.get(tenant_id)
            tenants.append(
                TenantFigures(
                    counts.slug,
                    counts.accepted,
                    counts.duplicates + (at_loader.deduplicated if at_loader else 0),
                    counts.rejected,
                    at_loader.dead_letters_dropped if at_loader else 0,
                    0,
                    0.0,
                )
            )
        return IngestFigures(self._queued_events, self.max_queued, tenants)

    def log_backlog(self) -> list[tuple[str, LogBacklog]]:
        """Every tenant's log backlog as (slug, backlog), for ``/metrics`` and ``doctor``."""
        out = []
        for tenant_id in self.log.tenants():
            slug = self._slugs.get(tenant_id)
            if slug is None:
                slug = self._slugs[tenant_id] = self.tenant_of(tenant_id).slug
            out.append((slug, self.log.backlog(tenant_id)))
        return out
