"""Cluster mode's shared event log: what ingest processes append to and loaders read from.

The embedded mode's WAL lives in one process's data dir; in cluster mode any number of stateless
ingest processes append each validated group commit to a per-tenant log in an existing stream engine,
and the loader that owns the tenant moves it into the tenant's warehouse. ``EventLog`` is what both
sides need from the engine, small enough for one class per engine (Redis Streams here; a NATS
JetStream subject or a Kafka partition per tenant fit the same shape: entry ids are opaque strings
the engine orders).

Which loader owns a tenant is ``platform.warehouse.ownership.shard_of(tenant id, shards)``: a stable hash,
so every process agrees without talking to the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

#: Where a tenant's log is read from when its warehouse has recorded nothing yet.
LOG_START = "0"


@dataclass(frozen=True)
class LogEntry:
    """One group commit of one tenant: NDJSON event lines and dead-letter lines (either may be empty)."""

    entry_id: str
    events: bytes
    dead: bytes


@dataclass(frozen=True)
class LogBacklog:
    """What a tenant's log holds that its loader has not loaded (and trimmed) yet."""

    tenant_id: str
    entries: int
    #: Seconds since the oldest entry still in the log was appended; 0 when empty.
    oldest_age_seconds: float


class EventLog(Protocol):
    """A durable, per-tenant, ordered log shared by every ingest and loader process."""

    def append(self, batches: Mapping[str, tuple[bytes, bytes]]) -> None:
        """Append one entry per tenant (``tenant id -> (event lines, dead-letter lines)``); returns only
        once every entry is durable, so an acknowledgement may follow. Raises if any may not be."""
        ...

    def tenants(self) -> list[str]:
        """Every tenant that has ever appended (loaders pick theirs from this)."""
        ...

    def read(self, after: Mapping[str, str], count: int, block_ms: int) -> dict[str, list[LogEntry]]:
        """Up to ``count`` entries per tenant after the given entry ids, oldest first; waits up to
        ``block_ms`` for the first when there is none."""
        ...

    def trim(self, tenant_id: str, through: str) -> None:
        """Forget the tenant's entries up to and including ``through`` (loaded and committed)."""
        ...

    def backlog(self, tenant_id: str) -> LogBacklog: ...

    def close(self) -> None: ...
