"""Which tenants' warehouses this process owns (DuckDB: one writing process per file).

Embedded mode: all of them. Cluster mode (``ECOMOPS_INGEST_LOG``, docs/cluster.md): a loader owns a
shard of the tenants, ``shard_of(tenant id, shards)``, a stable hash every process computes alike; an
ingest process that loads no shard owns none, so its jobs (retention, alert evaluation) leave the
tenants to their owners instead of running on empty files of their own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ecomops.platform.settings import Settings


@dataclass(frozen=True)
class Shard:
    """The tenants one loader owns: those whose ``shard_of`` is ``index`` among ``count`` shards."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= index < count")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` (the ``ECOMOPS_INGEST_LOADER_SHARD`` form)."""
        index, sep, count = text.partition("/")
        if not sep or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"loader shard {text!r} is not of the form i/n (e.g. 0/2)")
        return cls(int(index), int(count))

    def owns(self, tenant_id: str) -> bool:
        return shard_of(tenant_id, self.count) == self.index


def shard_of(tenant_id: str, shards: int) -> int:
    """The shard a tenant belongs to: the first 8 bytes of SHA-256 of its id, modulo ``shards``.

    SHA-256 rather than Python's ``hash`` (salted per process) so every process, on every host and
    version, agrees."""
    digest = hashlib.sha256(tenant_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def owns_warehouse(settings: Settings, tenant_id: str) -> bool:
    """Does this process (``ecomops serve`` with these settings) own the tenant's warehouse?"""
    if not settings.ingest_log:
        return True
    if not settings.ingest_loader_shard:
        return False
    return Shard.parse(settings.ingest_loader_shard).owns(tenant_id)
