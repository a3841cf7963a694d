"""The server's privacy duties: hourly retention for every tenant with a policy (the
``privacy.retention`` job), crash clean-up of privacy requests, rewriting erased tenants' warehouse
files at start-up.

Retention rewrites warehouse files, which only the server may write while it runs, so it is a job of
the server's scheduler (in a worker thread) and not cron.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from ecomops.platform.context import TenantInfo
from ecomops.platform.web.state import AppState
from ecomops.privacy import compaction, retention
from ecomops.privacy import requests as privacy_requests

log = logging.getLogger(__name__)
ACTOR = "system:retention"


def retention_for_tenant(state: AppState, tenant: TenantInfo, now: datetime | None) -> dict[str, Any]:
    """The scheduled retention job's work for one tenant with a policy (``now`` None = current time)."""
    return retention.run_retention(state.engine, state.settings, state.warehouses.get(tenant.id), tenant, now)


async def startup(state: AppState) -> None:
    # First to start (Module.order): no warehouse file is open yet, so erased tenants' files can be rewritten.
    compacted = await asyncio.to_thread(compaction.compact_pending, state.settings.warehouse_dir())
    for tenant_id, (before, after) in compacted.items():
        log.warning(
            "rewrote the warehouse of tenant %s after an erasure (%d -> %d bytes)", tenant_id, before, after
        )
    local = sorted(p.stem for p in state.settings.warehouse_dir().glob("*.duckdb"))
    failed = await asyncio.to_thread(privacy_requests.fail_interrupted, state.engine, local)
    if failed:
        log.warning("marked %d privacy request(s) interrupted by the last stop as failed", failed)
