"""Cluster mode's loader: move a shard of tenants' log entries into their warehouses, exactly once.

A loader owns its tenants' warehouses (DuckDB: one writing process per file). For each tenant it
keeps the embedded writer's dedupe window (messageIds stored in the last
``ECOMOPS_INGEST_DEDUPE_WINDOW_HOURS``, primed from the warehouse at start), because with several
ingest processes only the owner of a tenant sees all of its events. A load is the embedded loader's
(``loader.load_events``, ``store_pii``, ``load_dead_letters``) plus the id of the last log entry it
holds, in one DuckDB transaction: after a crash the loader resumes right after what was committed.
The log is trimmed only through committed entries.

Where a load fails, the entries are loaded one by one and then line by line, and a line that still
fails becomes a dead letter ("accepted but could not be loaded"), as in the embedded loader: one bad
line never stalls a tenant. Reloading lines of a half-quarantined entry after a crash is harmless
(events are deduplicated, dead letters keep their ids).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ecomops.ingest.eventlog import LOG_START, EventLog, LogEntry
from ecomops.ingest.loader import (
    DEAD_SCHEMA,
    EVENT_SCHEMA,
    forget_before,
    load_dead_letters,
    load_events,
    parse_lines,
    recent_message_ids,
    store_pii,
)
from ecomops.ingest.sealed import PiiSink, UnloadableLine
from ecomops.kernel.ids import new_id
from ecomops.platform.context import TenantInfo
from ecomops.platform.settings import Settings
from ecomops.platform.warehouse.connection import Warehouse
from ecomops.platform.web.state import Warehouses

log = logging.getLogger(__name__)
#: Log entries (group commits) read per tenant per load: bounds one DuckDB transaction.
ENTRIES_PER_LOAD = 200
#: The row of ``_ingest_stream_offsets`` that holds the tenant's event stream position.
STREAM = "events"
_TENANTS_REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class LoaderFigures:
    loaded: int
    deduplicated: int
    dead_letters_dropped: int


@dataclass
class _Tenant:
    tenant_id: str
    slug: str
    currency: str
    #: The last entry id committed in the warehouse (``LOG_START`` before the first).
    position: str
    #: messageId → load time, oldest first (eviction pops from the front).
    seen: dict[str, float]
    dead_letters: int
    dead_counted_at: float
    loaded: int = 0
    deduplicated: int = 0
    dead_dropped: int = 0
    quota_warned_at: float = -math.inf


class StreamLoader:
    def __init__(
        self,
        settings: Settings,
        event_log: EventLog,
        warehouses: Warehouses,
        tenant_of: Callable[[str], TenantInfo],
        pii_sink: Callable[[str], PiiSink],
        owns: Callable[[str], bool],
    ) -> None:
        self.settings = settings
        self.log = event_log
        self.warehouses = warehouses
        self.tenant_of = tenant_of
        self.pii_sink = pii_sink
        self.owns = owns
        self.window_seconds = settings.ingest_dedupe_window_hours * 3600
        self.block_ms = max(1, settings.ingest_flush_interval_ms)
        self._tenants: dict[str, _Tenant] = {}
        #: Reads and loads one at a time: the loop, ``load_available`` and ``drain`` share positions.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refreshed_at = -math.inf
        self._evicted_at = time.monotonic()

    # -- tenants -----------------------------------------------------------------------------
    def _refresh_tenants(self) -> None:
        now = time.monotonic()
        if now - self._refreshed_at < _TENANTS_REFRESH_SECONDS:
            return
        self._refreshed_at = now
        for tenant_id in self.log.tenants():
            if tenant_id not in self._tenants and self.owns(tenant_id):
                try:
                    self._tenants[tenant_id] = self._open(tenant_id)
                except Exception:
                    # One tenant that cannot be opened (deleted, warehouse unreadable) must not keep the
                    # others from loading; it is tried again at the next refresh.
                    log.exception("cannot open tenant %s to load it from the ingest log", tenant_id)
                    continue
                log.info("loading tenant %s from the ingest log", tenant_id)

    def _open(self, tenant_id: str) -> _Tenant:
        """Where the warehouse stands: its last committed entry, its dedupe window, its dead letters."""
        info = self.tenant_of(tenant_id)
        warehouse = self.warehouses.get(tenant_id)
        rows = warehouse.query("SELECT entry_id FROM _ingest_stream_offsets WHERE stream = ?", [STREAM])
        position = str(rows[0][0]) if rows else LOG_START
        dead = warehouse.query("SELECT count(*) FROM ingest_dead_letters")
        return _Tenant(
            tenant_id,
            info.slug,
            info.currency,
            position,
            recent_message_ids(warehouse, self.window_seconds),
            int(dead[0][0]),
            time.monotonic(),
        )

    # -- loading -------------------------------------------------------------------------------
    def _load_once(self, block_ms: int, only: str | None = None) -> int:
        """Read what follows each owned tenant's position and load it; returns entries loaded."""
        with self._lock:
            self._refresh_tenants()
            tenants = [t for t in self._tenants.values() if only is None or t.tenant_id == only]
            if not tenants:
                return 0
            read = self.log.read({t.tenant_id: t.position for t in tenants}, ENTRIES_PER_LOAD, block_ms)
            loaded = 0
            for tenant_id, entries in read.items():
                if entries:
                    self._load(self._tenants[tenant_id], entries)
                    loaded += len(entries)
            self._evict()
            return loaded

    def _load(self, tenant: _Tenant, entries: list[LogEntry]) -> None:
        last = entries[-1].entry_id
        try:
            self._commit(tenant, b"".join(e.events for e in entries), b"".join(e.dead for e in entries), last)
        except (duckdb.Error, UnloadableLine):
            log.exception(
                "loading %d log entries of tenant %s failed; loading them one by one",
                len(entries),
                tenant.slug,
            )
            for entry in entries:
                try:
                    self._commit(tenant, entry.events, entry.dead, entry.entry_id)
                except (duckdb.Error, UnloadableLine):
                    self._quarantine(tenant, entry)
        tenant.position = last
        self.log.trim(tenant.tenant_id, last)

    def _commit(self, tenant: _Tenant, event_lines: bytes, dead_lines: bytes, entry_id: str | None) -> None:
        """One transaction: the new events (duplicates dropped), the dead letters within the quota and,
        unless ``entry_id`` is None, the log position."""
        events = parse_lines(event_lines, EVENT_SCHEMA) if event_lines else None
        fresh: list[str] = []
        duplicates = 0
        if events is not None:
            keep, fresh = self._fresh(tenant, events)
            duplicates = events.num_rows - len(fresh)
            events = events.filter(keep)
        dead = parse_lines(dead_lines, DEAD_SCHEMA) if dead_lines else None
        dropped = 0
        if dead is not None:
            dropped = max(
                0, dead.num_rows - max(0, self.settings.ingest_dead_letter_quota - tenant.dead_letters)
            )
            dead = dead.slice(0, dead.num_rows - dropped)
        if events is not None and events.num_rows:
            store_pii(events, self.pii_sink(tenant.tenant_id))
        with self.warehouses.get(tenant.tenant_id).write() as cur:
            if events is not None and events.num_rows:
                load_events(cur, events, tenant.currency)
            if dead is not None and dead.num_rows:
                load_dead_letters(cur, dead)
            if entry_id is not None:
                cur.execute(
                    "INSERT OR REPLACE INTO _ingest_stream_offsets (stream, entry_id) VALUES (?, ?)",
                    [STREAM, entry_id],
                )
        now = time.time()
        for message_id in fresh:
            tenant.seen[message_id] = now
        tenant.loaded += len(fresh)
        tenant.deduplicated += duplicates
        tenant.dead_letters += dead.num_rows if dead is not None else 0
        if dropped:
            self._dropped_over_quota(tenant, dropped)
        self._recount_dead_letters(tenant)

    def _fresh(self, tenant: _Tenant, events: pa.Table) -> tuple[pa.Array, list[str]]:
        """Which rows to load: messageIds neither stored in the window nor earlier in this load."""
        seen = tenant.seen
        keep: list[bool] = []
        fresh: list[str] = []
        taken: set[str] = set()
        for message_id in events.column("message_id").to_pylist():
            new = message_id not in seen and message_id not in taken
            keep.append(new)
            if new:
                taken.add(message_id)
                fresh.append(message_id)
        return pa.array(keep, pa.bool_()), fresh

    def _dropped_over_quota(self, tenant: _Tenant, dropped: int) -> None:
        """Dead letters beyond the tenant's quota are dropped (junk must not fill the disk), counted and
        warned about at most every 10 minutes."""
        tenant.dead_dropped += dropped
        now = time.monotonic()
        if now - tenant.quota_warned_at > 600:
            tenant.quota_warned_at = now
            log.warning(
                "tenant %s reached its dead-letter quota (%d): new dead letters are dropped (%d so far)",
                tenant.slug,
                self.settings.ingest_dead_letter_quota,
                tenant.dead_dropped,
            )

    def _recount_dead_letters(self, tenant: _Tenant) -> None:
        """Near the quota, count again (once a minute): retention and erasure delete dead letters."""
        now = time.monotonic()
        if (
            tenant.dead_letters < 0.9 * self.settings.ingest_dead_letter_quota
            or now - tenant.dead_counted_at < 60
        ):
            return
        tenant.dead_counted_at = now
        rows = self.warehouses.get(tenant.tenant_id).query("SELECT count(*) FROM ingest_dead_letters")
        tenant.dead_letters = int(rows[0][0])

    def _quarantine(self, tenant: _Tenant, entry: LogEntry) -> None:
        """Load an entry line by line; each line that still fails is kept as a dead letter, then the
        entry's position is recorded."""
        warehouse: Warehouse = self.warehouses.get(tenant.tenant_id)
        for line in entry.events.splitlines(keepends=True):
            try:
                self._commit(tenant, line, b"", None)
            except (duckdb.Error, UnloadableLine) as exc:
                log.error(
                    "quarantining an event line of tenant %s (log entry %s): %s",
                    tenant.slug,
                    entry.entry_id,
                    exc,
                )
                with warehouse.write() as cur:
                    cur.execute(
                        "INSERT OR IGNORE INTO ingest_dead_letters "
                        "(dead_letter_id, received_at, source_id, batch_index, reason, payload) "
                        "VALUES (?, now(), NULL, NULL, ?, ?)",
                        [
                            new_id("dl_"),
                            f"accepted but could not be loaded: {exc}",
                            line.decode("utf-8", "replace"),
                        ],
                    )
        for line in entry.dead.splitlines(keepends=True):
            try:
                self._commit(tenant, b"", line, None)
            except (duckdb.Error, UnloadableLine):
                log.exception("dropping a dead-letter line of tenant %s that cannot be loaded", tenant.slug)
        with warehouse.write() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO _ingest_stream_offsets (stream, entry_id) VALUES (?, ?)",
                [STREAM, entry.entry_id],
            )

    def _evict(self) -> None:
        now = time.monotonic()
        if now - self._evicted_at < 60:
            return
        self._evicted_at = now
        horizon = time.time() - self.window_seconds
        for tenant in self._tenants.values():
            forget_before(tenant.seen, horizon)

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Load until ``stop``: block on the log for new entries, load them, repeat."""
        while not self._stop.is_set():
            try:
                self._load_once(self.block_ms)
                if not self._tenants:
                    self._stop.wait(self.block_ms / 1000)
            except Exception:
                log.exception("loading from the ingest log failed; will retry")
                self._stop.wait(1)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="ingest-stream-loader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)

    def load_available(self) -> int:
        """Load everything the log holds for the owned tenants now; returns entries loaded."""
        self._refreshed_at = -math.inf
        total = 0
        while loaded := self._load_once(0):
            total += loaded
        return total

    def drain(self, tenant_id: str) -> int:
        """Load and trim everything the log holds for one owned tenant; returns entries loaded."""
        self._refreshed_at = -math.inf
        total = 0
        while loaded := self._load_once(0, only=tenant_id):
            total += loaded
        return total

    def figures(self) -> dict[str, LoaderFigures]:
        """Per tenant id: events loaded, duplicates and over-quota dead letters dropped since start."""
        return {
            t.tenant_id: LoaderFigures(t.loaded, t.deduplicated, t.dead_dropped)
            for t in list(self._tenants.values())
        }
