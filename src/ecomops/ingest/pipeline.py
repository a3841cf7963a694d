"""The ingest write path: dedupe, group commit to the WAL, acknowledge, then load in the background.

Requests hand their already-validated lines to one writer task. The writer takes every
submission waiting at that moment (a *group*), drops messageIds seen in the dedupe
window, appends the rest to each tenant's WAL and fsyncs once for the whole group, then
resolves every request's future: an acknowledgement therefore always means "on disk".
A loader thread moves durable lines into DuckDB a few times a second.

Because the writer is a single task, deduplication needs no locks and is exact.

The pipeline keeps what ``/metrics`` reports (``figures``): per tenant the events accepted,
deduplicated and rejected since start, the WAL bytes not loaded yet and the loader's lag, the age of
the oldest acknowledged group commit the warehouse does not hold yet.

Back-pressure: when the loader falls behind, the WAL absorbs the burst (acknowledged, durable) until a
tenant's backlog reaches its budget (``ingest_backlog_max_seconds`` of lag or ``ingest_backlog_max_mb``)
or the disk runs short (``ingest_min_free_disk_mb``); only then is that tenant answered 429. The loader
serves tenants in turns of ``ingest_load_turn_mb``, most behind first, so one tenant's flood delays another
tenant's freshness by one turn, not by its whole backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ecomops.ingest.loader import forget_before, load_pending, recent_message_ids
from ecomops.ingest.messages import Accepted
from ecomops.ingest.pii import vault_sink
from ecomops.ingest.sealed import PiiSink
from ecomops.ingest.shedding import LoadShedder
from ecomops.ingest.wal import TenantWal
from ecomops.kernel.errors import Overloaded
from ecomops.platform import tenants
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.platform.web.state import AppState, Warehouses

log = logging.getLogger(__name__)
#: How long one free-disk reading is trusted (a statvfs per request would be wasted work).
DISK_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class SubmitResult:
    accepted: int
    duplicates: int


@dataclass
class _Submission:
    tenant_id: str
    items: list[Accepted]
    dead_lines: list[bytes]
    future: asyncio.Future[SubmitResult]


@dataclass(frozen=True)
class TenantFigures:
    """One tenant's ingest since the server started, and its loading backlog now."""

    tenant: str
    accepted: int
    deduplicated: int
    #: Invalid events: kept as dead letters, or refused with their whole batch in strict mode.
    rejected: int
    #: Dead letters dropped because the tenant reached its dead-letter quota.
    dead_letters_dropped: int
    #: Acknowledged (durable) WAL bytes the warehouse does not hold yet.
    backlog_bytes: int
    #: Seconds since the oldest acknowledged group commit not yet loaded was acknowledged; 0 if none.
    lag_seconds: float


@dataclass(frozen=True)
class IngestFigures:
    #: Events of requests waiting for their group commit (refused with 429 beyond ``queue_capacity``).
    queued_events: int
    queue_capacity: int
    tenants: list[TenantFigures]
    #: A tenant's WAL backlog budget: past either, its ingest answers 429 (0: no WAL, cluster mode).
    backlog_max_bytes: int = 0
    backlog_max_seconds: float = 0.0
    #: Free bytes on the WAL's file system, and the floor below which ingest answers 429 (0: unchecked).
    disk_free_bytes: int = 0
    min_free_disk_bytes: int = 0


