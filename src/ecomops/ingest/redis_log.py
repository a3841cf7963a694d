"""The cluster-mode event log on Redis Streams: one stream per tenant, one entry per group commit.

Durability: Redis answers a write only after its event loop has written the AOF, and with
``appendfsync always`` it fsyncs the AOF before it sends the replies of that loop turn, so the reply
to our ``XADD`` means "on the log's disk". With ``everysec`` (Redis' default) up to a second of
acknowledged entries could be lost with the Redis host, so ``open`` refuses such a server unless
``ingest_log_require_fsync`` is off. ``WAITAOF`` (Redis ≥ 7.2) would let a replica's fsync count as
well; the Redis here is 7.0, so the check is on the configuration.

A tenant's stream is trimmed (``XTRIM MINID``) only through the entry its loader has committed in
the warehouse, so ``XLEN`` is the loader's backlog.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import redis

from ecomops.ingest.eventlog import LogBacklog, LogEntry

#: Socket timeout of every call; reads block for less than this.
SOCKET_TIMEOUT_SECONDS = 10.0


class LogNotDurable(RuntimeError):
    """The Redis server would acknowledge writes it has not fsynced."""


class RedisStreamLog:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.tenants_key = f"{prefix}ingest:tenants"

    def stream_key(self, tenant_id: str) -> str:
        return f"{self.prefix}ingest:events:{tenant_id}"

    @classmethod
    def open(cls, url: str, prefix: str, require_fsync: bool) -> RedisStreamLog:
        client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS
        )
        if require_fsync:
            check_fsync(client)
        return cls(client, prefix)

    def append(self, batches: Mapping[str, tuple[bytes, bytes]]) -> None:
        # One round trip: Redis runs the commands in one event-loop turn, so the group costs one fsync.
        pipe = self.client.pipeline(transaction=False)
        for tenant_id, (events, dead) in batches.items():
            if not events and not dead:
                continue
            pipe.sadd(self.tenants_key, tenant_id)
            pipe.xadd(self.stream_key(tenant_id), {"e": events, "d": dead})
        pipe.execute()

    def tenants(self) -> list[str]:
        members: Any = self.client.smembers(self.tenants_key)
        return sorted(m.decode() for m in members)

    def read(self, after: Mapping[str, str], count: int, block_ms: int) -> dict[str, list[LogEntry]]:
        if not after:
            return {}
        streams: dict[Any, Any] = {self.stream_key(t): pos for t, pos in after.items()}
        tenant_of = {self.stream_key(t): t for t in after}
        reply: Any = self.client.xread(streams, count=count, block=block_ms if block_ms > 0 else None)
        out: dict[str, list[LogEntry]] = {}
        for key, entries in reply or []:
            out[tenant_of[key.decode()]] = [
                LogEntry(entry_id.decode(), fields.get(b"e", b""), fields.get(b"d", b""))
                for entry_id, fields in entries
            ]
        return out

    def trim(self, tenant_id: str, through: str) -> None:
        self.client.xtrim(self.stream_key(tenant_id), minid=_next_id(through), approximate=False)

    def backlog(self, tenant_id: str) -> LogBacklog:
        key = self.stream_key(tenant_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(key)
        pipe.xrange(key, count=1)
        length, first = pipe.execute()
        age = 0.0
        if first:
            appended_ms = int(first[0][0].split(b"-")[0])
            age = max(0.0, time.time() - appended_ms / 1000)
        return LogBacklog(tenant_id, int(length), age)

    def close(self) -> None:
        self.client.close()


def check_fsync(client: redis.Redis) -> None:
    """Raise ``LogNotDurable`` unless the server fsyncs its AOF before acknowledging a write."""
    try:
        appendonly = client.config_get("appendonly").get("appendonly")
        appendfsync = client.config_get("appendfsync").get("appendfsync")
    except redis.ResponseError as exc:
        raise LogNotDurable(
            f"cannot read the Redis configuration ({exc}); if writes are made durable another way, set "
            "ECOMOPS_INGEST_LOG_REQUIRE_FSYNC=false"
        ) from exc
    if appendonly != "yes" or appendfsync != "always":
        raise LogNotDurable(
            f"Redis has appendonly={appendonly} appendfsync={appendfsync}: an acknowledged event could be "
            "lost with the Redis host. Set `appendonly yes` and `appendfsync always` (docs/cluster.md), or "
            "ECOMOPS_INGEST_LOG_REQUIRE_FSYNC=false where durability is ensured another way"
        )


def _next_id(entry_id: str) -> str:
    """The smallest stream id after ``entry_id`` (``XTRIM MINID`` keeps ids ≥ its argument)."""
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"
