"""Tell the installed modules that a tenant's warehouse facts changed, inside the writer's transaction;
and ask them to load what they buffered before the warehouse (for erasure).

Writers (ingest, imports, the simulator, retention, erasure) publish what they changed; modules that
keep something derived from the facts (the analytics module's rollups) listen
(``Module.facts_listeners``). Listeners run synchronously on the writer's cursor, before its commit,
so readers see facts and everything derived from them change together, and a failing listener rolls
the write back instead of leaving stale aggregates behind. How long they took is reported to the
warehouse's observer (``Warehouse.on_facts``: the server's rollup refresh histogram), so the platform
measures the rollups without knowing the module that keeps them.
"""

from __future__ import annotations

import time

import duckdb

from ecomops.platform.context import TenantInfo
from ecomops.platform.modules import FactsChanged
from ecomops.platform.registry import registry
from ecomops.platform.warehouse.handle import writing
from ecomops.platform.web.state import AppState

__all__ = ["FactsChanged", "load_pending", "publish"]


def publish(cur: duckdb.DuckDBPyConnection, change: FactsChanged) -> None:
    started = time.perf_counter()
    for listener in registry().facts_listeners:
        listener(cur, change)
    warehouse = writing()
    if warehouse is not None and warehouse.on_facts is not None:
        warehouse.on_facts(change.kind, time.perf_counter() - started)


def load_pending(state: AppState, tenant: TenantInfo, *, delete_buffers: bool) -> int:
    """Load every module's acknowledged-but-buffered writes of ``tenant`` (and delete the buffers)."""
    return sum(loader(state, tenant, delete_buffers) for loader in registry().pending_loaders)