@dataclass
class _TenantState:
    wal: TenantWal
    currency: str
    slug: str
    #: messageId → receive time (monotonic order = insertion order, so eviction pops from the front).
    seen: dict[str, float] = field(default_factory=dict)
    appended_bytes: int = 0
    loaded_bytes: int = 0
    #: One loader at a time per tenant (the loader thread and explicit flushes race otherwise).
    load_lock: threading.Lock = field(default_factory=threading.Lock)
    #: (appended_bytes after a group commit, monotonic time it was acknowledged) of commits not loaded
    #: yet, oldest first: the WAL thread appends, loads (under ``load_lock``) pop.
    unloaded: deque[tuple[int, float]] = field(default_factory=deque)
    accepted: int = 0
    deduplicated: int = 0
    rejected: int = 0
    #: Dead letters the warehouse holds or will (counted at open, then per write; recounted by the loader
    #: near the quota, since retention deletes old ones).
    dead_letters: int = 0
    dead_dropped: int = 0
    dead_counted_at: float = 0.0
    quota_warned_at: float = -math.inf

    def loaded(self, nbytes: int) -> None:
        self.loaded_bytes += nbytes
        while self.unloaded and self.unloaded[0][0] <= self.loaded_bytes:
            self.unloaded.popleft()

    def oldest_unloaded_at(self) -> float | None:
        """When the oldest group commit not loaded yet was acknowledged (O(1), any thread): the front of
        ``unloaded``, which loads pop; a commit loaded a moment ago may still be there, erring old."""
        try:
            end, at = self.unloaded[0]
        except IndexError:
            return None
        return at if end > self.loaded_bytes else None

    def figures(self, now: float) -> TenantFigures:
        loaded = self.loaded_bytes
        # The loader may load a group before the WAL thread counts it: skip what is loaded already.
        oldest = next((at for end, at in list(self.unloaded) if end > loaded), None)
        return TenantFigures(
            self.slug,
            self.accepted,
            self.deduplicated,
            self.rejected,
            self.dead_dropped,
            max(0, self.appended_bytes - loaded),
            0.0 if oldest is None else max(0.0, now - oldest),
        )


