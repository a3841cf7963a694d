"""The server's privacy duties: hourly retention for every tenant with a policy, crash clean-up of
privacy requests, rewriting erased tenants' warehouse files at start-up, and sealing a tenant's
ingest WAL before an erasure.

Retention rewrites warehouse files, which only the server may write while it runs, so the schedule
lives here (an asyncio task started from ``app.LIFECYCLE``) and not in cron. Each tenant's run goes
to a worker thread: DuckDB statements would otherwise block the event loop serving requests.
``state.services[SERVICE]`` is the schedule (``kernel.periodic.Periodic``): its ``tick()`` starts a pass
at once and ``wait_for_passes`` waits for one, which is how tests drive it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime
from typing import Any

from ecomops.audit.context import AuditContext, acting_as
from ecomops.kernel.periodic import Periodic
from ecomops.privacy import compaction, retention
from ecomops.privacy import requests as privacy_requests
from ecomops.tenancy import service as tenancy
from ecomops.web.state import AppState

log = logging.getLogger(__name__)
SERVICE = "privacy_retention"
ACTOR = "system:retention"
#: Held while a pass runs, so shutdown waits for it before the warehouses are closed.
_PASS_LOCK = threading.Lock()


def run_all(state: AppState, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """One retention pass over every tenant with a policy (as of ``now``, default the current time); a
    failing tenant does not stop the others."""
    results: dict[str, dict[str, Any]] = {}
    with _PASS_LOCK, acting_as(AuditContext(ACTOR)):
        for tenant_id in retention.tenants_with_policies(state.engine):
            try:
                tenant = tenancy.get_tenant_by_id(state.engine, tenant_id)
                results[tenant_id] = retention.run_retention(
                    state.engine, state.settings, state.warehouses.get(tenant_id), tenant, now
                )
            except Exception:
                log.exception("retention run for tenant %s failed; will retry next interval", tenant_id)
    return results


def server_wal_sealer(state: AppState, tenant_id: str) -> privacy_requests.WalSealer:
    """A sealer for ``requests.run_request``: the ingest pipeline loads and deletes the tenant's WAL."""

    def seal() -> int:
        pipeline = state.services.get("ingest")
        return 0 if pipeline is None else int(pipeline.seal_tenant(tenant_id))

    return seal


async def startup(state: AppState) -> None:
    # First in LIFECYCLE: no warehouse file is open yet, so erased tenants' files can be rewritten.
    compacted = await asyncio.to_thread(compaction.compact_pending, state.settings.warehouse_dir())
    for tenant_id, (before, after) in compacted.items():
        log.warning(
            "rewrote the warehouse of tenant %s after an erasure (%d -> %d bytes)", tenant_id, before, after
        )
    local = sorted(p.stem for p in state.settings.warehouse_dir().glob("*.duckdb"))
    failed = await asyncio.to_thread(privacy_requests.fail_interrupted, state.engine, local)
    if failed:
        log.warning("marked %d privacy request(s) interrupted by the last stop as failed", failed)
    interval = float(state.settings.retention_interval_seconds)
    schedule = Periodic("privacy-retention", interval, lambda now: run_all(state, now))
    schedule.start()
    state.services[SERVICE] = schedule


async def shutdown(state: AppState) -> None:
    schedule: Periodic | None = state.services.pop(SERVICE, None)
    if schedule is not None:
        await schedule.stop()

        def wait_for_pass() -> None:
            with _PASS_LOCK:
                pass

        await asyncio.to_thread(wait_for_pass)