class IngestPipeline:
    def __init__(
        self,
        settings: Settings,
        warehouses: Warehouses,
        tenant_of: Callable[[str], TenantInfo],
        pii_sink: Callable[[str], PiiSink] | None = None,
    ) -> None:
        self.settings = settings
        #: Per tenant: where the loader puts the events' personal data (the vault) before loading them.
        self.pii_sink = pii_sink
        self.warehouses = warehouses
        #: A tenant by id: its currency (the events' default) and slug (its name in the metrics).
        self.tenant_of = tenant_of
        self.window_seconds = settings.ingest_dedupe_window_hours * 3600
        self.max_queued = settings.ingest_queue_max_events
        self.flush_interval = settings.ingest_flush_interval_ms / 1000
        self.running = False
        self._tenants: dict[str, _TenantState] = {}
        self._tenant_lock = threading.Lock()
        self._queue: asyncio.Queue[_Submission] | None = None
        self._queued_events = 0
        self._writer: asyncio.Task[None] | None = None
        self._io = ThreadPoolExecutor(1, thread_name_prefix="ingest-wal")
        self._load_wakeup = threading.Event()
        self._stop_loader = threading.Event()
        self._loader: threading.Thread | None = None
        self._last_evict = time.monotonic()
        self.backlog_max_bytes = settings.ingest_backlog_max_mb * 1024 * 1024
        self.backlog_max_seconds = settings.ingest_backlog_max_seconds
        self.min_free_disk = settings.ingest_min_free_disk_mb * 1024 * 1024
        self.load_turn_bytes = settings.ingest_load_turn_mb * 1024 * 1024
        self._free_disk: tuple[float, int] = (-math.inf, 0)

    # -- tenants -----------------------------------------------------------------------------
    def _tenant(self, tenant_id: str) -> _TenantState:
        """Open a tenant's WAL, replay what is not loaded yet and prime its dedupe window (once)."""
        with self._tenant_lock:
            state = self._tenants.get(tenant_id)
            if state is not None:
                return state
            wal = TenantWal(self.settings.wal_dir() / tenant_id)
            tenant = self.tenant_of(tenant_id)
            warehouse = self.warehouses.get(tenant_id)
            load_pending(wal, warehouse, tenant.currency, pii_sink=self._sink(tenant_id))
            state = _TenantState(wal, tenant.currency, tenant.slug)
            state.dead_letters = _count_dead_letters(warehouse)
            state.dead_counted_at = time.monotonic()
            state.seen = recent_message_ids(warehouse, self.window_seconds)
            self._tenants[tenant_id] = state
            return state

    def _sink(self, tenant_id: str) -> PiiSink | None:
        return self.pii_sink(tenant_id) if self.pii_sink is not None else None

    async def prepare_tenant(self, tenant_id: str) -> str:
        """Open the tenant's WAL if this process has not yet; returns the tenant's slug."""
        if not self.running:
            raise Overloaded("ingest is not running", retry_after=5)
        state = self._tenants.get(tenant_id)
        if state is None:
            state = await asyncio.get_running_loop().run_in_executor(None, self._tenant, tenant_id)
        return state.slug

    def recover(self) -> None:
        """Replay every tenant's WAL left by a previous process before serving."""
        wal_root: Path = self.settings.wal_dir()
        for directory in sorted(p for p in wal_root.iterdir() if p.is_dir()):
            try:
                self._tenant(directory.name)
            except Exception:
                log.exception("could not recover ingest WAL of tenant %s", directory.name)

    # -- submitting ----------------------------------------------------------------------------
    async def submit(self, tenant_id: str, items: list[Accepted], dead_lines: list[bytes]) -> SubmitResult:
        if not self.running or self._queue is None:
            raise Overloaded("ingest is not running", retry_after=5)
        await self.prepare_tenant(tenant_id)
        state = self._tenants[tenant_id]
        if self._queued_events + len(items) > self.max_queued:
            raise Overloaded("ingest write queue is full; retry later", retry_after=1)
        self._check_backlog(state)
        future: asyncio.Future[SubmitResult] = asyncio.get_running_loop().create_future()
        self._queued_events += len(items)
        self._queue.put_nowait(_Submission(tenant_id, items, dead_lines, future))
        try:
            return await future
        finally:
            self._queued_events -= len(items)

    def _check_backlog(self, state: _TenantState) -> None:
        """429 once the tenant's unloaded backlog is past its budget or the WAL's disk is short."""
        backlog = state.appended_bytes - state.loaded_bytes
        if backlog > self.backlog_max_bytes:
            raise Overloaded(
                "warehouse loading is behind; retry later",
                retry_after=5,
                details={"reason": "backlog", "backlog_bytes": backlog, "max_bytes": self.backlog_max_bytes},
            )
        oldest = state.oldest_unloaded_at()
        lag = 0.0 if oldest is None else time.monotonic() - oldest
        if lag > self.backlog_max_seconds:
            raise Overloaded(
                "warehouse loading is behind; retry later",
                retry_after=5,
                details={
                    "reason": "lag",
                    "lag_seconds": round(lag, 1),
                    "max_seconds": self.backlog_max_seconds,
                },
            )
        if self.min_free_disk and self.free_disk() < self.min_free_disk:
            raise Overloaded(
                "the event log's disk is nearly full; retry later",
                retry_after=30,
                details={"reason": "disk", "min_free_bytes": self.min_free_disk},
            )

    def free_disk(self) -> int:
        """Free bytes on the WAL's file system, read at most every ``DISK_CHECK_SECONDS``."""
        now = time.monotonic()
        at, free = self._free_disk
        if now - at >= DISK_CHECK_SECONDS:
            free = shutil.disk_usage(self.settings.wal_dir()).free
            self._free_disk = (now, free)
        return free

    # -- writer --------------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            group = [first]
            while not self._queue.empty():
                group.append(self._queue.get_nowait())
            now = time.time()
            results, undo, payloads = self._dedupe(group, now)
            try:
                await loop.run_in_executor(self._io, self._write_and_sync, payloads)
            except Exception as exc:
                log.exception("ingest WAL write failed")
                for tenant_id, mid in undo:
                    self._tenants[tenant_id].seen.pop(mid, None)
                for sub in group:
                    if not sub.future.done():
                        sub.future.set_exception(Overloaded(f"event storage failed: {exc}", retry_after=5))
                continue
            for sub, result in zip(group, results, strict=True):
                counts = self._tenants[sub.tenant_id]
                counts.accepted += result.accepted
                counts.deduplicated += result.duplicates
                counts.rejected += len(sub.dead_lines)
                if not sub.future.done():
                    sub.future.set_result(result)
            self._load_wakeup.set()
            if now - self._last_evict > 60:
                self._evict(now)

    def _dedupe(
        self, group: list[_Submission], now: float
    ) -> tuple[list[SubmitResult], list[tuple[str, str]], dict[str, tuple[list[bytes], list[bytes]]]]:
        results = []
        undo: list[tuple[str, str]] = []
        payloads: dict[str, tuple[list[bytes], list[bytes]]] = {}
        for sub in group:
            seen = self._tenants[sub.tenant_id].seen
            events, dead = payloads.setdefault(sub.tenant_id, ([], []))
            accepted = duplicates = 0
            for item in sub.items:
                if item.message_id in seen:
                    duplicates += 1
                    continue
                seen[item.message_id] = now
                undo.append((sub.tenant_id, item.message_id))
                events.append(item.line)
                accepted += 1
            dead.extend(self._within_quota(sub.tenant_id, sub.dead_lines))
            results.append(SubmitResult(accepted, duplicates))
        return results, undo, payloads

    def _within_quota(self, tenant_id: str, lines: list[bytes]) -> list[bytes]:
        """The dead letters the tenant still has room for; the rest are dropped, counted and warned about
        (at most every 10 minutes per tenant): junk must not fill the disk."""
        if not lines:
            return lines
        state = self._tenants[tenant_id]
        room = max(0, self.settings.ingest_dead_letter_quota - state.dead_letters)
        kept = lines[:room]
        state.dead_letters += len(kept)
        if len(kept) < len(lines):
            state.dead_dropped += len(lines) - len(kept)
            now = time.monotonic()
            if now - state.quota_warned_at > 600:
                state.quota_warned_at = now
                log.warning(
                    "tenant %s reached its dead-letter quota (%d): new dead letters are dropped "
                    "(%d so far); replay or let retention remove old ones, or raise "
                    "ECOMOPS_INGEST_DEAD_LETTER_QUOTA",
                    state.slug,
                    self.settings.ingest_dead_letter_quota,
                    state.dead_dropped,
                )
        return kept

    def _write_and_sync(self, payloads: dict[str, tuple[list[bytes], list[bytes]]]) -> None:
        """Append and sync the whole group, or leave every touched WAL as it was (the group is refused)."""
        touched = [self._tenants[t] for t, (events, dead) in payloads.items() if events or dead]
        for state in touched:
            state.wal.begin()
        try:
            for tenant_id, (events, dead) in payloads.items():
                wal = self._tenants[tenant_id].wal
                if events:
                    wal.append("events", b"".join(events))
                if dead:
                    wal.append("dead", b"".join(dead))
            if self.settings.ingest_fsync:
                for state in touched:
                    state.wal.sync()
        except BaseException:
            for state in touched:
                state.wal.rollback()
            raise
        for state in touched:
            state.wal.publish()
        acknowledged = time.monotonic()
        for tenant_id, (events, dead) in payloads.items():
            state = self._tenants[tenant_id]
            state.appended_bytes += sum(map(len, events)) + sum(map(len, dead))
            if state.appended_bytes > state.loaded_bytes:
                state.unloaded.append((state.appended_bytes, acknowledged))

    def _evict(self, now: float) -> None:
        self._last_evict = now
        horizon = now - self.window_seconds
        for state in self._tenants.values():
            forget_before(state.seen, horizon)

    # -- loader --------------------------------------------------------------------------------
    def _load_all(self) -> None:
        """Load every tenant's backlog, in fair passes until none is left (or a pass makes no progress,
        e.g. a warehouse that fails: it is retried on the next wake-up, not in a tight loop)."""
        while self._load_pass():
            pass

    def _load_pass(self) -> bool:
        """One turn for each tenant with a backlog, most behind first; True if a backlog is left and this
        pass loaded something. A tenant's turn ends after ``load_turn_bytes``."""
        now = time.monotonic()
        behind = [(t, s) for t, s in list(self._tenants.items()) if s.appended_bytes > s.loaded_bytes]
        behind.sort(key=lambda item: item[1].oldest_unloaded_at() or now)
        progressed = left = False
        for tenant_id, state in behind:
            with state.load_lock:
                if state.appended_bytes <= state.loaded_bytes:
                    continue
                try:
                    warehouse = self.warehouses.get(tenant_id)
                    loaded = load_pending(
                        state.wal,
                        warehouse,
                        state.currency,
                        pii_sink=self._sink(tenant_id),
                        budget=self.load_turn_bytes,
                    )
                    state.loaded(loaded)
                    self._recount_dead_letters(state, warehouse)
                except Exception:
                    log.exception("loading ingest WAL of tenant %s failed; will retry", tenant_id)
                    continue
                progressed = progressed or loaded > 0
                left = left or state.appended_bytes > state.loaded_bytes
        return progressed and left

    def _recount_dead_letters(self, state: _TenantState, warehouse: Warehouse) -> None:
        """Near the quota, count again (once a minute): retention and erasure delete dead letters."""
        now = time.monotonic()
        if (
            state.dead_letters < 0.9 * self.settings.ingest_dead_letter_quota
            or now - state.dead_counted_at < 60
        ):
            return
        state.dead_counted_at = now
        state.dead_letters = _count_dead_letters(warehouse)

    def _load_loop(self) -> None:
        took = 0.0
        while not self._stop_loader.is_set():
            self._load_wakeup.wait(self.flush_interval)
            self._load_wakeup.clear()
            # Let concurrent requests pile up a little so each DuckDB transaction carries more rows; a load
            # that took that long already let them pile up, and waiting more would only delay freshness.
            time.sleep(max(0.0, self.flush_interval - took))
            started = time.monotonic()
            self._load_all()
            took = time.monotonic() - started

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.recover)
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="ingest-writer")
        self._loader = threading.Thread(target=self._load_loop, name="ingest-loader", daemon=True)
        self._loader.start()
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
        self._stop_loader.set()
        self._load_wakeup.set()
        if self._loader is not None:
            self._loader.join(30)
        self._load_all()
        self._io.shutdown(wait=True)
        for state in self._tenants.values():
            state.wal.close()

    def flush(self) -> None:
        """Load everything durable now (tests and the dead-letter replay use it)."""
        self._load_all()

    def refused(self, tenant_id: str, events: int) -> None:
        """Count events refused with their whole batch (strict mode), which never reach the writer."""
        self._tenants[tenant_id].rejected += events

    def figures(self) -> IngestFigures:
        """What ``/metrics`` reports, read from the live state (any thread)."""
        now = time.monotonic()
        return IngestFigures(
            self._queued_events,
            self.max_queued,
            [state.figures(now) for state in list(self._tenants.values())],
            self.backlog_max_bytes,
            self.backlog_max_seconds,
            self.free_disk(),
            self.min_free_disk,
        )

    def seal_tenant(self, tenant_id: str) -> int:
        """Load and delete every WAL segment of a tenant; returns the bytes loaded.

        Erasure needs the raw lines gone from disk, not only loaded. This runs on the WAL I/O thread,
        the only one that appends, so nothing is appended meanwhile: ``segment_max_bytes = 0`` makes
        ``publish`` close every segment (each group commit is complete before the thread takes new
        work), and ``load_pending`` deletes every fully loaded segment no longer written. The next
        event opens a fresh segment. A tenant with no state since start-up has nothing left (recovery
        loaded it).
        """
        state = self._tenants.get(tenant_id)
        if state is None:
            return 0

        def drain() -> int:
            with state.load_lock:
                limit = state.wal.segment_max_bytes
                state.wal.segment_max_bytes = 0
                try:
                    state.wal.publish()
                finally:
                    state.wal.segment_max_bytes = limit
                loaded = load_pending(
                    state.wal, self.warehouses.get(tenant_id), state.currency, pii_sink=self._sink(tenant_id)
                )
                state.loaded(loaded)
                return loaded

        loaded: int = self._io.submit(drain).result()
        return loaded


def _count_dead_letters(warehouse: Warehouse) -> int:
    rows = warehouse.query("SELECT count(*) FROM ingest_dead_letters")
    return int(rows[0][0])


async def startup(state: AppState) -> None:
    engine = state.engine

    def tenant_of(tenant_id: str) -> TenantInfo:
        return tenants.get_tenant_by_id(engine, tenant_id)

    pipeline = IngestPipeline(state.settings, state.warehouses, tenant_of, vault_sink(engine))
    await pipeline.start()
    state.services["ingest"] = pipeline
    state.services["ingest_shedding"] = LoadShedder(state.settings)


async def shutdown(state: AppState) -> None:
    pipeline = state.services.pop("ingest", None)
    if pipeline is not None:
        await pipeline.stop()
